"""ndgrad.backends.opt_einsum: torch's switch for the opt_einsum package, which orders the
contractions of an einsum. ndgrad does not use that package (NumPy's einsum orders large
contractions with its own copy of the same greedy algorithm), so it is not "available"."""

from __future__ import annotations

enabled = True
strategy = "auto"


def is_available() -> bool:
    return False


def get_opt_einsum() -> None:
    return None
