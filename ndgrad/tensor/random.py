"""Random methods: the in-place fills (``uniform_``, ``normal_``, ``bernoulli_``,
``exponential_``, ``geometric_``, ``cauchy_``, ``log_normal_``, ``random_``) and sampling
(``bernoulli``, ``multinomial``), drawn from ``generator=`` or ndgrad's default generator
(``ndgrad.manual_seed`` seeds it).

A fill is an in-place op whose new value does not depend on the old one: on a leaf that
requires grad it raises unless grad mode is off (``nn.init`` fills under no_grad), and a
tensor in a graph stays in it with a zero gradient to its old value, as torch's fills do."""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import random
from ndgrad.ops.random import Sample
from ndgrad.tensor.base import TensorBase, _bool, _float, _int


def _rng(generator: Any) -> np.random.Generator:
    if generator is None:
        return random.default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be an ndgrad.Generator, got {type(generator).__name__}")
    return generator


def _wide(nd: np.dtype) -> Any:
    """The dtype to draw floats in: nd itself, or float32 for float16 (no NumPy sampler)."""
    return nd if nd.itemsize >= 4 else np.float32


class RandomMixin(TensorBase):
    """In-place random fills and sampling."""

    def _fill(self, fn: str, values: Any) -> Any:
        """Overwrite self with ``values`` (an array of self's shape) as an in-place op."""
        if self._data.dtype.kind not in "f" and fn not in ("random_", "bernoulli_"):
            raise NotImplementedError(f"\"{fn}\" draws floating point numbers; it is not "
                                      f"implemented for {self.dtype}")
        arr = np.asarray(values).astype(self._data.dtype, copy=False)
        return self._inplace(lambda: Sample.apply(arr, self))  # zero gradient to the old value

    def uniform_(self, a: _float = 0.0, b: _float = 1.0, *, generator: Any = None,
                 **kwargs: Any) -> Any:
        """Fill with uniform samples from [a, b) (torch also names them ``from``/``to``)."""
        a, b = kwargs.pop("from", a), kwargs.pop("to", b)
        if kwargs:
            raise TypeError(f"uniform_() got unexpected keyword arguments {sorted(kwargs)}")
        if a > b:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={a} > to={b}")
        u = _rng(generator).random(self._data.shape, dtype=_wide(self._data.dtype))
        return self._fill("uniform_", u * (b - a) + a)

    def normal_(self, mean: _float = 0.0, std: _float = 1.0, *, generator: Any = None) -> Any:
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        z = _rng(generator).standard_normal(self._data.shape, dtype=_wide(self._data.dtype))
        return self._fill("normal_", z * std + mean)

    def log_normal_(self, mean: _float = 1.0, std: _float = 2.0, *,
                    generator: Any = None) -> Any:
        """exp of normal(mean, std) samples."""
        if std <= 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
        return self._fill("log_normal_", _rng(generator).lognormal(mean, std, self._data.shape))

    def exponential_(self, lambd: _float = 1.0, *, generator: Any = None) -> Any:
        """Exponential samples with rate ``lambd`` (mean 1/lambd)."""
        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        e = _rng(generator).standard_exponential(self._data.shape)
        return self._fill("exponential_", e / lambd)

    def cauchy_(self, median: _float = 0.0, sigma: _float = 1.0, *,
                generator: Any = None) -> Any:
        if not sigma > 0:
            raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
        c = _rng(generator).standard_cauchy(self._data.shape)
        return self._fill("cauchy_", median + sigma * c)

    def geometric_(self, p: _float, *, generator: Any = None) -> Any:
        """The number of Bernoulli(p) trials up to the first success: 1, 2, 3, ..."""
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
        return self._fill("geometric_", _rng(generator).geometric(p, self._data.shape))

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Any:
        """Fill with 1 with probability ``p`` (a float, or a tensor broadcast to self's shape),
        else 0."""
        if isinstance(p, TensorBase):
            probs = p._data
            if not ((probs >= 0) & (probs <= 1)).all():
                raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
            probs = np.broadcast_to(probs, self._data.shape)
        else:
            if not 0 <= p <= 1:
                raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
            probs = p
        return self._fill("bernoulli_", _rng(generator).random(self._data.shape) < probs)

    def bernoulli(self, p: Any = None, *, generator: Any = None) -> Any:
        """1 with probability self (or the float ``p``) at each position, else 0."""
        probs = self._data if p is None else p
        if p is None and self._data.dtype.kind != "f":
            raise NotImplementedError(f"bernoulli draws with floating-point probabilities, got "
                                      f"{self.dtype}")
        if not np.all((np.asarray(probs) >= 0) & (np.asarray(probs) <= 1)):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
        draw = _rng(generator).random(self._data.shape) < probs
        return self._make(draw.astype(self._data.dtype))

    def random_(self, *args: Any, generator: Any = None, **kwargs: Any) -> Any:
        """Fill with integers: ``random_(to)`` from [0, to), ``random_(from, to)`` from
        [from, to); ``random_()`` from [0, 2**mantissa] for floats (every integer the dtype
        holds exactly) or [0, max] for integers."""
        lo, hi = kwargs.pop("from", None), kwargs.pop("to", None)
        if kwargs:
            raise TypeError(f"random_() got unexpected keyword arguments {sorted(kwargs)}")
        if len(args) == 2:
            lo, hi = args
        elif len(args) == 1:
            lo, hi = (args[0], hi) if lo is None and hi is not None else (0, args[0])
        nd = self._data.dtype
        if hi is None:
            if nd.kind == "f":
                hi = 2 ** (np.finfo(nd).nmant + 1) + 1
            elif nd.kind == "b":
                hi = 2
            else:
                hi = int(np.iinfo(nd).max) + 1
        lo = 0 if lo is None else lo
        if lo >= hi:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                               f"from={lo} >= to={hi}")
        if nd.kind in "iu" and not (np.iinfo(nd).min <= lo and hi - 1 <= np.iinfo(nd).max):
            raise RuntimeError(f"from={lo}, to={hi}: out of bounds for {self.dtype}")
        return self._fill("random_", _rng(generator).integers(lo, hi, self._data.shape))

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
        rng = _rng(generator)
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
