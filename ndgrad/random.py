"""The global random generator behind rand/randn/randint, dropout and init; see manual_seed."""

from __future__ import annotations

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
