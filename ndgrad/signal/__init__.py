"""ndgrad.signal: torch.signal's window functions (``ndgrad.signal.windows``)."""

from ndgrad.signal import windows

__all__ = ["windows"]
