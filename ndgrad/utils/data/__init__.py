"""Datasets, samplers and DataLoader with torch.utils.data's names and behaviour."""

from ndgrad.utils.data.dataloader import DataLoader, default_collate, default_convert
from ndgrad.utils.data.dataset import (
                                       ConcatDataset,
                                       Dataset,
                                       IterableDataset,
                                       Subset,
                                       TensorDataset,
                                       random_split,
)
from ndgrad.utils.data.distributed import DistributedSampler
from ndgrad.utils.data.sampler import (
                                       BatchSampler,
                                       RandomSampler,
                                       Sampler,
                                       SequentialSampler,
                                       SubsetRandomSampler,
                                       WeightedRandomSampler,
)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
           "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
           "default_convert", "random_split"]
