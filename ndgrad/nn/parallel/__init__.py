"""ndgrad.nn.parallel: DistributedDataParallel, as in torch.nn.parallel."""

from ndgrad.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
