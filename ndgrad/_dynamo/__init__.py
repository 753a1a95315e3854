"""Where torch keeps ``torch.compile``'s machinery (``torch._dynamo``): here only what programs
reach for, ``eval_frame.OptimizedModule`` (what ``compile`` returns for a module) and
``reset``. ndgrad compiles nothing; see ``ndgrad.compiler``."""

from __future__ import annotations

from ndgrad._dynamo.eval_frame import OptimizedModule
from ndgrad.compiler import reset

__all__ = ["OptimizedModule", "reset"]
