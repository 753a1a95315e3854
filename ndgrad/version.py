"""ndgrad.version: what ``torch.version`` tells scripts about the build. ndgrad is pure Python
on NumPy: no CUDA, ROCm or XPU build, and no debug build."""

from __future__ import annotations

__all__ = ["__version__", "cuda", "debug", "git_version", "hip", "rocm", "xpu"]

__version__ = "0.1.0"
debug = False
cuda: str | None = None
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
git_version = "Unknown"
