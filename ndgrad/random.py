"""The global random generator behind rand/randn/randint, dropout and init; see manual_seed."""

from __future__ import annotations

from typing import Any

import numpy as np

_rng = np.random.default_rng()


def _fresh_seed() -> int:
    """A seed in [0, 2**63) from the OS's entropy."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator so every random function in ndgrad is reproducible."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def seed() -> int:
    """Seed the global generator from fresh entropy and return the seed used."""
    s = _fresh_seed()
    manual_seed(s)
    return s


def default_generator() -> np.random.Generator:
    """The generator rand/randn/randint/dropout/init draw from (replaced by manual_seed)."""
    return _rng


def get_rng_state() -> dict:
    """The global generator's state, for set_rng_state (a dict; torch's is a ByteTensor)."""
    return dict(_rng.bit_generator.state)


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


class Generator(np.random.Generator):
    """torch.Generator: a NumPy PCG64 Generator with manual_seed/seed/get_state/set_state.

    Being a ``np.random.Generator`` it can be passed wherever ndgrad takes ``generator=``.
    """

    def __init__(self, device: object = "cpu") -> None:
        s = _fresh_seed()
        super().__init__(np.random.PCG64(s))
        self._initial_seed = s
        self.device = device

    def manual_seed(self, seed: int) -> Generator:
        """Reseed in place (same stream as ``np.random.default_rng(seed)``) and return self."""
        self._initial_seed = int(seed)
        self.bit_generator.state = np.random.PCG64(int(seed)).state
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the seed used."""
        s = _fresh_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> dict:
        """The bit generator's state (a dict, JSON-serialisable; torch returns a ByteTensor)."""
        return dict(self.bit_generator.state)

    def set_state(self, new_state: dict) -> Generator:
        self.bit_generator.state = new_state
        return self


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,
                generator: np.random.Generator | None = None) -> Any:
    """Category indices drawn from each row of ``input`` (1-D or 2-D, non-negative weights that
    need not sum to 1), as int64 of shape (num_samples,) or (rows, num_samples).

    With replacement, each draw inverts the row's cumulative distribution at a uniform number.
    Without, it is the exponential race torch uses: every category draws ``w / Exp(1)`` and the
    ``num_samples`` largest win, which picks them one after another in proportion to their
    weights; zero-weight categories come last, once the others are used up.
    """
    from ndgrad.tensor import Tensor

    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(f"multinomial(): argument 'num_samples' (position 2) must be int, not "
                        f"{type(num_samples).__name__}")
    p = input._data
    if p.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input.type().removeprefix('ndgrad.').removesuffix('Tensor')}")
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
    rng = generator if generator is not None else default_generator()
    if replacement:
        out = np.empty((len(rows), n), dtype=np.int64)
        for i, w in enumerate(rows):
            cdf = np.cumsum(w)
            cdf /= cdf[-1]  # ends at exactly 1, so a uniform draw in [0, 1) always lands
            # side="right": the first category whose cdf exceeds u; zero weights never do
            out[i] = np.searchsorted(cdf, rng.random(n), side="right")
    else:
        keys = rows / rng.standard_exponential(rows.shape)  # (R, K)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :n]
    return Tensor._make(out.reshape(*p.shape[:-1], n))
