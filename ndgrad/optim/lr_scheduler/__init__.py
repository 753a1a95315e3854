"""Learning-rate schedulers, as torch.optim.lr_scheduler: each ``step()`` sets ``group['lr']``
for every param group of the optimizer.

Most schedulers are written, like PyTorch's, as a recurrence on the current lr (``get_lr``),
with a closed form (``_get_closed_form_lr``) for the deprecated ``step(epoch)``; keeping the
same recurrences keeps the same floating point lr sequences as PyTorch.

The package is split as the schedules are: ``base`` (LRScheduler), ``decay`` (rules on the
epoch), ``cyclic`` (cosine, cyclical and 1cycle curves), ``composed`` (schedulers of schedulers) and
``plateau`` (ReduceLROnPlateau); every class is importable from here, as from torch's module.
"""

from ndgrad.optim.lr_scheduler.base import EPOCH_DEPRECATION_WARNING, LRScheduler, _LRScheduler
from ndgrad.optim.lr_scheduler.composed import ChainedScheduler, SequentialLR
from ndgrad.optim.lr_scheduler.cyclic import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    OneCycleLR,
)
from ndgrad.optim.lr_scheduler.decay import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from ndgrad.optim.lr_scheduler.plateau import ReduceLROnPlateau

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "SequentialLR", "PolynomialLR", "CosineAnnealingLR",
           "ChainedScheduler", "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts",
           "OneCycleLR"]
