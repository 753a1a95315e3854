"""Random in-place fills: ``uniform_``, ``normal_``, ``bernoulli_``, drawn from ndgrad's default
generator (``ndgrad.manual_seed`` seeds it). They are not recorded in the graph."""

from __future__ import annotations

from typing import Any

from ndgrad import random
from ndgrad.tensor.base import TensorBase, _float


class RandomMixin(TensorBase):
    """In-place random fills."""

    def uniform_(self, a: _float = 0.0, b: _float = 1.0) -> Any:
        self._data[...] = random.default_generator().uniform(a, b, self._data.shape)
        self._bump_version()
        return self

    def normal_(self, mean: _float = 0.0, std: _float = 1.0) -> Any:
        self._data[...] = random.default_generator().normal(mean, std, self._data.shape)
        self._bump_version()
        return self

    def bernoulli_(self, p: _float = 0.5) -> Any:
        self._data[...] = random.default_generator().random(self._data.shape) < p
        self._bump_version()
        return self
