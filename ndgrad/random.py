"""The global random generator behind rand/randn/randint, dropout and init; see manual_seed."""

from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator so every random function in ndgrad is reproducible."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def seed() -> int:
    """Seed the global generator from fresh entropy and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def default_generator() -> np.random.Generator:
    return _rng


def get_rng_state() -> dict:
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


class Generator(np.random.Generator):
    """torch.Generator: a NumPy PCG64 Generator with manual_seed/seed/get_state/set_state.

    Being a ``np.random.Generator`` it can be passed wherever ndgrad takes ``generator=``.
    """

    def __init__(self, device: object = "cpu") -> None:
        s = int(np.random.SeedSequence().entropy % (2**63))
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
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> dict:
        """The bit generator's state (a dict, JSON-serialisable; torch returns a ByteTensor)."""
        return self.bit_generator.state

    def set_state(self, new_state: dict) -> Generator:
        self.bit_generator.state = new_state
        return self
