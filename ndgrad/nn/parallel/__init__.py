"""ndgrad.nn.parallel: DistributedDataParallel and DataParallel, as in torch.nn.parallel."""

from ndgrad.nn.parallel.data_parallel import DataParallel, data_parallel
from ndgrad.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
