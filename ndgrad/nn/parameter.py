"""Parameter: a Tensor that a Module registers as learnable (requires_grad=True by default)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.tensor import Tensor, as_array


class Parameter(Tensor):
    """A leaf Tensor that, assigned as a Module attribute, joins ``module.parameters()``.

    It shares memory with ``data``: ``Parameter(t)`` sees later in-place changes of ``t``."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.empty(0, dtype=_dtype.default_float())
        elif isinstance(data, Tensor):
            arr = data._data.view()  # shared memory, its own array object (as detach)
            if data._vc is None:
                data._vc = [0]
            self._vc = data._vc  # in-place changes through either name bump one version
        else:
            arr = as_array(data)
        self._data = arr
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(Tensor._make(self._data.copy()), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Parameter, (Tensor._make(self._data), self._requires_grad))


class Buffer(Tensor):
    """Marks a Tensor as a buffer when assigned to a Module (``self.x = nn.Buffer(t)``)."""

    def __init__(self, data: Any, *, persistent: bool = True) -> None:
        self._data = data._data.view() if isinstance(data, Tensor) else as_array(data)
        self.persistent = persistent
