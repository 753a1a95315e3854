"""One thread pool for OpenBLAS and the compiled kernels (numba's OpenMP threads).

NumPy's OpenBLAS keeps its own worker threads, which spin for a while after each matmul. A
compiled kernel that ran on numba's threads right after a matmul fought those spinning workers
for the cores: a parallel GELU took 1.5 ms after a (768, 128) @ (128, 512) matmul instead of
0.16 ms. torch has one OpenMP pool for its BLAS and its other kernels; ndgrad gets the same by
handing OpenBLAS a "threads callback" (OpenBLAS 0.3.27 and newer): OpenBLAS then runs the jobs
of a threaded call by calling the function this module compiles, which runs them on numba's
threads, and keeps none of its own busy. Matmuls take as long as before.

The callback's rules, from OpenBLAS's ``exec_blas``: run ``dojob(thread, job i, arg)`` for each
of ``numjobs`` jobs at the same time (the jobs of a threaded matmul wait for each other) and
return when all are done. ``thread`` picks OpenBLAS's per-thread scratch buffer; the callback
passes ``BASE + numba's thread id`` with BASE above any thread OpenBLAS's own pool uses, so
the two never share a buffer, and one lock lets one threaded call at a time run this way (two
Python threads calling matmul at once would otherwise share buffers). A call with more jobs
than numba has threads (``openblas_set_num_threads`` raised above the core count) goes back to
OpenBLAS's own pool for that call.
"""

from __future__ import annotations

from typing import Any

import numba
from llvmlite import ir
from numba import cfunc, njit, prange, types
from numba.extending import intrinsic

_I8P = ir.IntType(8).as_pointer()
_JOB = ir.FunctionType(ir.VoidType(), [ir.IntType(32), _I8P, ir.IntType(32)])
_EXEC = ir.FunctionType(ir.IntType(32), [ir.IntType(64), _I8P])  # exec_blas(num, queue)


@intrinsic
def _run_job(typingctx: Any, fn: Any, thread: Any, data: Any, arg: Any) -> Any:
    """Call OpenBLAS's ``dojob(thread, data, arg)`` through its address."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        job = builder.inttoptr(args[0], _JOB.as_pointer())
        builder.call(job, [args[1], builder.inttoptr(args[2], _I8P), args[3]])
        return context.get_dummy_value()
    return types.void(types.intp, types.int32, types.intp, types.int32), codegen


@intrinsic
def _exec_blas(typingctx: Any, fn: Any, num: Any, queue: Any) -> Any:
    """Call OpenBLAS's ``exec_blas(num, queue)`` through its address (its own pool)."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        run = builder.inttoptr(args[0], _EXEC.as_pointer())
        return builder.call(run, [args[1], builder.inttoptr(args[2], _I8P)])
    return types.int32(types.intp, types.int64, types.intp), codegen


@intrinsic
def _swap(typingctx: Any, addr: Any, old: Any, new: Any) -> Any:
    """Atomically: if the int64 at addr is ``old``, make it ``new``; whether it was."""
    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ptr = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        pair = builder.cmpxchg(ptr, args[1], args[2], "acq_rel", "monotonic")
        return builder.extract_value(pair, 1)
    return types.boolean(types.intp, types.int64, types.int64), codegen


def _atomic(op: str) -> Any:
    """An intrinsic that applies LLVM's atomic ``op`` ("xchg", "add") with a value to the int64
    at an address, returning the value it held."""
    @intrinsic
    def rmw(typingctx: Any, addr: Any, value: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            ptr = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
            return builder.atomic_rmw(op, ptr, args[1], "acq_rel")
        return types.int64(types.intp, types.int64), codegen
    return rmw


_exchange = _atomic("xchg")  # store a value, returning the old one
_add = _atomic("add")


@njit(parallel=True, cache=True)
def _run_jobs(fn: int, n: int, size: int, data: int, arg: int, base: int) -> None:
    """Run the n jobs at once on numba's threads (n <= their number: one job each)."""
    for i in prange(n):
        _run_job(fn, numba.int32(base + numba.get_thread_id()),  # type: ignore[call-arg]
                 data + i * size, numba.int32(arg))


def build(words: int, hook: int, exec_blas: int, base: int) -> Any:
    """The callback for this process: ``words`` is the address of two int64s, a lock (0 =
    free) and the number of bmm calls under way (see there), ``hook`` that of OpenBLAS's
    callback pointer, ``exec_blas`` that of its own runner; ``base`` the first thread number
    it gives OpenBLAS. Compiled here, not cached: the addresses are this process's."""
    lock, handing_out = words, words + 8

    @cfunc(types.void(types.int32, types.intp, types.int32, types.intp, types.intp,
                      types.int32))
    def callback(sync: int, fn: int, n: int, size: int, data: int, arg: int) -> None:
        while not _swap(lock, 0, 1):  # type: ignore[call-arg]
            pass
        if n <= numba.get_num_threads() and not _add(handing_out, 0):  # type: ignore[call-arg]
            _run_jobs(fn, n, size, data, arg, base)
        else:  # more jobs than threads (they wait for each other: all must run at once), or
            # called from a thread of the pool: OpenBLAS's own pool runs them
            mine = _exchange(hook, 0)  # type: ignore[call-arg]
            _exec_blas(exec_blas, n, data)  # type: ignore[call-arg]
            _exchange(hook, mine)  # type: ignore[call-arg]
        _exchange(lock, 0)  # type: ignore[call-arg]

    return callback


# -- batched matmul on the pool ----------------------------------------------------------------
# np.matmul of (B, h, L, E) by (B, h, E, S) makes B h small BLAS calls, one after another on one
# thread (each is too small for OpenBLAS to thread: 64 x 64 x 32 takes 3.4 us). bmm hands them
# out to numba's threads instead, each call single-threaded: OpenBLAS threads no call of at most
# SINGLE = 65536 * 4 multiply-adds (its SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD, the
# default), so none of them should start a threaded call from inside the pool; if an OpenBLAS
# built with a lower threshold did, the callback sends it to OpenBLAS's own threads (a nested
# region of the pool might run the jobs one after another, and they wait for each other).
SINGLE = 65536 * 4
_ROW_MAJOR = 101


@intrinsic
def _gemm(typingctx: Any, fn: Any, ta: Any, tb: Any, m: Any, n: Any, k: Any, alpha: Any,
          a: Any, lda: Any, b: Any, ldb: Any, beta: Any, c: Any, ldc: Any) -> Any:
    """cblas_?gemm (64-bit integers) through its address; alpha's type picks s or d."""
    real = ir.FloatType() if alpha == types.float32 else ir.DoubleType()
    i32, i64 = ir.IntType(32), ir.IntType(64)
    fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, _I8P, i64, _I8P,
                                           i64, real, _I8P, i64])

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ptr = [builder.inttoptr(args[i], _I8P) for i in (7, 9, 12)]
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()),
                     [ir.Constant(i32, _ROW_MAJOR), args[1], args[2], args[3], args[4], args[5],
                      args[6], ptr[0], args[8], ptr[1], args[10], args[11], ptr[2], args[13]])
        return context.get_dummy_value()
    i = types.int64
    return types.void(types.intp, types.int32, types.int32, i, i, i, alpha, types.intp, i,
                      types.intp, i, alpha, types.intp, i), codegen


@njit(parallel=True, cache=True)
def bmm(fn: int, a: Any, b: Any, out: Any, ta: int, lda: int, tb: int, ldb: int,
        handing_out: int) -> None:
    """out[i, j] = a[i, j] @ b[i, j] for 4-d arrays, each product one ?gemm call on one of
    numba's threads. ta, tb say how BLAS reads a's and b's matrices (111 row-major, 112 its
    transpose: a column-major view), lda, ldb their leading dimensions; out's rows are
    unit-stride. The int64 at ``handing_out`` counts the calls under way, for the callback."""
    heads, m, n = out.shape[1], out.shape[2], out.shape[3]
    k = a.shape[3]
    pa, pb, pc = a.ctypes.data, b.ctypes.data, out.ctypes.data
    one, zero = out.dtype.type(1), out.dtype.type(0)
    ldc = out.strides[2] // out.itemsize
    _add(handing_out, 1)  # type: ignore[call-arg]
    for t in prange(out.shape[0] * heads):
        i, j = t // heads, t % heads
        _gemm(fn, numba.int32(ta), numba.int32(tb), m, n, k, one,  # type: ignore[call-arg]
              pa + i * a.strides[0] + j * a.strides[1], lda,
              pb + i * b.strides[0] + j * b.strides[1], ldb, zero,
              pc + i * out.strides[0] + j * out.strides[1], ldc)
    _add(handing_out, -1)  # type: ignore[call-arg]


@njit(parallel=True, cache=True)
def _touch(x: Any) -> None:
    for i in prange(x.size):
        x[i] = i


def start() -> None:
    """Start numba's threads (raises ValueError if no allowed threading layer loads)."""
    import numpy as np

    _touch(np.empty(2, np.int64))
