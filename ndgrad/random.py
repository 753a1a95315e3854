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
