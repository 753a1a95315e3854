"""Compiled loops for the fused primitives (numba, the optional extra ``ndgrad[fast]``).

Each kernel does in one pass over memory what the primitive's NumPy code (the reference, in
``ndgrad/ops/nn.py``, ``normalization.py``, ``attention.py``) does in several. They are called
through ``ndgrad.ops._numba.kernels()``, which imports this module only when numba is installed
and the compiled path is on; the kernels take C-contiguous arrays and write into ``out``
arrays the caller made.

Where ndgrad runs one thread pool (``_numba.share_pool``), the Python-level entry points (gelu,
softmax_lse, exp_shifted, softmax_backward_rows, matmul) split large calls into parts that
run on numba's threads at once: the same loop on each part, so the same bits as on one thread.

float32 loops use float32 formulas that LLVM turns into SIMD code: an exp and an erf made of
polynomials (libm's expf and erff are scalar calls, several times slower). float64 loops call
libm (``math.exp``, ``math.erf``): float64 is for checking, not speed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:
    from llvmlite import ir
    from numba import njit, prange, types
    from numba.extending import intrinsic, overload

    @intrinsic
    def _bits_as_float32(typingctx: Any, bits: Any) -> Any:
        """The float32 whose IEEE bits are the int32 ``bits`` (a bitcast LLVM vectorises)."""
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], ir.FloatType())
        return types.float32(types.int32), codegen

    from ndgrad.ops._pool import SINGLE, bmm
except ImportError:  # never loaded so by ndgrad (see _numba.kernels); plain Python then
    def njit(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]
        return args[0] if args and callable(args[0]) else (lambda f: f)

    def _bits_as_float32(bits: Any) -> Any:  # type: ignore[misc]
        return np.int32(bits).view(np.float32)

    def overload(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef,misc]
        return lambda f: f

    prange = range  # type: ignore[misc]
    SINGLE, bmm = 0, None  # type: ignore[misc,assignment]  # no pool (pool_gemm gives 0)

from ndgrad.ops._erf import _A32, _B32
from ndgrad.ops._numba import parts, pool_gemm, pool_words

f32 = np.float32
# the loops may contract a * b + c into one fused multiply-add (more accurate, not less); no
# other fast-math liberty, so nan and inf behave as in the NumPy reference
_FLAGS: dict[str, Any] = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy"}
# the same, for the wrappers that split a kernel's work over numba's threads (see _numba.parts)
_PFLAGS: dict[str, Any] = {**_FLAGS, "parallel": True}

# -- exp and erf in float32 -----------------------------------------------------------------
_LOG2E = f32(1.4426950408889634)
_LN2_HI, _LN2_LO = f32(0.693359375), f32(-2.12194440e-4)  # ln 2 = hi + lo, hi exact in 9 bits
# Cephes' expf polynomial: e^r ~ 1 + r + r^2 (P5 + P4 r + ...) for |r| <= ln(2) / 2
_P0, _P1, _P2 = f32(1.9875691500e-4), f32(1.3981999507e-3), f32(8.3334519073e-3)
_P3, _P4, _P5 = f32(4.1665795894e-2), f32(1.6666665459e-1), f32(5.0000001201e-1)
_EXP_LOW = f32(-87.33654)  # e^y is below float32's smallest normal number from here on
_A0, _A1, _A2, _A3, _A4, _A5 = _A32
_B0, _B1, _B2, _B3, _B4, _B5, _B6 = _B32


@njit(inline="always", **_FLAGS)
def exp_neg32(y: Any) -> Any:
    """e^y for float32 y <= 0, within 1 ulp; 0 below _EXP_LOW (and at -inf), nan at nan.

    y = n ln 2 + r with |r| <= ln(2) / 2; e^y = e^r 2^n, with 2^n (n in -126..0, a normal
    float32) made from its bits: exponent field n + 127. (Dividing by 2^-n built as a float
    from integer shifts gave the same bits at a third of the speed.)"""
    yc = max(y, _EXP_LOW)
    n = np.floor(yc * _LOG2E + f32(0.5))
    r = yc - n * _LN2_HI - n * _LN2_LO
    p = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * (r * r) + r + f32(1)
    p = p * _bits_as_float32((np.int32(n) + np.int32(127)) << np.int32(23))  # type: ignore[call-arg]
    if y >= _EXP_LOW:
        return p
    return f32(0) if y < _EXP_LOW else y  # underflow, or nan


@njit(inline="always", **_FLAGS)
def erf32(x: Any) -> Any:
    """erf in float32: the polynomials of ndgrad.ops._erf, within about 1 ulp."""
    a = min(abs(x), f32(4))
    z = x * x
    small = x + x * (((((_A5 * z + _A4) * z + _A3) * z + _A2) * z + _A1) * z + _A0)
    q = ((((((_B6 * a + _B5) * a + _B4) * a + _B3) * a + _B2) * a + _B1) * a + _B0)
    big = f32(1) - exp_neg32(-(a + a * q))
    big = big if x >= f32(0) else -big
    return small if a < f32(0.875) else big


@njit(inline="always", **_FLAGS)
def tanh32(u: Any) -> Any:
    """tanh in float32 as sign(u) (1 - e) / (1 + e), e = exp(-2|u|): accurate to ~1e-7
    absolutely (GELU adds it to 1), not relatively near 0."""
    e = exp_neg32(f32(-2) * abs(u))
    t = (f32(1) - e) / (f32(1) + e)
    return t if u >= f32(0) else -t


# -- GELU ---------------------------------------------------------------------------------------
_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_K_BETA = 0.7978845608028654  # sqrt(2 / pi)
_K_KAPPA = 0.044715


@njit(**_FLAGS)
def gelu32(x: Any, out: Any, tanh: bool) -> None:
    """out = x Phi(x) (erf form) or PyTorch's tanh form, float32, 1-d arrays."""
    if tanh:
        for i in range(x.size):
            v = x[i]
            inner = f32(_K_BETA) * (v + f32(_K_KAPPA) * v * v * v)
            out[i] = f32(0.5) * v * (f32(1) + tanh32(inner))
    else:
        for i in range(x.size):
            v = x[i]
            out[i] = f32(0.5) * v * (f32(1) + erf32(v * f32(_SQRT1_2)))


@njit(**_FLAGS)
def gelu_backward32(x: Any, grad: Any, out: Any, tanh: bool) -> None:
    """out = grad * GELU'(x), float32, 1-d arrays."""
    if tanh:
        for i in range(x.size):
            v = x[i]
            v2 = v * v
            t = tanh32(f32(_K_BETA) * (v + f32(_K_KAPPA) * v2 * v))
            right = (f32(0.5) * v * (f32(1) - t * t) * f32(_K_BETA)
                     * (f32(1) + f32(3 * _K_KAPPA) * v2))
            out[i] = grad[i] * (f32(0.5) * (f32(1) + t) + right)
    else:
        for i in range(x.size):
            v = x[i]
            cdf = f32(0.5) * (f32(1) + erf32(v * f32(_SQRT1_2)))
            pdf = exp_neg32(f32(-0.5) * v * v) * f32(_INV_SQRT_2PI)
            out[i] = grad[i] * (cdf + v * pdf)


@njit(**_FLAGS)
def gelu64(x: Any, out: Any, tanh: bool) -> None:
    """gelu32 in float64, with libm's erf and tanh."""
    for i in range(x.size):
        v = x[i]
        if tanh:
            out[i] = 0.5 * v * (1.0 + math.tanh(_K_BETA * (v + _K_KAPPA * v * v * v)))
        else:
            out[i] = 0.5 * v * (1.0 + math.erf(v * _SQRT1_2))


@njit(**_FLAGS)
def gelu_backward64(x: Any, grad: Any, out: Any, tanh: bool) -> None:
    """gelu_backward32 in float64, with libm's erf, exp and tanh."""
    for i in range(x.size):
        v = x[i]
        if tanh:
            t = math.tanh(_K_BETA * (v + _K_KAPPA * v * v * v))
            right = 0.5 * v * (1.0 - t * t) * _K_BETA * (1.0 + 3 * _K_KAPPA * v * v)
            out[i] = grad[i] * (0.5 * (1.0 + t) + right)
        else:
            cdf = 0.5 * (1.0 + math.erf(v * _SQRT1_2))
            out[i] = grad[i] * (cdf + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI)


@njit(**_PFLAGS)
def _gelu32_parts(x: Any, out: Any, tanh: bool, n: int) -> None:
    step = -(-x.size // n)
    for t in prange(n):
        gelu32(x[t * step:(t + 1) * step], out[t * step:(t + 1) * step], tanh)


@njit(**_PFLAGS)
def _gelu_backward32_parts(x: Any, grad: Any, out: Any, tanh: bool, n: int) -> None:
    step = -(-x.size // n)
    for t in prange(n):
        gelu_backward32(x[t * step:(t + 1) * step], grad[t * step:(t + 1) * step],
                        out[t * step:(t + 1) * step], tanh)


def gelu(x: np.ndarray, out: np.ndarray, tanh: bool) -> None:
    """out = GELU(x), 1-d arrays; float32 in parts on numba's threads when large enough."""
    if x.dtype != np.float32:
        gelu64(x, out, tanh)
    elif (n := parts(x.size)) > 1:
        _gelu32_parts(x, out, tanh, n)
    else:
        gelu32(x, out, tanh)


def gelu_backward(x: np.ndarray, grad: np.ndarray, out: np.ndarray, tanh: bool) -> None:
    """out = grad * GELU'(x), 1-d arrays; split as gelu is."""
    if x.dtype != np.float32:
        gelu_backward64(x, grad, out, tanh)
    elif (n := parts(x.size)) > 1:
        _gelu_backward32_parts(x, grad, out, tanh, n)
    else:
        gelu_backward32(x, grad, out, tanh)


# -- layer_norm and rms_norm over rows of a 2-d array -------------------------------------------
# sums may be reassociated, which lets LLVM vectorize them (partial sums per SIMD lane); the
# statistics accumulate in float64
_RFLAGS: dict[str, Any] = {"cache": True, "fastmath": {"contract", "reassoc"},
                           "error_model": "numpy"}


@njit(**_RFLAGS)
def layer_norm(x: Any, w: Any, b: Any, eps: float, out: Any, mean: Any, rstd: Any) -> None:
    """out = (x - mean) * rstd * w + b for each row of x (M, N); w and b may be None."""
    m, n = x.shape
    for i in range(m):
        s = 0.0
        for j in range(n):
            s += x[i, j]
        mu = like(x, s / n)  # row statistics in float64, the elementwise passes in x's dtype
        v = 0.0
        for j in range(n):
            d = x[i, j] - mu
            v += d * d
        r = like(x, 1.0 / math.sqrt(v / n + eps))
        mean[i] = mu
        rstd[i] = r
        for j in range(n):
            y = (x[i, j] - mu) * r
            if w is not None:
                y = y * w[j]
            if b is not None:
                y = y + b[j]
            out[i, j] = y


@njit(**_RFLAGS)
def layer_norm_backward(g: Any, x: Any, mean: Any, rstd: Any, w: Any, gx: Any, gw: Any,
                        gb: Any) -> None:
    """gx = rstd (gh - mean(gh) - xhat mean(gh xhat)) per row, gh = g w; gw += g xhat and
    gb += g over rows (float64 accumulators). Any of w, gx, gw, gb may be None."""
    m, n = x.shape
    for i in range(m):
        mu = mean[i]
        r = rstd[i]
        a = 0.0
        c = 0.0
        for j in range(n):
            xh = (x[i, j] - mu) * r
            gh = g[i, j] * w[j] if w is not None else g[i, j]
            a += gh
            c += gh * xh
            if gw is not None:
                gw[j] += g[i, j] * xh
            if gb is not None:
                gb[j] += g[i, j]
        if gx is not None:
            a = like(x, a / n)
            c = like(x, c / n)
            for j in range(n):
                xh = (x[i, j] - mu) * r
                gh = g[i, j] * w[j] if w is not None else g[i, j]
                gx[i, j] = r * (gh - a - xh * c)


@njit(**_RFLAGS)
def rms_norm(x: Any, w: Any, eps: float, out: Any, rstd: Any) -> None:
    """out = x * rstd * w for each row of x (M, N), rstd = 1 / sqrt(mean(x^2) + eps)."""
    m, n = x.shape
    for i in range(m):
        s = 0.0
        for j in range(n):
            s += x[i, j] * x[i, j]
        r = like(x, 1.0 / math.sqrt(s / n + eps))
        rstd[i] = r
        for j in range(n):
            y = x[i, j] * r
            if w is not None:
                y = y * w[j]
            out[i, j] = y


@njit(**_RFLAGS)
def rms_norm_backward(g: Any, x: Any, rstd: Any, w: Any, gx: Any, gw: Any) -> None:
    """gx = rstd (gh - xhat mean(gh xhat)) per row, gh = g w; gw += g xhat over rows."""
    m, n = x.shape
    for i in range(m):
        r = rstd[i]
        c = 0.0
        for j in range(n):
            xh = x[i, j] * r
            gh = g[i, j] * w[j] if w is not None else g[i, j]
            c += gh * xh
            if gw is not None:
                gw[j] += g[i, j] * xh
        if gx is not None:
            c = like(x, c / n)
            for j in range(n):
                xh = x[i, j] * r
                gh = g[i, j] * w[j] if w is not None else g[i, j]
                gx[i, j] = r * (gh - xh * c)


# -- batch_norm over the channels of (N, C, S) ---------------------------------------------------
# The loops run over S innermost; for S == 1 (an (N, C) input) such a loop would run once per
# element, so that case has its own loops, over C innermost, which vectorize.
@njit(**_RFLAGS)
def batch_norm_stats(x: Any, mean: Any, var: Any) -> None:
    """mean and biased var (C,) of each channel of x (N, C, S) over (N, S): two passes, float64
    accumulators."""
    n, c, s = x.shape
    acc = np.zeros(c)
    sq = np.zeros(c)
    if s == 1:
        for i in range(n):
            for j in range(c):
                acc[j] += x[i, j, 0]
        acc /= n
        for i in range(n):
            for j in range(c):
                d = x[i, j, 0] - acc[j]
                sq[j] += d * d
    else:
        for i in range(n):
            for j in range(c):
                t = 0.0
                for k in range(s):
                    t += x[i, j, k]
                acc[j] += t
        acc /= n * s
        for i in range(n):
            for j in range(c):
                mu = acc[j]
                t = 0.0
                for k in range(s):
                    d = x[i, j, k] - mu
                    t += d * d
                sq[j] += t
    for j in range(c):
        mean[j] = acc[j]
        var[j] = sq[j] / (n * s)


@njit(**_RFLAGS)
def batch_norm(x: Any, mean: Any, scale: Any, shift: Any, out: Any) -> None:
    """out = (x - mean) * scale + shift per channel of x (N, C, S)."""
    n, c, s = x.shape
    if s == 1:
        for i in range(n):
            for j in range(c):
                out[i, j, 0] = (x[i, j, 0] - mean[j]) * scale[j] + shift[j]
        return
    for i in range(n):
        for j in range(c):
            mu = mean[j]
            a = scale[j]
            sh = shift[j]
            for k in range(s):
                out[i, j, k] = (x[i, j, k] - mu) * a + sh


@njit(**_RFLAGS)
def batch_norm_backward(g: Any, x: Any, mean: Any, rstd: Any, k: Any, training: bool,
                        sums: bool, gx: Any, sum_g: Any, sum_gxc: Any) -> None:
    """If ``sums``, sum_g += sum(g) and sum_gxc += sum(g (x - mean)) per channel of (N, C, S)
    (float64 zeros given); then gx = k g - k sum(g) / M - (x - mean) k rstd^2 sum_gxc / M in
    training (which needs the sums), k g in evaluation (k = w rstd); gx may be None."""
    n, c, s = x.shape
    m = n * s
    if sums and s == 1:
        for i in range(n):
            for j in range(c):
                sum_g[j] += g[i, j, 0]
                sum_gxc[j] += g[i, j, 0] * (x[i, j, 0] - mean[j])
    elif sums:
        for i in range(n):
            for j in range(c):
                mu = mean[j]
                t = 0.0
                u = 0.0
                for q in range(s):
                    t += g[i, j, q]
                    u += g[i, j, q] * (x[i, j, q] - mu)
                sum_g[j] += t
                sum_gxc[j] += u
    if gx is None:
        return
    # gx = k g + a (x - mean) + b, with a and b per channel (zero in evaluation)
    a = np.zeros(c, x.dtype)
    b = np.zeros(c, x.dtype)
    if training:
        for j in range(c):
            a[j] = -k[j] * rstd[j] * rstd[j] * sum_gxc[j] / m
            b[j] = -k[j] * sum_g[j] / m
    if s == 1:
        for i in range(n):
            for j in range(c):
                gx[i, j, 0] = k[j] * g[i, j, 0] + a[j] * (x[i, j, 0] - mean[j]) + b[j]
        return
    for i in range(n):
        for j in range(c):
            kj = k[j]
            aj = a[j]
            bj = b[j]
            mu = mean[j]
            for q in range(s):
                gx[i, j, q] = kj * g[i, j, q] + aj * (x[i, j, q] - mu) + bj


# -- softmax for attention ----------------------------------------------------------------------
# The scores come as q k^T, unscaled; the kernels scale them and, for is_causal, apply the mask
# themselves (query i of a row block of L sees keys j <= i): two passes over the (..., L, S)
# scores fewer, and no exp of the masked half. causal = L for that, 0 for none.
@njit(inline="always", **_FLAGS)
def _allowed(r: int, causal: int, ns: int) -> int:
    """How many keys row r of the scores may see."""
    return min(r % causal + 1, ns) if causal else ns


@njit(inline="always", **_FLAGS)
def _row_max(s: Any, r: int, n: int) -> Any:
    """max of s[r, :n] (n >= 1), in eight running maxima: one running max is a chain of
    dependent steps that LLVM does not vectorize."""
    m = s[r, 0]
    j = 1
    if n >= 16:
        m0, m1, m2, m3 = s[r, 0], s[r, 1], s[r, 2], s[r, 3]
        m4, m5, m6, m7 = s[r, 4], s[r, 5], s[r, 6], s[r, 7]
        j = n - n % 8
        for c in range(8, j, 8):
            m0, m1, m2, m3 = max(m0, s[r, c]), max(m1, s[r, c + 1]), max(m2, s[r, c + 2]), \
                max(m3, s[r, c + 3])
            m4, m5, m6, m7 = max(m4, s[r, c + 4]), max(m5, s[r, c + 5]), max(m6, s[r, c + 6]), \
                max(m7, s[r, c + 7])
        m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    for c in range(j, n):
        m = max(m, s[r, c])
    return m


def like(a: Any, v: Any) -> Any:
    """v in the array a's dtype: a float64 row statistic made float32 for a float32 row, so
    that the loops over the row stay float32 (a float64 operand would make them float64, with
    half the lanes and a conversion per element)."""
    return v


@overload(like, inline="always")
def _like(a: Any, v: Any) -> Any:
    def to32(a: Any, v: Any) -> Any:
        return np.float32(v)

    def same(a: Any, v: Any) -> Any:
        return v
    return to32 if a.dtype == types.float32 else same


def exp_nonpositive(y: Any) -> Any:
    """e^y for y <= 0 in y's precision: exp_neg32 for float32, libm's exp for float64 (numba
    picks one when it compiles the caller for a dtype)."""
    return math.exp(y)


@overload(exp_nonpositive, inline="always")
def _exp_nonpositive(y: Any) -> Any:
    def exp32(y: Any) -> Any:
        return exp_neg32(y)

    def exp64(y: Any) -> Any:
        return math.exp(y)
    return exp32 if y == types.float32 else exp64


@njit(**_RFLAGS)
def _softmax_lse(s: Any, lse: Any, scale: Any, causal: int) -> None:
    ns = s.shape[1]
    for r in range(s.shape[0]):
        n = _allowed(r, causal, ns)
        # the largest scaled score: scaling is monotone, so the largest (or, for a negative
        # scale, the smallest) score of the row, scaled; no pass writes the scaled scores
        if not n:
            m = f32(-np.inf)
        elif scale < 0:
            m = s[r, 0]
            for j in range(1, n):
                m = min(m, s[r, j])
        else:
            m = _row_max(s, r, n)
        m = m * scale
        if m == f32(-np.inf):  # every key masked out: zeros (torch's _safe_softmax)
            s[r, :] = 0
            lse[r] = np.inf
            continue
        t = f32(0)  # float32 constants: float64 where s is float64, float32 (not 64) where s is
        for j in range(ns):  # loops over whole rows (and selects) vectorize best
            e = exp_nonpositive(s[r, j] * scale - m)
            e = e if j < n else f32(0)
            s[r, j] = e
            t += e
        inv = f32(1) / t
        for j in range(ns):
            s[r, j] *= inv
        lse[r] = m + math.log(t)


@njit(**_FLAGS)
def _exp_shifted(s: Any, lse: Any, scale: Any, causal: int) -> None:
    ns = s.shape[1]
    for r in range(s.shape[0]):
        c = lse[r]
        n = _allowed(r, causal, ns)
        for j in range(ns):
            e = exp_nonpositive(s[r, j] * scale - c)
            s[r, j] = e if j < n else f32(0)


def exp_shifted(s: np.ndarray, lse: np.ndarray, scale: float = 1.0, causal: int = 0) -> None:
    """s = exp(s scale - lse) for each row of s (R, S) in place, lse (R,): attention's backward
    recomputing the softmax from the scores and the forward's log-sum-exp (s scale <= lse, and
    +inf for a masked row gives zeros); with ``causal`` = L, 0 where a key is masked."""
    n = parts(s.size)
    if n > 1:
        _exp_shifted_parts(s, lse, s.dtype.type(scale), causal, _row_step(len(s), n, causal))
    else:
        _exp_shifted(s, lse, s.dtype.type(scale), causal)


def _row_step(rows: int, n: int, causal: int) -> int:
    """Rows per part when ``rows`` are split in n: a multiple of the causal L (each part then
    starts at a query 0, as the row-to-query rule r % L needs)."""
    step = -(-rows // n)
    return -(-step // causal) * causal if causal else step


@njit(**_PFLAGS)
def _exp_shifted_parts(s: Any, lse: Any, scale: Any, causal: int, step: int) -> None:
    for t in prange(-(-s.shape[0] // step)):
        _exp_shifted(s[t * step:(t + 1) * step], lse[t * step:(t + 1) * step], scale, causal)


def softmax_backward_rows(p: np.ndarray, dp: np.ndarray, delta: np.ndarray,
                          scale: Any) -> None:
    """dp = p * (dp - delta) * scale for each row of p, dp (R, S) in place; delta (R,) is each
    row's sum of dp * p (softmax's backward: dS = P (dP - rowsum(dP P))), and the scale is the
    scores' (attention's dq and dk then need no multiplication of their own)."""
    n = parts(p.size)
    if n > 1:
        _softmax_backward_rows_parts(p, dp, delta, scale, _row_step(len(p), n, 0))
    else:
        _softmax_backward_rows(p, dp, delta, scale)


@njit(**_PFLAGS)
def _softmax_backward_rows_parts(p: Any, dp: Any, delta: Any, scale: Any, step: int) -> None:
    for t in prange(-(-p.shape[0] // step)):
        _softmax_backward_rows(p[t * step:(t + 1) * step], dp[t * step:(t + 1) * step],
                               delta[t * step:(t + 1) * step], scale)


@njit(**_FLAGS)
def _softmax_backward_rows(p: Any, dp: Any, delta: Any, scale: Any) -> None:
    for i in range(p.shape[0]):
        d = delta[i]
        for j in range(p.shape[1]):
            dp[i, j] = p[i, j] * (dp[i, j] - d) * scale


def softmax_lse(s: np.ndarray, lse: np.ndarray, scale: float = 1.0, causal: int = 0) -> None:
    """softmax of each row of s (R, S) times scale, in place, and each row's log-sum-exp into
    lse (R,); with ``causal`` = L, row r sees keys j <= r % L, the others get 0. A row of -inf
    becomes zeros with lse = +inf."""
    n = parts(s.size)
    if n > 1:
        _softmax_lse_parts(s, lse, s.dtype.type(scale), causal, _row_step(len(s), n, causal))
    else:
        _softmax_lse(s, lse, s.dtype.type(scale), causal)


@njit(**_PFLAGS)
def _softmax_lse_parts(s: Any, lse: Any, scale: Any, causal: int, step: int) -> None:
    for t in prange(-(-s.shape[0] // step)):
        _softmax_lse(s[t * step:(t + 1) * step], lse[t * step:(t + 1) * step], scale, causal)


# -- log_softmax over the last dim ---------------------------------------------------------------
# A language model's decoder ends in log_softmax over its vocabulary: rows of thousands. NumPy
# makes that five passes over (rows, V) and two temporaries of its size; here each row is read
# twice while it sits in cache and written once. The rows' maxima come from NumPy (its max
# vectorizes; _row_max's eight running maxima took twice as long on rows of 10k). The exp sum
# accumulates in float64.
@njit(**_RFLAGS)
def _log_softmax_rows(x: Any, m: Any, out: Any) -> None:
    n = x.shape[1]
    for r in range(x.shape[0]):
        mr = m[r]  # a nan in the row makes its max, the sum and so the whole row nan
        t = 0.0
        for j in range(n):
            t += exp_nonpositive(x[r, j] - mr)
        c = like(x, math.log(t))
        for j in range(n):
            out[r, j] = (x[r, j] - mr) - c  # NumPy's order: (x - max) - log(sum)


@njit(**_RFLAGS)
def _log_softmax_backward_rows(grad: Any, out: Any, gx: Any) -> None:
    n = grad.shape[1]
    for r in range(grad.shape[0]):
        t = 0.0
        for j in range(n):
            t += grad[r, j]
        s = like(grad, t)
        for j in range(n):
            gx[r, j] = grad[r, j] - exp_nonpositive(out[r, j]) * s


@njit(**_PFLAGS)
def _log_softmax_parts(x: Any, m: Any, out: Any, step: int) -> None:
    for t in prange(-(-x.shape[0] // step)):
        a, b = t * step, (t + 1) * step
        _log_softmax_rows(x[a:b], m[a:b], out[a:b])


@njit(**_PFLAGS)
def _log_softmax_backward_parts(grad: Any, out: Any, gx: Any, step: int) -> None:
    for t in prange(-(-grad.shape[0] // step)):
        a, b = t * step, (t + 1) * step
        _log_softmax_backward_rows(grad[a:b], out[a:b], gx[a:b])


def log_softmax_rows(x: np.ndarray, out: np.ndarray) -> None:
    """out = x - max - log(sum(exp(x - max))) for each row of x (R, V), V >= 1."""
    m = x.max(axis=1)
    n = parts(x.size)
    if n > 1:
        _log_softmax_parts(x, m, out, _row_step(len(x), n, 0))
    else:
        _log_softmax_rows(x, m, out)


def log_softmax_backward_rows(grad: np.ndarray, out: np.ndarray, gx: np.ndarray) -> None:
    """gx = grad - exp(out) * sum(grad) for each row (R, V): log_softmax's backward from its
    output."""
    n = parts(grad.size)
    if n > 1:
        _log_softmax_backward_parts(grad, out, gx, _row_step(len(grad), n, 0))
    else:
        _log_softmax_backward_rows(grad, out, gx)


# -- batched matmul -----------------------------------------------------------------------------
def _blas_operand(x: np.ndarray) -> tuple[int, int] | None:
    """(CblasNoTrans or CblasTrans, leading dimension) for the matrices of x (..., r, c) as
    BLAS reads them, or None where neither of the two dims is unit-stride."""
    item, (s0, s1), (r, c) = x.itemsize, x.strides[-2:], x.shape[-2:]
    if s1 == item and s0 % item == 0 and s0 // item >= c:
        return 111, s0 // item
    if s0 == item and s1 % item == 0 and s1 // item >= r:
        return 112, s1 // item
    return None


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """out = a @ b for 4-d float arrays of one dtype (the leading dims broadcast) with the
    products split over the shared pool (ndgrad.ops._pool.bmm), where that pays; False where
    the caller should use np.matmul instead (nothing was written)."""
    if a.ndim != 4 or b.ndim != 4 or out.ndim != 4 or not (a.dtype == b.dtype == out.dtype):
        return False
    m, k, n = a.shape[2], a.shape[3], b.shape[3]
    fn = pool_gemm(a.dtype.char)
    if not fn or not m or not n or not k or m * n * k > SINGLE or out.strides[3] != out.itemsize \
            or out.strides[2] < n * out.itemsize or parts(out.size) < 2:
        return False
    opa, opb = _blas_operand(a), _blas_operand(b)
    if opa is None or opb is None:
        return False
    lead = out.shape[:2]
    if a.shape[:2] != lead:  # (np.broadcast_to costs 9 us: only where a batch dim is 1)
        a = np.broadcast_to(a, lead + a.shape[2:])
    if b.shape[:2] != lead:
        b = np.broadcast_to(b, lead + b.shape[2:])
    bmm(fn, a, b, out, opa[0], opa[1], opb[0], opb[1], pool_words() + 8)
    return True


# -- Adam ---------------------------------------------------------------------------------------
@njit(**_FLAGS)
def adam_update(p: Any, g: Any, m: Any, v: Any, vmax: Any, h: Any, coupled: bool,
                maximize: bool, lerp_small: bool) -> None:
    """One Adam step of one parameter, in place, in one pass over its flat arrays: what
    ndgrad.optim.Adam.step does in about a dozen NumPy calls, in the same order of operations.
    h holds the hyperparameters in the parameter's dtype: (decay = 1 - lr wd, weight_decay,
    w = 1 - beta1, 1 - w, beta2, 1 - beta2, eps, lr / (1 - beta1^t), sqrt(1 - beta2^t)); vmax
    is the amsgrad state or None."""
    decay, wd, w1, w1c, b2, c2 = h[0], h[1], h[2], h[3], h[4], h[5]
    eps, step_size, bc2 = h[6], h[7], h[8]
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if coupled:
            gi = pi * wd + gi
        else:
            pi = pi * decay
        mi = m[i]
        if lerp_small:  # torch's lerp: x + w (end - x) for w < 0.5, else end - (end - x)(1 - w)
            mi = mi + (gi - mi) * w1
        else:
            mi = gi - (gi - mi) * w1c
        vi = v[i] * b2 + (gi * c2) * gi
        m[i] = mi
        v[i] = vi
        if vmax is not None:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        p[i] = pi - (mi * step_size) / (np.sqrt(vi) / bc2 + eps)


# -- SGD ----------------------------------------------------------------------------------------
@njit(**_FLAGS)
def sgd_update(p: Any, g: Any, buf: Any, h: Any, first: bool, nesterov: bool, maximize: bool,
               damped: bool) -> None:
    """One SGD step of one parameter, in place, in one pass over its flat arrays: what
    ndgrad.optim.SGD.step does in five to eight NumPy calls, in the same order of operations.
    h holds (lr, momentum, 1 - dampening, weight_decay) in the parameter's dtype; buf is the
    momentum buffer (written with the gradient on the ``first`` step) or None without
    momentum."""
    lr, momentum, undamped, wd = h[0], h[1], h[2], h[3]
    for i in range(p.size):
        gi = g[i]
        if wd != 0:
            gi = p[i] * wd - gi if maximize else p[i] * wd + gi
        elif maximize:
            gi = -gi
        if buf is not None:
            if first:
                bi = gi
            elif damped:
                bi = buf[i] * momentum + gi * undamped
            else:
                bi = buf[i] * momentum + gi
            buf[i] = bi
            gi = gi + bi * momentum if nesterov else bi
        p[i] = p[i] - gi * lr
