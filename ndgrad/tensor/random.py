"""Random methods: the in-place fills ``uniform_``, ``normal_``, ``bernoulli_`` and sampling
(``multinomial``), drawn from ndgrad's default generator (``ndgrad.manual_seed`` seeds it).
They are not recorded in the graph."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import random
from ndgrad.tensor.base import TensorBase, _bool, _float, _int


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

    def multinomial(self, num_samples: _int, replacement: _bool = False, *,
                    generator: Any = None) -> Any:
        """Category indices drawn from each row of self (1-D or 2-D, non-negative weights that
        need not sum to 1), as int64 of shape (num_samples,) or (rows, num_samples).

        With replacement, each draw inverts its row's cumulative distribution at a uniform
        number. Without, it is the exponential race torch uses: every category draws
        ``w / Exp(1)`` and the ``num_samples`` largest win, which picks them one after another in
        proportion to their weights; zero-weight categories come last, once the others are
        used up."""
        if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
            raise TypeError(f"multinomial(): argument 'num_samples' (position 2) must be int, "
                            f"not {type(num_samples).__name__}")
        p = self._data
        if p.dtype.kind != "f":
            raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                               f"{self.type().removeprefix('ndgrad.').removesuffix('Tensor')}")
        if p.ndim not in (1, 2):
            raise RuntimeError("prob_dist must be 1 or 2 dim")
        n = int(num_samples)
        if n <= 0:
            raise RuntimeError("cannot sample n_sample <= 0 samples")
        if not replacement and n > p.shape[-1]:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        if p.shape[-1] > 2**24:
            raise RuntimeError("number of categories cannot exceed 2^24")
        rows = p.reshape(len(p) if p.ndim == 2 else 1, p.shape[-1]).astype(np.float64)  # (R, K)
        if not np.isfinite(rows).all() or (rows < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (rows.sum(axis=1) <= 0).any() or (rows.shape[1] == 0 and len(rows)):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        rng = generator if generator is not None else random.default_generator()
        r, k = rows.shape
        if replacement:
            cdf = np.cumsum(rows, axis=1)
            cdf /= cdf[:, -1:]  # ends at exactly 1, so a uniform draw in [0, 1) always lands
            # one searchsorted for all rows: row i's cdf and draws shifted into [i, i + 1]
            shift = np.arange(r, dtype=np.float64)[:, None]
            # side="right": the first category whose cdf exceeds u; zero weights never do
            flat = np.searchsorted((cdf + shift).ravel(), (rng.random((r, n)) + shift).ravel(),
                                   side="right")
            out = np.minimum(flat.reshape(r, n) - k * np.arange(r)[:, None], k - 1)
        else:
            keys = rows / rng.standard_exponential(rows.shape)  # (R, K)
            out = np.argsort(-keys, axis=1, kind="stable")[:, :n]
        return self._make(out.astype(np.int64).reshape(*p.shape[:-1], n))
