"""ndgrad.quasirandom.SobolEngine against torch.quasirandom.SobolEngine. Unscrambled points
are compared bit for bit (all 21201 dimensions' direction numbers, draws, fast_forward, reset,
dtypes, out=); scrambled ones take their random bits from ndgrad's generator, so they are
checked by the scramble kernel on equal bits, by the whole engine fed torch's bits, and by
properties: range, shape, the net's stratification, reproducibility under a seed."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.quasirandom import SobolEngine as TorchSobol

import ndgrad
from ndgrad import quasirandom
from ndgrad.quasirandom import SobolEngine


def same(a, b):
    assert a.dtype == getattr(ndgrad, str(b.dtype).split(".")[1])
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_direction_numbers_of_all_dimensions_are_torchs():
    ours = quasirandom._initial_state(SobolEngine.MAXDIM, SobolEngine.MAXBIT)
    np.testing.assert_array_equal(ours, TorchSobol(SobolEngine.MAXDIM).sobolstate.numpy())


def test_packed_table_round_trips_joe_kuos():
    # scipy's copy of Joe and Kuo's table (found without importing scipy.stats: 1.5 s)
    spec = importlib.util.find_spec("scipy")
    if spec is None or spec.origin is None:
        pytest.skip("scipy is not installed")
    path = Path(spec.origin).parent / "stats" / "_sobol_direction_numbers.npz"
    if not path.exists():
        pytest.skip("scipy ships no copy of the table")
    with np.load(path) as f:
        poly, vinit = f["poly"], f["vinit"]
    packed = quasirandom.pack_direction_numbers(poly, vinit)
    with np.load(quasirandom._DATA) as f:
        np.testing.assert_array_equal(packed["bits"], f["bits"])
    p, v = quasirandom._unpack(packed, len(poly))
    np.testing.assert_array_equal(p, poly)
    np.testing.assert_array_equal(v, vinit)


@pytest.mark.parametrize("dim", [1, 2, 7, 300])
def test_draws_match_torch(dim):
    a, b = SobolEngine(dim), TorchSobol(dim)
    for n in [1, 5, 16, 1, 0, 37]:
        same(a.draw(n), b.draw(n))
        assert a.num_generated == b.num_generated
    same(a.draw(3, dtype=ndgrad.float64), b.draw(3, dtype=torch.float64))
    np.testing.assert_array_equal(a.quasi.numpy(), b.quasi.numpy())


def test_first_draw_of_many_and_base2():
    a, b = SobolEngine(4), TorchSobol(4)
    same(a.draw_base2(3), b.draw_base2(3))
    same(a.draw_base2(3), b.draw_base2(3))
    with pytest.raises(ValueError, match="power of 2") as ours:
        a.draw(1), a.draw_base2(2)
    with pytest.raises(ValueError, match="power of 2") as theirs:
        b.draw(1), b.draw_base2(2)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("pre", [0, 1, 6])
@pytest.mark.parametrize("skip", [0, 1, 2, 63, 1000, 123457])
def test_fast_forward_matches_torch(pre, skip):
    a, b = SobolEngine(5), TorchSobol(5)
    a.draw(pre) if pre else None
    b.draw(pre) if pre else None
    assert a.fast_forward(skip) is a
    b.fast_forward(skip)
    assert a.num_generated == b.num_generated
    same(a.draw(9, dtype=ndgrad.float64), b.draw(9, dtype=torch.float64))


def test_fast_forward_equals_drawing():
    a, b = SobolEngine(3), SobolEngine(3)
    a.draw(77)
    b.fast_forward(77)
    np.testing.assert_array_equal(a.draw(4).numpy(), b.draw(4).numpy())


def test_negative_fast_forward_as_torch():
    a, b = SobolEngine(3).fast_forward(-3), TorchSobol(3).fast_forward(-3)
    same(a.draw(4), b.draw(4))


def test_reset_and_out():
    a, b = SobolEngine(3), TorchSobol(3)
    a.draw(10), b.draw(10)
    assert a.reset() is a
    b.reset()
    out_a, out_b = ndgrad.empty(0, dtype=ndgrad.float64), torch.empty(0, dtype=torch.float64)
    assert a.draw(6, out=out_a) is out_a
    b.draw(6, out=out_b)
    same(out_a, out_b)


def test_default_dtype_is_followed():
    ndgrad.set_default_dtype(ndgrad.float64)
    try:
        e = SobolEngine(2)
        assert e.draw(3).dtype == ndgrad.float64
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)
    assert e.draw(2).dtype == ndgrad.float32


def test_float32_rounding_as_torch():
    # 30-bit integers round to float32 before scaling: late points need it to match
    a, b = SobolEngine(6).fast_forward(2**20 + 5), TorchSobol(6).fast_forward(2**20 + 5)
    same(a.draw(50), b.draw(50))


def test_errors_and_repr():
    for dim in [0, 21202, -1]:
        with pytest.raises(ValueError, match=r"\[1, 21201\]"):
            SobolEngine(dim)
    with pytest.raises(RuntimeError, match="negative dimension"):
        SobolEngine(3).draw(0)  # torch too: the first draw asks for n - 1 more points
    with pytest.raises(NotImplementedError):
        SobolEngine(3).draw(2, dtype=ndgrad.int64)
    with pytest.raises(TypeError):
        SobolEngine(3).draw_base2(-1)
    for args in [(3,), (3, True), (3, True, 7), (3, False, 0)]:
        assert repr(SobolEngine(*args)) == repr(TorchSobol(*args))
    e = SobolEngine(4, scramble=True, seed=5)
    assert (e.dimension, e.scramble, e.seed, e.num_generated) == (4, True, 5, 0)


def test_scramble_kernel_matches_torch_on_the_same_bits():
    dim = 6
    state = quasirandom._initial_state(dim, 30)
    ltm = np.tril(np.random.default_rng(0).integers(0, 2, (dim, 30, 30)))
    theirs = torch.tensor(state)
    torch._sobol_engine_scramble_(theirs, torch.tensor(ltm), dim)
    np.testing.assert_array_equal(quasirandom._scramble(state, ltm), theirs.numpy())


def test_scrambled_engine_matches_torch_given_torchs_bits(monkeypatch):
    def torch_bits(self):
        g = torch.Generator().manual_seed(self.seed)
        shift = torch.randint(2, (self.dimension, 30), generator=g)
        ltm = torch.randint(2, (self.dimension, 30, 30), generator=g).tril()
        return shift.numpy(), ltm.numpy()

    monkeypatch.setattr(SobolEngine, "_random_bits", torch_bits)
    for dtype in ["float32", "float64"]:
        a, b = SobolEngine(5, scramble=True, seed=11), TorchSobol(5, scramble=True, seed=11)
        same(a.draw(13, dtype=getattr(ndgrad, dtype)), b.draw(13, dtype=getattr(torch, dtype)))
        a.fast_forward(100), b.fast_forward(100)
        same(a.draw(7), b.draw(7))
        a.reset(), b.reset()
        same(a.draw(1), b.draw(1))


def test_scrambled_properties():
    m, dim = 7, 4
    x = SobolEngine(dim, scramble=True, seed=1).draw_base2(m, dtype=ndgrad.float64).numpy()
    assert x.shape == (2**m, dim) and (x >= 0).all() and (x < 1).all()
    assert len(np.unique(x[:, 0])) == 2**m
    # dims 0 and 1 form a (0, m, 2)-net, which scrambling keeps: every box of volume 2**-m
    # with sides 2**-a by 2**-(m - a) holds exactly one point
    for a in range(m + 1):
        cells = np.floor(x[:, 0] * 2**a) * 2 ** (m - a) + np.floor(x[:, 1] * 2 ** (m - a))
        assert len(np.unique(cells)) == 2**m
    for d in range(dim):  # one point in each of the 2**m intervals of every coordinate
        assert len(np.unique(np.floor(x[:, d] * 2**m))) == 2**m
    assert abs(x.mean() - 0.5) < 0.02


def test_scrambled_reproducible_under_a_seed_and_the_global_generator():
    a = SobolEngine(3, scramble=True, seed=42).draw(8)
    b = SobolEngine(3, scramble=True, seed=42).draw(8)
    c = SobolEngine(3, scramble=True, seed=43).draw(8)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    ndgrad.manual_seed(0)
    d = SobolEngine(3, scramble=True).draw(8)
    ndgrad.manual_seed(0)
    np.testing.assert_array_equal(d.numpy(), SobolEngine(3, scramble=True).draw(8).numpy())


def test_reachable_as_torch_quasirandom():
    import ndgrad.quasirandom as qr
    assert ndgrad.quasirandom is qr
