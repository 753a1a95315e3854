"""ndgrad.mini: a tensor engine of about 500 lines, between the scalar Value and ndgrad itself.

``engine.py`` is the Tensor and its backward walk; ``functional.py`` the losses, convolution
and pooling, built from it; ``nn.py`` modules and optimizers. docs/03-tensor-engine.md starts
the tour. Use it to read, not to train big models: ndgrad is the same design, made fast.
"""

from ndgrad.mini import functional
from ndgrad.mini.engine import Context, Function, Tensor, as_tensor, sum_to
from ndgrad.mini.nn import (
                            SGD,
                            Adam,
                            Conv2d,
                            Dropout,
                            Flatten,
                            Linear,
                            MaxPool2d,
                            Module,
                            Parameter,
                            ReLU,
                            Sequential,
                            manual_seed,
)

__all__ = ["SGD", "Adam", "Context", "Conv2d", "Dropout", "Flatten", "Function", "Linear",
           "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Tensor", "as_tensor",
           "functional", "manual_seed", "sum_to"]
