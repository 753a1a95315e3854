"""ndgrad.utils: as torch.utils, the home of ``data`` (Dataset, DataLoader)."""

from ndgrad.utils import data

__all__ = ["data"]
