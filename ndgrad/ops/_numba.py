"""Which path the fused primitives take: compiled kernels (numba) or NumPy.

NumPy runs one pass over memory per call, so an op such as GELU (about thirty calls for a
float32 erf) costs many passes where one loop would do. With the optional extra
``pip install ndgrad[fast]`` (numba), the fused primitives (GELU, layer_norm, rms_norm,
batch_norm, attention's softmax, Adam's update) run one compiled loop instead; each
primitive's NumPy code stays the reference, and the path taken without numba.

The kernels module (``ndgrad.ops._kernels``) is imported on the first fused call, not with
ndgrad: importing numba takes a fraction of a second, and each kernel is compiled on its first
call for each dtype (numba keeps the machine code in its on-disk cache, so later runs skip
that). ``NDGRAD_NUMBA=0`` in the environment, or ``set_enabled(False)``, turns the compiled
path off.

With numba's OpenMP (or TBB) threads available, OpenBLAS's threaded calls run on those threads
too, and the large kernels split their work over them (``share_pool`` and ``parts`` below;
``ndgrad.ops._pool`` says why one pool). ``NDGRAD_SHARED_POOL=0`` turns that off.

On a CPU with AVX-512, LLVM's tuning for most such CPUs keeps loops to 256-bit vectors; ndgrad
asks numba for 512-bit ones (LLVM's ``-prefer-256-bit``), unless ``NUMBA_CPU_FEATURES`` is set
or numba has already compiled something in this process. GELU's kernels took 0.25 and 0.34 ms
for a (768, 512) float32 batch instead of 0.38 and 0.52 ms on such a machine (an Intel Xeon
with AVX-512), where OpenBLAS's matmuls run 512-bit code already.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

_state: dict[str, Any] = {
    "enabled": os.environ.get("NDGRAD_NUMBA", "1").strip().lower() not in ("0", "false", "off"),
    "kernels": None,  # the module once imported; False when numba is not installed
    "pool": None,  # the shared thread pool (see share_pool) once set up, else None
    "fork_hook": False,  # whether _after_fork is registered (once per process)
}


def available() -> bool:
    """Whether numba is installed (the ``ndgrad[fast]`` extra)."""
    return importlib.util.find_spec("numba") is not None


def kernels() -> Any:
    """The compiled kernels module, or None when numba is missing or the path is off."""
    if not _state["enabled"]:
        return None
    k = _state["kernels"]
    if k is None:
        k = False
        if available():
            try:
                _prefer_512_bit_vectors()
                k = importlib.import_module("ndgrad.ops._kernels")
                share_pool()
            except ImportError as e:  # e.g. a numba too old for the installed NumPy
                warnings.warn(f"numba is installed but could not be imported ({e}); ndgrad's "
                              f"fused ops run in NumPy", RuntimeWarning, stacklevel=2)
        _state["kernels"] = k
    return k or None


def _prefer_512_bit_vectors() -> None:
    """Let numba's loops use 512-bit vectors where the CPU has them (see above)."""
    if os.environ.get("NUMBA_CPU_FEATURES"):
        return
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    if getattr(config, "CPU_FEATURES", None) is None:  # set in config at numba's import
        features = get_host_cpu_features()
        if "+avx512f" in features.split(","):
            config.CPU_FEATURES = features + ",-prefer-256-bit"  # type: ignore[attr-defined]


def set_enabled(flag: bool) -> bool:
    """Turn the compiled path on or off (it is on when numba is installed); returns the old
    setting."""
    old = bool(_state["enabled"])
    _state["enabled"] = bool(flag)
    return old


@contextmanager
def enabled(flag: bool) -> Iterator[None]:
    """``with enabled(False):`` runs the NumPy reference path (tests compare both with torch)."""
    old = set_enabled(flag)
    try:
        yield
    finally:
        set_enabled(old)


_FLOATS = "fd"  # float32 and float64 by type code (dtype.name is a slow Python property)


def kernels_for(*arrays: Any) -> Any:
    """``kernels()`` when the arrays suit the kernels (NumPy arrays, C-contiguous, all float32
    or all float64), else None: the caller takes its NumPy path."""
    k = kernels()
    if k is None:
        return None
    dtype = arrays[0].dtype
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
            return None
    return k if dtype.char in _FLOATS else None


# -- one thread pool ------------------------------------------------------------------------------
# Large kernels (GELU, attention's softmax) split their work over numba's threads, which also
# run OpenBLAS's threaded matmuls (ndgrad.ops._pool says why one pool, and how). Both happen
# only where numba has a thread-safe threading layer (OpenMP or TBB: two Python threads may
# call matmul at once) and NumPy's OpenBLAS has the threads callback; elsewhere the kernels
# run on the calling thread, as before, and OpenBLAS keeps its own threads.
PARALLEL_MIN = 1 << 15  # elements: below this, handing out the work costs more than it saves
SPIN = "20000"  # GOMP_SPINCOUNT: about 1 ms of spinning here


class _Pool:
    def __init__(self, hooks: Any, most: int, callback: Any, words: np.ndarray) -> None:
        self.hooks, self.most, self.callback, self.words = hooks, most, callback, words


def share_pool() -> bool:
    """Run OpenBLAS's threaded calls and the split kernels on numba's threads (see above);
    whether that is now so. Called when the kernels are first loaded."""
    if _state["pool"] is not None:
        return True
    if os.environ.get("NDGRAD_SHARED_POOL", "1").strip().lower() in ("0", "false", "off"):
        return False
    from ndgrad import _openblas

    hooks = _openblas.hooks()
    if hooks is None or not hooks.exec_blas or not _threadsafe_layer():
        return False
    import numba

    from ndgrad.ops import _pool

    most, base = int(getattr(numba.config, "NUMBA_NUM_THREADS", 1)), hooks.room // 2
    if most > base or (os.cpu_count() or 1) > base:  # no room for ndgrad's thread numbers
        return False
    words = np.zeros(2, np.int64)  # the callback's lock, and bmm calls under way
    callback = _pool.build(words.ctypes.data, ctypes.addressof(hooks.hook), hooks.exec_blas,
                           base)
    hooks.attach(callback.address)
    _state["pool"] = _Pool(hooks, most, callback, words)
    if not _state["fork_hook"]:
        os.register_at_fork(after_in_child=_after_fork)
        _state["fork_hook"] = True
    return True


def _threadsafe_layer() -> bool:
    """Whether numba's parallel code runs on OpenMP or TBB (thread-safe), starting its
    threads now if they have not started (on one of those two where the user has not chosen)."""
    import numba
    from numba.core import config

    try:
        return numba.threading_layer() in ("omp", "tbb")  # already started
    except ValueError:
        pass
    if os.environ.get("NUMBA_THREADING_LAYER"):
        if getattr(config, "THREADING_LAYER", "") not in ("omp", "tbb", "threadsafe", "safe"):
            return False
    else:
        config.THREADING_LAYER = "threadsafe"  # type: ignore[attr-defined]
    from ndgrad.ops import _pool

    # GNU OpenMP's threads spin for 300,000 pauses (about 8 ms here) after each parallel region
    # before they sleep, taking a core from DataLoader workers and other processes meanwhile;
    # ndgrad asks for SPIN, about what it asks of OpenBLAS (ndgrad._openblas), unless the user
    # chose. libgomp reads the variable when it loads, at the first parallel call.
    spin = not {"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"} & set(os.environ)
    if spin:
        os.environ["GOMP_SPINCOUNT"] = SPIN
    try:
        _pool.start()
    except (ValueError, ImportError):  # neither layer can be loaded here
        return False
    finally:
        if spin:
            del os.environ["GOMP_SPINCOUNT"]  # not handed on to child processes
    return numba.threading_layer() in ("omp", "tbb")


def _after_fork() -> None:
    """In a forked child (a DataLoader worker): OpenBLAS's own threads again, and kernels on
    the calling thread; GNU OpenMP does not work after a fork."""
    pool = _state["pool"]
    if pool is not None:
        pool.hooks.attach(0)
        _state["pool"] = None


def parts(size: int) -> int:
    """Into how many parts a kernel splits ``size`` elements of work: the BLAS thread count
    (set_num_threads, threadpoolctl) where the shared pool runs and the work is large enough,
    else 1."""
    pool = _state["pool"]
    if pool is None or size < PARALLEL_MIN:
        return 1
    return min(pool.hooks.threads(), pool.most)


def pool_gemm(char: str) -> int:
    """The address of OpenBLAS's cblas_sgemm ("f") or cblas_dgemm ("d") where the shared pool
    runs, for kernels that hand out BLAS calls to its threads; else 0."""
    pool = _state["pool"]
    return pool.hooks.gemm.get(char, 0) if pool is not None else 0


def pool_words() -> int:
    """The address of the shared pool's two int64 words (its lock; bmm calls under way)."""
    pool = _state["pool"]
    return pool.words.ctypes.data if pool is not None else 0
