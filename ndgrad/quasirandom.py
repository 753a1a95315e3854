"""torch.quasirandom: ``SobolEngine``, (scrambled) Sobol' low-discrepancy sequences in up to
21201 dimensions, the same points as torch's.

The direction numbers are Joe and Kuo's ``new-joe-kuo-6.21201`` (search criterion D(6); S. Joe
and F. Y. Kuo, "Constructing Sobol sequences with better two-dimensional projections", SIAM J.
Sci. Comput. 30 (2008), https://web.maths.unsw.edu.au/~fkuo/sobol/), the table torch uses.
``_sobol_data.npz`` holds it bit-packed (394 KB instead of the text file's 1.8 MB; see
``pack_direction_numbers``; made from SciPy's copy of the table, checked by the tests against
it and against torch's state for all 21201 dimensions; its licence is in
``_sobol_data.LICENSE.txt``) and is read on first use, for the dimensions asked for.

Point k (k >= 1) of dimension d is ``x_k = x_{k-1} XOR v[d, c]``, where c counts the trailing
one bits of k - 1 (Antonov and Saleev's Gray-code order) and v[d] are the 30 direction numbers
(``sobolstate``), as 30-bit integers over 2**30. Scrambling (Owen 1998) multiplies each
dimension's direction numbers by a random lower-triangular binary matrix with a unit diagonal
(a linear matrix scramble) and starts from a random digital shift; the random bits come from
ndgrad's generator, so scrambled points have torch's distribution but not its bits.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.tensor.core import Tensor

__all__ = ["SobolEngine"]

_DATA = Path(__file__).with_name("_sobol_data.npz")
_MAXDEG = 18  # the largest degree of a primitive polynomial in the table
_table: dict[str, np.ndarray] = {}


def _field_widths(degrees: np.ndarray) -> np.ndarray:
    """Bit widths of each dimension's fields, in order: the polynomial's s - 1 inner
    coefficients ``a``, then m_2..m_s without their (always set) lowest bit: i - 1 bits for
    m_i (m_1 = 1 is not stored). Dimension 0 (degree 0) has no fields."""
    widths = [[s - 1] + list(range(1, s)) for s in degrees.tolist() if s > 0]
    return np.array([w for ws in widths for w in ws], dtype=np.int64)


def pack_direction_numbers(poly: np.ndarray, vinit: np.ndarray) -> dict[str, np.ndarray]:
    """Joe and Kuo's table (``poly[d]``: the primitive polynomial's bits, leading and trailing
    ones included; ``vinit[d, i]``: m_{i+1}) as the arrays stored in ``_sobol_data.npz``: dims
    must come in order of degree, as in Joe and Kuo's file. The inverse of ``_unpack``."""
    degrees = np.array([int(p).bit_length() - 1 for p in poly.tolist()], dtype=np.int64)
    if np.any(np.diff(degrees) < 0):
        raise ValueError("the dimensions must be sorted by degree")
    values = []
    for s in range(1, _MAXDEG + 1):  # the dims of one degree: rows of s fields each
        rows = np.nonzero(degrees == s)[0]
        a = (poly[rows].astype(np.int64) >> 1) & ((1 << (s - 1)) - 1)  # drop the outer 1s
        values.append(np.column_stack([a, vinit[rows, 1:s].astype(np.int64) >> 1]).ravel())
    widths = _field_widths(degrees)
    vals = np.concatenate(values)
    shifts = widths[:, None] - 1 - np.arange(_MAXDEG)  # MSB first
    bits = (vals[:, None] >> np.maximum(shifts, 0)) & 1
    bits = bits[np.arange(_MAXDEG) < widths[:, None]]
    return {"degree_counts": np.bincount(degrees, minlength=_MAXDEG + 1).astype(np.int32),
            "bits": np.packbits(bits.astype(np.uint8))}


def _unpack(packed: dict[str, np.ndarray], dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(poly, vinit) of the first ``dims`` dimensions, vinit (dims, 18) as torch's initial
    state (m_1..m_s, zero after)."""
    degrees = np.repeat(np.arange(_MAXDEG + 1), packed["degree_counts"])[:dims]
    widths = _field_widths(degrees)
    ends = np.cumsum(widths)
    starts = ends - widths
    total = int(ends[-1]) if len(ends) else 0
    bits = np.unpackbits(packed["bits"], count=total).astype(np.int64)
    bits = np.append(bits, np.zeros(_MAXDEG, np.int64))  # room for the gather below
    take = bits[starts[:, None] + np.arange(_MAXDEG)]
    weights = np.where(np.arange(_MAXDEG) < widths[:, None],
                       np.left_shift(1, np.maximum(widths[:, None] - 1 - np.arange(_MAXDEG), 0)),
                       0)
    values = (take * weights).sum(axis=1)
    poly = np.ones(dims, dtype=np.int64)
    vinit = np.zeros((dims, _MAXDEG), dtype=np.int64)
    vinit[:, 0] = 1
    pos = 0
    for s in range(1, _MAXDEG + 1):  # the dims of one degree: rows of s fields each
        rows = np.nonzero(degrees == s)[0]
        fields = values[pos:pos + s * len(rows)].reshape(len(rows), s)
        poly[rows] = (1 << s) | (fields[:, 0] << 1) | 1
        vinit[rows, 1:s] = (fields[:, 1:] << 1) | 1
        pos += s * len(rows)
    return poly, vinit


def _direction_table(dims: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``dims`` rows of Joe and Kuo's table, read from the packaged file once."""
    if not _table:
        with np.load(_DATA) as f:
            _table.update(degree_counts=f["degree_counts"], bits=f["bits"])
    return _unpack(_table, dims)


def _initial_state(dimension: int, maxbit: int) -> np.ndarray:
    """sobolstate (dimension, maxbit) int64: the direction numbers v[d, j] as integers over
    2**maxbit. Dimension 0 is van der Corput's (all m_j = 1); the others extend their initial
    m_1..m_s by Bratley and Fox's recurrence (Algorithm 659): m_j = 2^s m_{j-s} XOR m_{j-s}
    XOR sum over the polynomial's inner bits a_k of 2^k m_{j-k}."""
    poly, vinit = _direction_table(dimension)
    ss = np.zeros((dimension, maxbit), dtype=np.int64)
    ss[0] = 1
    degrees = np.array([int(p).bit_length() - 1 for p in poly.tolist()])
    for s in np.unique(degrees[1:]).tolist():
        rows = np.nonzero(degrees == s)[0]
        m = np.zeros((len(rows), maxbit), dtype=np.int64)
        m[:, :s] = vinit[rows, :s]
        p = poly[rows]
        for j in range(s, maxbit):
            newv = m[:, j - s].copy()
            for k in range(s):
                use = ((p >> (s - 1 - k)) & 1).astype(bool)
                newv ^= np.where(use, m[:, j - k - 1] << (k + 1), 0)
            m[:, j] = newv
        ss[rows] = m
    return ss << np.arange(maxbit - 1, -1, -1)  # column j times 2**(maxbit - 1 - j)


def _trailing_ones(counters: np.ndarray) -> np.ndarray:
    """For each counter c: how many one bits c ends with (0 for a negative c, as torch's C++
    loop ``while (z % 2 == 1)`` gives)."""
    x = counters + 1
    low = x & -x  # the lowest set bit of c + 1 sits where c's trailing ones end
    ones = np.frexp(low.astype(np.float64))[1] - 1
    return np.where(counters < 0, 0, ones)


def _scramble(ss: np.ndarray, ltm: np.ndarray) -> np.ndarray:
    """Owen's linear matrix scramble: each v[d, j] (maxbit bits, most significant first) times
    dimension d's lower-triangular binary matrix (its diagonal set to 1), over GF(2)."""
    maxbit = ss.shape[1]
    ltm = ltm.copy()
    ltm[:, np.arange(maxbit), np.arange(maxbit)] = 1
    rows = (ltm << np.arange(maxbit - 1, -1, -1)).sum(-1)  # (D, maxbit): row p as an integer
    parity = np.bitwise_count(rows[:, None, :] & ss[:, :, None]) & 1  # (D, j, p)
    return (parity.astype(np.int64) << np.arange(maxbit - 1, -1, -1)).sum(-1)


def _float_dtype(dtype: Any) -> np.dtype:
    nd = _dtype.default_float() if dtype is None else _dtype.to_np(dtype)
    if nd.kind != "f" or nd.itemsize < 4:
        raise NotImplementedError(f'"_sobol_engine_draw" not implemented for '
                                  f"'{_dtype.scalar_name(nd)}'")
    return nd


class SobolEngine:
    """An engine drawing (scrambled) Sobol' points in [0, 1)^dimension, as
    ``torch.quasirandom.SobolEngine``: unscrambled, the same points as torch's, bit for bit.

    ``scramble=True`` applies a random linear matrix scramble and digital shift (Owen), drawn
    from ``ndgrad.Generator().manual_seed(seed)`` if ``seed`` is given, else from the global
    generator: reproducible under a seed, but not torch's bits (its generator differs)."""

    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension: int, scramble: bool = False, seed: int | None = None) -> None:
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError("Supported range of dimensionality "
                             f"for SobolEngine is [1, {self.MAXDIM}]")
        dimension = operator.index(dimension)
        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        state = _initial_state(dimension, self.MAXBIT)
        if not self.scramble:
            shift = np.zeros(dimension, dtype=np.int64)
        else:
            state, shift = self._scrambled(state)
        self.sobolstate = Tensor._make(state)
        self.shift = Tensor._make(shift)
        self.quasi = Tensor._make(shift.copy())
        # as torch: quasi / 2**MAXBIT in the default dtype of the time of construction
        first = shift.astype(_dtype.default_float()) / 2**self.MAXBIT
        self._first_point = Tensor._make(first.reshape(1, -1))
        self.num_generated = 0

    def _random_bits(self) -> tuple[np.ndarray, np.ndarray]:
        """(shift bits (D, 30), lower-triangular matrices (D, 30, 30)): random 0/1 drawn in
        torch's order, from a generator seeded with ``seed``, else from the global one."""
        from ndgrad.random import Generator
        from ndgrad.tensor.creation import randint

        g = None if self.seed is None else Generator().manual_seed(self.seed)
        shift_bits = randint(2, (self.dimension, self.MAXBIT), generator=g)._data
        ltm = randint(2, (self.dimension, self.MAXBIT, self.MAXBIT), generator=g)._data
        return shift_bits, np.tril(ltm)

    def _scrambled(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scrambled state, digital shift), as torch's ``_scramble``."""
        shift_bits, ltm = self._random_bits()
        shift = shift_bits.astype(np.int64) @ (1 << np.arange(self.MAXBIT, dtype=np.int64))
        return _scramble(state, ltm.astype(np.int64)), shift

    def _advance(self, n: int, counter: int) -> np.ndarray:
        """The next n states (n, dimension) from ``self.quasi``, counting from ``counter``,
        and move ``self.quasi`` to the last."""
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"[{n}, {self.dimension}]")
        cols = _trailing_ones(counter + np.arange(n, dtype=np.int64))
        steps = self.sobolstate._data.T[cols]  # (n, dimension): the direction XORed in
        states = np.bitwise_xor.accumulate(steps, axis=0) ^ self.quasi._data
        if n:
            self.quasi = Tensor._make(states[-1].copy())
        return states

    def draw(self, n: int = 1, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        """The next ``n`` points, (n, dimension), in ``dtype`` (the default float dtype if
        None); written into ``out`` (resized) if given."""
        nd = _float_dtype(dtype)
        scale = nd.type(2.0**-self.MAXBIT)
        if self.num_generated == 0:
            first = self._first_point._data.astype(nd)
            if n == 1:
                result = first
            else:
                rest = self._advance(n - 1, self.num_generated)
                result = np.concatenate([first, rest.astype(nd) * scale])
        else:
            result = self._advance(n, self.num_generated - 1).astype(nd) * scale
        self.num_generated += n
        res = Tensor._make(result)
        if out is not None:
            out.resize_as_(res).copy_(res)
            return out
        return res

    def draw_base2(self, m: int, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        """The next 2**m points; the total drawn must stay a power of 2 (the balance
        properties of Sobol' points hold for such prefixes)."""
        n = 2**m
        total_n = self.num_generated + n
        if not (total_n & (total_n - 1) == 0):
            raise ValueError("The balance properties of Sobol' points require "
                             f"n to be a power of 2. {self.num_generated} points have been "
                             f"previously generated, then: n={self.num_generated}+2**{m}="
                             f"{total_n}. If you still want to do this, please use "
                             "'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self) -> SobolEngine:
        """Back to the first point (the scramble is kept)."""
        self.quasi = Tensor._make(self.shift._data.copy())
        self.num_generated = 0
        return self

    def _skip(self, n: int, counter: int) -> None:
        """Move ``self.quasi`` n steps on from ``counter`` without forming the points: step c
        flips direction number t(c) (the trailing ones of c), which is the bit where the Gray
        codes of c and c + 1 differ, so n steps flip the bits of gray(c) XOR gray(c + n)."""
        if n <= 0:
            return
        if counter < 0:  # torch's C++ loop on a negative counter (after fast_forward(-k))
            self._advance(n, counter)
            return
        flips = (counter ^ (counter >> 1)) ^ ((counter + n) ^ ((counter + n) >> 1))
        cols = [j for j in range(self.MAXBIT) if flips >> j & 1]
        quasi = self.quasi._data.copy()
        for j in cols:
            quasi ^= self.sobolstate._data[:, j]
        self.quasi = Tensor._make(quasi)

    def fast_forward(self, n: int) -> SobolEngine:
        """Skip ``n`` points, as drawing and discarding them would (in O(dimension) time)."""
        if self.num_generated == 0:
            self._skip(n - 1, self.num_generated)
        else:
            self._skip(n, self.num_generated - 1)
        self.num_generated += n
        return self

    def __repr__(self) -> str:
        fmt_string = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt_string += ["scramble=True"]
        if self.seed is not None:
            fmt_string += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt_string) + ")"
