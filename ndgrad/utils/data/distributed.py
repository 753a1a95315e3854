"""DistributedSampler: each process of a data-parallel job reads its own share of a dataset.

The index assignment is torch's: one epoch's order (a permutation seeded by ``seed + epoch``, or
0..n-1), padded by repeating its head (or cut, with ``drop_last``) to a multiple of the number
of replicas, then dealt out round robin: replica r gets positions r, r + R, r + 2R, ...
The permutation comes from NumPy's PCG64 (as ``ndgrad.Generator().manual_seed(seed + epoch)``),
not torch's generator, so a shuffled order differs from torch's; given the same order, every
replica gets exactly the indices torch would give it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from ndgrad.utils.data.sampler import Sampler


class DistributedSampler(Sampler[int]):
    """Restricts data loading to this replica's share; call ``set_epoch(epoch)`` before each
    epoch so that shuffling differs between epochs (and agrees across replicas)."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from ndgrad import distributed as dist  # only a sampler without both asks MPI

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # the largest share every replica can have without repeating an index
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _index_array(self) -> np.ndarray:
        """This replica's indices for the current epoch, as one int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if not self.drop_last:  # pad with the head, repeated as often as needed
            padding = self.total_size - n
            if padding > 0:
                indices = np.concatenate([indices, np.resize(indices, padding)])
        else:
            indices = indices[:self.total_size]
        return indices[self.rank:self.total_size:self.num_replicas].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the shuffle's seed, so each epoch has its own order."""
        self.epoch = epoch
