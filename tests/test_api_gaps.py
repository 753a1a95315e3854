"""Smaller top-level functions against torch: segment_reduce (values and gradients, lengths and
offsets, any axis, initial), the sym_* helpers on plain numbers and tensors, and the autocast
state functions, wired to ndgrad.autocast."""

import threading
import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close

import ndgrad

REDUCES = ["sum", "mean", "max", "min", "prod", "amax", "amin"]
# (data shape, axis, lengths): one set of segments per index of the dims before axis
CASES = [((6, 3), 0, [2, 0, 3, 1]),
         ((5,), 0, [5]),
         ((3, 7, 2), 1, [[2, 0, 5], [7, 0, 0], [1, 1, 5]]),
         ((3, 7), -1, [[2, 0, 5], [7, 0, 0], [0, 0, 7]])]


def _segments(lib, kind, lengths):
    lengths = np.array(lengths)
    if kind == "lengths":
        return {"lengths": lib.tensor(lengths)}
    zero = np.zeros((*lengths.shape[:-1], 1), np.int64)
    return {"offsets": lib.tensor(np.concatenate([zero, lengths.cumsum(-1)], -1))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("initial", [None, 0.5, -1.0])
@pytest.mark.parametrize("kind", ["lengths", "offsets"])
@pytest.mark.parametrize("reduce", REDUCES)
def test_segment_reduce_matches_torch(reduce, kind, initial, dtype):
    rng = np.random.default_rng(0)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for shape, axis, lengths in CASES:
        x = rng.standard_normal(shape).astype(dtype)
        out = {}
        for lib in (ndgrad, torch):
            data = lib.tensor(x, requires_grad=True)
            res = lib.segment_reduce(data, reduce, axis=axis, initial=initial,
                                     **_segments(lib, kind, lengths))
            g = np.random.default_rng(1).standard_normal(tuple(res.shape)).astype(dtype)
            (res * lib.tensor(g)).sum().backward()
            out[lib] = (res, data.grad)
        what = f"{reduce} {kind} {shape} axis={axis} initial={initial}"
        assert_close(out[ndgrad][0], out[torch][0], dtype, what, **tol)
        assert_close(out[ndgrad][1], out[torch][1], dtype, what + " grad", **tol)


def test_segment_reduce_empty_segments_and_offsets_window():
    x = np.arange(12.0).reshape(4, 3)
    for lib in (ndgrad, torch):
        assert lib.segment_reduce(lib.tensor(x), "mean", lengths=lib.tensor([0, 4])).shape == (2, 3)
    cases = [dict(offsets=[1, 3]), dict(offsets=[0]), dict(lengths=[1, 1], unsafe=True),
             dict(lengths=[4], offsets=[0, 1, 2])]  # (offsets win over lengths)
    for kw in cases:
        res = [lib.segment_reduce(lib.tensor(x), "sum", **{
            k: lib.tensor(v) if isinstance(v, list) else v for k, v in kw.items()})
            for lib in (ndgrad, torch)]
        assert_close(*res, what=str(kw))


def test_segment_reduce_double_backward():
    # torch has no double backward here; ndgrad's composite has: check it numerically
    x = ndgrad.tensor(np.random.default_rng(2).uniform(0.5, 2, (5, 2)), requires_grad=True)
    lengths = ndgrad.tensor([2, 3])

    def f(t):
        (g,) = ndgrad.autograd.grad(ndgrad.segment_reduce(t, "prod", lengths=lengths)
                                    .square().sum(), t, create_graph=True)
        return g

    assert ndgrad.autograd.gradcheck(f, (x,))


@pytest.mark.parametrize("call,error", [
    (lambda lib, d: lib.segment_reduce(d, "sum", lengths=lib.tensor([1, 1])), RuntimeError),
    (lambda lib, d: lib.segment_reduce(d, "sum", lengths=lib.tensor([-1, 4])), RuntimeError),
    (lambda lib, d: lib.segment_reduce(d, "sum", lengths=lib.tensor([-1, 4]), unsafe=True),
     RuntimeError),
    (lambda lib, d: lib.segment_reduce(d, "foo", lengths=lib.tensor([3])), RuntimeError),
    (lambda lib, d: lib.segment_reduce(d, "sum"), RuntimeError),
    (lambda lib, d: lib.segment_reduce(d, "sum", indices=lib.tensor([0, 0, 1])), RuntimeError),
    (lambda lib, d: lib.segment_reduce(d, "sum", lengths=lib.tensor([3.0])), NotImplementedError),
    (lambda lib, d: lib.segment_reduce(d.long(), "sum", lengths=lib.tensor([3])),
     NotImplementedError),
    (lambda lib, d: lib.segment_reduce(d, "sum", lengths=lib.tensor([3]), axis=2), IndexError),
    (lambda lib, d: lib.segment_reduce(d, "sum", lengths=lib.tensor([3]), axis=1), RuntimeError),
    (lambda lib, d: lib.segment_reduce(d, "sum", offsets=lib.tensor([0, 2, 1, 3])),
     RuntimeError),
])
def test_segment_reduce_errors_as_torch(call, error):
    msgs = []
    for lib in (ndgrad, torch):
        with pytest.raises(error) as info:
            call(lib, lib.arange(12.0).reshape(3, 4))
        msgs.append(str(info.value).split("(Could")[0].strip())
    assert msgs[0] == msgs[1].replace("torch", "ndgrad")


def test_sym_functions_as_torch():
    cases = [("sym_int", (2.7,)), ("sym_int", (-2.7,)), ("sym_int", (np.float32(3.5),)),
             ("sym_float", (3,)), ("sym_max", (1, 2.0)), ("sym_max", (3, 2)),
             ("sym_max", (np.int64(3), 2)), ("sym_min", (np.float32(1.5), 2)),
             ("sym_min", (True, 0)), ("sym_not", (0,)), ("sym_not", (True,)),
             ("sym_ite", (True, 1, 2)), ("sym_ite", (False, "a", "b")), ("sym_sqrt", (4,)),
             ("sym_sqrt", (2.0,)), ("sym_sum", ([1, 2, 3],)), ("sym_sum", (1, 2.5)),
             ("sym_sum", ([],)), ("sym_sum", ((4, 5),))]
    for name, args in cases:
        ours, theirs = getattr(ndgrad, name)(*args), getattr(torch, name)(*args)
        assert ours == theirs and type(ours) is type(theirs), (name, args)


def test_sym_functions_on_tensors_and_errors_as_torch():
    assert ndgrad.sym_int(ndgrad.tensor(2.5)) == torch.sym_int(torch.tensor(2.5)) == 2
    assert ndgrad.sym_float(ndgrad.tensor(3)) == 3.0
    assert ndgrad.sym_sqrt(ndgrad.tensor(2.5)) == torch.sym_sqrt(torch.tensor(2.5))
    assert ndgrad.sym_not(ndgrad.tensor(True)) is False
    total = ndgrad.sym_sum([ndgrad.tensor(1.0), ndgrad.tensor(2.0)])
    assert isinstance(total, ndgrad.Tensor) and total.item() == 3.0
    for call, error in [(lambda lib: lib.sym_max(lib.tensor(1.0), 2), AssertionError),
                        (lambda lib: lib.sym_ite(1, 1, 2), AssertionError),
                        (lambda lib: lib.sym_ite(True, 1, 2.0), AssertionError),
                        (lambda lib: lib.sym_sqrt(-1), ValueError)]:
        for lib in (ndgrad, torch):
            with pytest.raises(error):
                call(lib)


def _autocast_state(lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return (lib.is_autocast_enabled(), lib.is_autocast_enabled("cpu"),
                str(lib.get_autocast_dtype("cpu")).split(".")[1],
                str(lib.get_autocast_dtype("cuda")).split(".")[1], lib.is_autocast_cpu_enabled(),
                str(lib.get_autocast_cpu_dtype()).split(".")[1], lib.is_autocast_cache_enabled())


def test_autocast_state_follows_the_context_as_torch():
    for lib in (ndgrad, torch):
        assert _autocast_state(lib) == (False, False, "bfloat16", "float16", False, "bfloat16",
                                        True)
    seen = {}
    for lib in (ndgrad, torch):
        with lib.autocast("cpu"):
            outer = _autocast_state(lib)
            with lib.autocast("cpu", dtype=lib.float16, enabled=False, cache_enabled=False):
                inner = _autocast_state(lib)
            seen[lib] = (outer, inner, _autocast_state(lib))
        assert _autocast_state(lib)[1] is False
    assert seen[ndgrad] == seen[torch]
    assert seen[ndgrad][0][1] and not seen[ndgrad][1][1] and seen[ndgrad][1][2] == "float16"


def test_autocast_setters_as_torch():
    for lib in (ndgrad, torch):
        try:
            lib.set_autocast_enabled("cpu", True)
            lib.set_autocast_dtype("cpu", lib.float16)
            lib.set_autocast_cache_enabled(False)
            assert _autocast_state(lib) == (False, True, "float16", "float16", True, "float16",
                                            False)
            lib.clear_autocast_cache()
            with pytest.warns(DeprecationWarning, match="deprecated"):
                lib.set_autocast_cpu_enabled(False)
            assert not lib.is_autocast_enabled("cpu")
            lib.set_autocast_enabled(True)  # the old one-argument form: CUDA's flag
            assert lib.is_autocast_enabled() and lib.is_autocast_enabled("cuda")
            with pytest.raises(RuntimeError, match="device type"):
                lib.is_autocast_enabled("foo")
        finally:
            lib.set_autocast_enabled("cpu", False)
            lib.set_autocast_enabled("cuda", False)
            lib.set_autocast_dtype("cpu", lib.bfloat16)
            lib.set_autocast_cache_enabled(True)


def test_autocast_unsupported_cpu_dtype_warns_and_disables_as_torch():
    for lib in (ndgrad, torch):
        with pytest.warns(UserWarning, match="target dtype is not supported"):
            ctx = lib.autocast("cpu", dtype=lib.float32)
        with ctx:
            assert not lib.is_autocast_enabled("cpu")
            assert lib.get_autocast_dtype("cpu") == lib.float32
        assert lib.get_autocast_dtype("cpu") == lib.bfloat16


def test_autocast_state_is_per_thread():
    seen = []
    with ndgrad.autocast("cpu"):
        t = threading.Thread(target=lambda: seen.append(ndgrad.is_autocast_enabled("cpu")))
        t.start()
        t.join()
        assert ndgrad.is_autocast_enabled("cpu")
    assert seen == [False]
    with ndgrad.autocast("cpu"):  # ops still compute in their inputs' dtypes
        x = ndgrad.ones(2, 2)
        assert (x @ x).dtype == ndgrad.float32
