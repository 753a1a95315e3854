"""A context that sets some of a backend module's flags and puts them back (torch's
``backends.X.flags(...)``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any


@contextlib.contextmanager
def set_flags(module: ModuleType, **flags: Any) -> Iterator[None]:
    """Set ``module``'s attributes named in ``flags`` (those not None) for the ``with`` body."""
    old = {name: getattr(module, name) for name, v in flags.items() if v is not None}
    try:
        for name in old:
            setattr(module, name, flags[name])
        yield
    finally:
        for name, v in old.items():
            setattr(module, name, v)
