"""ndgrad.nn: modules, layers, losses, init and functional, as in torch.nn."""

from ndgrad.nn import functional  # noqa: F401
