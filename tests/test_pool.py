"""The shared thread pool (ndgrad.ops._pool): OpenBLAS's threaded calls and the split kernels run
on numba's threads. Matmuls give the same numbers as on OpenBLAS's own threads, from one thread
or several at once, after a fork, and when asked for more threads than numba has; the kernels
split over the threads give the same bits as on one thread; attention on the pool matches torch.
Skipped where the pool cannot run (no numba, no thread-safe threading layer, an OpenBLAS
without the threads callback)."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

from ndgrad.ops import _numba

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def pool():
    if not _numba.available():
        pytest.skip("numba is not installed (pip install ndgrad[fast])")
    with _numba.enabled(True):
        k = _numba.kernels()
        if _numba._state["pool"] is None:
            pytest.skip("no shared pool here (threading layer or OpenBLAS lacks what it needs)")
        yield k


def _blas_threads(n: int):
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=n, user_api="blas")


def _own_pool_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b on OpenBLAS's own threads (the pool detached for the call)."""
    hooks = _numba._state["pool"].hooks
    mine = hooks.hook.value
    hooks.attach(0)
    try:
        return a @ b
    finally:
        hooks.hook.value = mine


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_matmul_on_the_pool_gives_openblas_own_bits(pool, dtype):
    pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((768, 300)).astype(dtype)
    b = rng.standard_normal((300, 520)).astype(dtype)
    with _blas_threads(2):
        got = a @ b
        want = _own_pool_product(a, b)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_more_blas_threads_than_numba_has_or_one_numba_thread(pool):
    """A call with more jobs than numba's threads can run at once goes to OpenBLAS's own
    pool (the jobs of a threaded matmul wait for each other: run one after another, they hang)."""
    pytest.importorskip("threadpoolctl")
    import numba
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((512, 256)), rng.standard_normal((256, 512))
    want = a @ b
    with _blas_threads(numba.config.NUMBA_NUM_THREADS + 2):
        np.testing.assert_allclose(a @ b, want, rtol=1e-12)
    numba.set_num_threads(1)
    try:
        with _blas_threads(2):
            np.testing.assert_allclose(a @ b, want, rtol=1e-12)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_blas_calls_from_several_python_threads_at_once(pool):
    """One threaded call at a time runs on the pool (calls at once would share OpenBLAS's
    scratch buffers and thread slots): four threads multiplying at once all get right answers.
    Threaded matrix-vector products show it (without the lock, some came out wrong)."""
    rng = np.random.default_rng(2)
    pairs = [(rng.standard_normal((2000, 1500)), rng.standard_normal(1500)) for _ in range(2)]
    pairs += [(rng.standard_normal((1500, 2000)).T, rng.standard_normal(1500)) for _ in range(2)]
    pairs += [(rng.standard_normal((300, 400)), rng.standard_normal((400, 350)))]
    wants = [a @ b for a, b in pairs]
    bad: list[float] = []

    def work(i: int) -> None:
        a, b = pairs[i]
        for _ in range(300 if b.ndim == 1 else 40):
            d = float(np.abs(a @ b - wants[i]).max())
            if d > 1e-9:
                bad.append(d)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


def _child(q) -> None:  # in a forked process: matmul and a large GELU, then report
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((300, 400)), rng.standard_normal((400, 500))
    k = _numba.kernels()
    x = rng.standard_normal(1 << 17).astype(np.float32)
    out = np.empty_like(x)
    k.gelu(x, out, False)
    q.put((_numba._state["pool"] is None, float(np.abs(a @ b - (a @ b)).max()),
           _numba.parts(x.size), float(out[0])))


def test_a_forked_child_leaves_the_pool(pool):
    """GNU OpenMP does not work after a fork: a DataLoader worker gets OpenBLAS's own threads
    back and kernels on one thread, and does not hang or die."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    left, diff, parts, first = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0
    assert left and diff == 0 and parts == 1 and np.isfinite(first)
    assert _numba._state["pool"] is not None  # the parent keeps it


def test_parts_follow_the_blas_thread_count(pool):
    pytest.importorskip("threadpoolctl")
    big = _numba.PARALLEL_MIN
    with _blas_threads(1):
        assert _numba.parts(big) == 1
    with _blas_threads(2):
        assert _numba.parts(big) == 2
        assert _numba.parts(big - 1) == 1


@pytest.mark.parametrize("tanh", [False, True])
def test_split_gelu_gives_the_bits_of_one_thread(pool, tanh):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(3 * _numba.PARALLEL_MIN + 7) * 4).astype(np.float32)
    g = rng.standard_normal(x.size).astype(np.float32)
    one, split = np.empty_like(x), np.empty_like(x)
    with _blas_threads(2):
        assert _numba.parts(x.size) == 2
        pool.gelu(x, split, tanh)
        pool.gelu32(x, one, tanh)
        np.testing.assert_array_equal(split, one)
        pool.gelu_backward(x, g, split, tanh)
        pool.gelu_backward32(x, g, one, tanh)
        np.testing.assert_array_equal(split, one)


@pytest.mark.parametrize("causal", [0, 64, 48])
def test_split_softmax_kernels_give_the_bits_of_one_thread(pool, causal):
    """Rows go to the threads in blocks of whole queries (a multiple of the causal L), and an
    odd row count leaves the last part short."""
    rng = np.random.default_rng(5)
    rows = 48 * 64 + (0 if causal else 5)
    s = rng.standard_normal((rows, 64)).astype(np.float32)
    lse1, lse2 = np.empty(rows, np.float32), np.empty(rows, np.float32)
    with _blas_threads(2):
        assert _numba.parts(s.size) == 2
        a, b = s.copy(), s.copy()
        pool.softmax_lse(a, lse1, 0.3, causal)
        pool._softmax_lse(b, lse2, np.float32(0.3), causal)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(lse1, lse2)
        a, b = s.copy(), s.copy()
        pool.exp_shifted(a, lse1, 0.3, causal)
        pool._exp_shifted(b, lse1, np.float32(0.3), causal)
        np.testing.assert_array_equal(a, b)
        dp = rng.standard_normal(s.shape).astype(np.float32)
        delta = rng.standard_normal(rows).astype(np.float32)
        d1, d2 = dp.copy(), dp.copy()
        pool.softmax_backward_rows(a, d1, delta, np.float32(0.5))
        pool._softmax_backward_rows(a, d2, delta, np.float32(0.5))
        np.testing.assert_array_equal(d1, d2)


def _heads(rng, b, t, h, d, dtype):
    """(b, h, t, d) laid out as (b, t, h, d): heads split off by view().transpose(1, 2)."""
    return rng.standard_normal((b, t, h, d)).astype(dtype).transpose(0, 2, 1, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batched_matmul_on_the_pool_matches_numpy(pool, dtype):
    rng = np.random.default_rng(6)
    q, k = _heads(rng, 12, 64, 4, 32, dtype), _heads(rng, 12, 64, 4, 32, dtype)
    p = rng.standard_normal((12, 4, 64, 64)).astype(dtype)
    cases = [(q, k.transpose(0, 1, 3, 2)), (p, k), (p.transpose(0, 1, 3, 2), q),
             (q, k[:1].transpose(0, 1, 3, 2)),  # a broadcast batch
             (p, np.ascontiguousarray(k))]
    with _blas_threads(2):
        for a, b in cases:
            want = np.matmul(a, b)
            out = np.empty(want.shape, dtype)
            assert pool.matmul(a, b, out)
            np.testing.assert_allclose(out, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-5)
        # where the pool does not pay or BLAS cannot read the operands: False, out untouched
        wide = rng.standard_normal((2, 2, 128, 128)).astype(dtype)
        for a, b in [(wide, wide),  # 128^3 products: OpenBLAS threads each by itself
                     (q[..., ::2], k.transpose(0, 1, 3, 2)[:, :, ::2]),  # no unit stride
                     (q[:1, :1], k[:1, :1].transpose(0, 1, 3, 2)),  # too little work
                     (q.astype(np.float32 if dtype == np.float64 else np.float64),
                      k.transpose(0, 1, 3, 2))]:
            out = np.full(np.broadcast_shapes(a.shape[:-1] + (1,), b.shape[:-2] + (1, 1))[:-1]
                          + (b.shape[-1],), 7, dtype)
            assert not pool.matmul(a, b, out)
            assert (out == 7).all()


@pytest.mark.parametrize("causal", [True, False])
def test_attention_on_the_pool_matches_torch(pool, causal):
    """GPT's attention (12 x 4 heads of 64 x 32, float32) with every large step on the pool:
    forward and gradients against torch."""
    import ndgrad
    import ndgrad.nn.functional as F
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((12, 64, 4, 32)).astype(np.float32) for _ in range(3)]
    grad = rng.standard_normal((12, 4, 64, 32)).astype(np.float32)
    with _blas_threads(2):
        qkv = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
        out = F.scaled_dot_product_attention(*[t.transpose(1, 2) for t in qkv], is_causal=causal)
        out.backward(ndgrad.tensor(grad))
    tq = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = torch.nn.functional.scaled_dot_product_attention(*[t.transpose(1, 2) for t in tq],
                                                            is_causal=causal)
    tout.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(qkv, tq):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_bmm_of_products_openblas_threads_finishes(pool):
    """matmul leaves products OpenBLAS would thread to np.matmul; called with such products
    anyway, bmm's BLAS calls start threaded calls from inside the pool, which the callback
    hands to OpenBLAS's own threads: right answers, no hang."""
    from ndgrad.ops import _pool
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 2, 300, 300)), rng.standard_normal((2, 2, 300, 300))
    out = np.empty((2, 2, 300, 300))
    with _blas_threads(2):
        for _ in range(5):
            _pool.bmm(_numba.pool_gemm("d"), a, b, out, 111, 300, 111, 300,
                      _numba.pool_words() + 8)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-10)
    assert _numba._state["pool"].words[1] == 0  # bmm's count of calls under way is back to 0


def test_the_pool_can_be_turned_off(pool):
    """NDGRAD_SHARED_POOL=0: OpenBLAS keeps its own threads and the kernels run on one."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np, ndgrad; from ndgrad.ops import _numba; k = _numba.kernels(); "
            "from ndgrad import _openblas; h = _openblas.hooks(); "
            "print(_numba._state['pool'] is None, h.hook.value is None, _numba.parts(1 << 20))")
    for value, want in (("0", "True True 1"), ("1", "False False")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "NDGRAD_SHARED_POOL": value}, check=True)
        assert out.stdout.startswith(want), out.stdout
