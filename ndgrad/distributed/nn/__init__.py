"""ndgrad.distributed.nn: collectives that autograd differentiates (torch.distributed.nn)."""

from ndgrad.distributed.nn import functional

__all__ = ["functional"]
