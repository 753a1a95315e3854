"""Random number generators: ``Generator`` (torch.Generator on NumPy's PCG64) and the global
one behind rand/randn/randint, dropout, init and the samplers; ``manual_seed`` reseeds it.

Streams differ from torch's (same seed, other numbers); distributions are the same."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ndgrad._device import check_device, device


def _fresh_seed() -> int:
    """A seed in [0, 2**63) from the OS's entropy."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


class Generator(np.random.Generator):
    """torch.Generator: a NumPy PCG64 Generator with manual_seed/seed/initial_seed/get_state/
    set_state. Being a ``np.random.Generator`` it also has NumPy's samplers, and ndgrad's
    ``generator=`` arguments take either kind."""

    def __init__(self, device: Any = "cpu") -> None:
        check_device(device)  # only the CPU has generators here
        s = _fresh_seed()
        super().__init__(np.random.PCG64(s))
        self._initial_seed = s

    @property
    def device(self) -> device:
        return device("cpu")

    def manual_seed(self, seed: int) -> Generator:
        """Reseed in place (same stream as ``np.random.default_rng(seed)``) and return self.
        Negative seeds wrap modulo 2**64, as torch's do."""
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise TypeError(f"manual_seed expected an int seed, got {type(seed).__name__}")
        s = int(seed) % 2**64
        self._initial_seed = s
        self.bit_generator.state = np.random.PCG64(s).state
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the seed used."""
        s = _fresh_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._initial_seed

    def get_state(self) -> dict:
        """The bit generator's state (a dict of ints; torch returns a ByteTensor)."""
        return dict(self.bit_generator.state)

    def set_state(self, new_state: dict) -> Generator:
        if not isinstance(new_state, dict) or new_state.get("bit_generator") != "PCG64":
            raise TypeError("set_state expects a state from Generator.get_state() (a dict of "
                            "PCG64's state)")
        self.bit_generator.state = new_state
        return self

    def __reduce__(self) -> Any:
        return (_restore, (self._initial_seed, self.get_state()))


def _restore(initial_seed: int, state: dict) -> Generator:
    g = Generator()
    g._initial_seed = initial_seed
    return g.set_state(state)


# The global generator: reseeded in place, so ndgrad.default_generator stays the one in use
_default = Generator()


def default_generator() -> Generator:
    """The generator rand/randn/randint/dropout/init draw from (``ndgrad.default_generator``)."""
    return _default


def manual_seed(seed: int) -> Generator:
    """Reseed the global generator so every random function in ndgrad is reproducible."""
    return _default.manual_seed(seed)


def seed() -> int:
    """Seed the global generator from fresh entropy and return the seed used."""
    return _default.seed()


def initial_seed() -> int:
    return _default.initial_seed()


def get_rng_state() -> dict:
    """The global generator's state, for set_rng_state (a dict; torch's is a ByteTensor)."""
    return _default.get_state()


def set_rng_state(new_state: dict) -> None:
    _default.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda") -> Iterator[None]:
    """Draw in the ``with`` body without changing the global generator's stream after it."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


__all__ = ["Generator", "default_generator", "fork_rng", "get_rng_state", "initial_seed",
           "manual_seed", "seed", "set_rng_state"]
