"""ndgrad.nn: modules, layers, losses, init and functional, as in torch.nn."""

from ndgrad.nn import attention, functional, grad, init, parallel, utils  # noqa: F401
from ndgrad.nn.module import Module
from ndgrad.nn.modules import *  # noqa: F403
from ndgrad.nn.modules import __all__ as _modules_all
from ndgrad.nn.parallel import DataParallel
from ndgrad.nn.parameter import Buffer, Parameter

__all__ = ["Parameter", "Buffer", "DataParallel", "attention", "functional", "init",
           "parallel", "utils", "grad", *_modules_all]
