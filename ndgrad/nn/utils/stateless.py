"""torch.nn.utils.stateless: ``functional_call``, which moved to ndgrad.func (as in torch)."""

from __future__ import annotations

import warnings
from typing import Any


def functional_call(module: Any, parameters_and_buffers: Any, args: Any = None,
                    kwargs: Any = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """Deprecated alias of ``ndgrad.func.functional_call``."""
    from ndgrad.func import functional_call as call
    warnings.warn("ndgrad.nn.utils.stateless.functional_call is deprecated (as in torch); use "
                  "ndgrad.func.functional_call instead", FutureWarning, stacklevel=2)
    return call(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights,
                strict=strict)
