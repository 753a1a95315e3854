"""The Tensor API against torch: construction, creation functions, attributes, conversions, repr,
and in-place ops (outside and inside a recorded graph)."""

import re

import numpy as np
import pytest
import torch
from helpers import assert_close

import ndgrad

LIBS = [torch, ndgrad]


def both(fn):
    """Run ``fn(lib)`` for torch and ndgrad; return (torch result, ndgrad result)."""
    return fn(torch), fn(ndgrad)


def same_tensor(n, t, exact_dtype=True):
    """n (ndgrad) equals t (torch): shape, dtype name and values."""
    assert isinstance(n, ndgrad.Tensor), type(n)
    assert tuple(n.shape) == tuple(t.shape)
    if exact_dtype:
        assert str(n.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_array_equal(n.detach().numpy(), t.detach().numpy())


# -- construction and dtype inference --------------------------------------------------------
DATA = [
    3, 3.5, True, -0.0, [1, 2], [1.0, 2.0], [1, 2.5], [[1, 2], [3, 4]], [[1.5], [2.5]],
    [True, False], [], [[]], [[[1]]], (1, 2), [(1, 2), (3, 4)],
    np.zeros(2), np.arange(3, dtype=np.int32), np.array([1, 2], np.uint8),
    np.array([1.5], np.float16), np.float64(2.0), np.float32(2.0), np.int32(2), np.array(True),
    np.ones((2, 3), np.float32).T,
]


@pytest.mark.parametrize("data", DATA, ids=[repr(d)[:30] for d in DATA])
def test_tensor_from_data_infers_dtype_like_torch(data):
    n, t = ndgrad.tensor(data), torch.tensor(data)
    same_tensor(n, t)
    assert not n.requires_grad and n.is_leaf and n.grad_fn is None


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8",
                                   "bool"])
def test_tensor_with_dtype(dtype):
    data = [[0, 1.7], [2, 3]]
    n = ndgrad.tensor(data, dtype=getattr(ndgrad, dtype))
    t = torch.tensor(data, dtype=getattr(torch, dtype))
    same_tensor(n, t)


def test_tensor_copies_its_data():
    arr = np.zeros(3, np.float32)
    t = ndgrad.tensor(arr)
    arr[0] = 5
    assert t[0].item() == 0
    src = ndgrad.tensor([1.0, 2.0])
    copy = ndgrad.tensor(src)
    src.add_(1)
    assert copy.tolist() == [1.0, 2.0]


def test_tensor_from_list_of_tensors():
    n = ndgrad.tensor([ndgrad.tensor(1.0), 2])
    t = torch.tensor([torch.tensor(1.0), 2])
    same_tensor(n, t)


def test_tensor_requires_grad():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        assert x.requires_grad and x.is_leaf and x.grad is None and x.grad_fn is None


@pytest.mark.parametrize("args", [([1, 2],), ([[1, 2], [3, 4.5]],), (np.zeros(2),),
                                  (np.arange(3),), ((2, 3),), ([],), ([True, False],)],
                         ids=str)
def test_Tensor_class_constructor_makes_default_float(args):
    n, t = ndgrad.Tensor(*args), torch.Tensor(*args)
    same_tensor(n, t)


@pytest.mark.parametrize("sizes", [(2, 3), (4,), (0,), ()])
def test_Tensor_class_constructor_from_sizes(sizes):
    n, t = ndgrad.Tensor(*sizes), torch.Tensor(*sizes)
    assert n.shape == t.shape and n.dtype == ndgrad.float32
    assert ndgrad.Tensor(ndgrad.Size(list(sizes) or [0])).shape == torch.Size(list(sizes) or [0])


def test_Tensor_class_constructor_aliases_a_tensor_and_rejects_scalars():
    base = ndgrad.tensor([1.0, 2.0], dtype=ndgrad.float64)
    alias = ndgrad.Tensor(base)
    assert alias.dtype == ndgrad.float64
    alias.add_(1)  # shares memory and the version counter, as torch.Tensor(t) does
    assert base.tolist() == [2.0, 3.0] and base._version == alias._version == 1
    arr = np.zeros(2, np.float32)
    ndgrad.Tensor(arr).add_(1)  # a list or an array is copied
    assert arr.tolist() == [0, 0]
    with pytest.raises(TypeError, match="tensor"):
        ndgrad.Tensor(3.5)


# -- creation functions ------------------------------------------------------------------------
CREATE = [
    "lib.zeros(2, 3)", "lib.zeros((2, 3))", "lib.zeros([2, 3], dtype=lib.int64)", "lib.zeros(0)",
    "lib.zeros(())", "lib.ones(3)", "lib.ones(2, 1, dtype=lib.float64)", "lib.full((2, 2), 3)",
    "lib.full((2, 2), 3.0)", "lib.full((2,), True)", "lib.full((2,), 1.5, dtype=lib.float64)",
    "lib.full([3], -1, dtype=lib.float32)",
    "lib.arange(5)", "lib.arange(5.0)", "lib.arange(1, 4)", "lib.arange(0, 1, 0.25)",
    "lib.arange(5, 0, -1)", "lib.arange(5, 0, -1.5)", "lib.arange(0, 10, 3)",
    "lib.arange(1, 2.5, 0.5)", "lib.arange(10, dtype=lib.float32)", "lib.arange(0, -3, -1)",
    "lib.arange(0.1, 0.4, 0.1)", "lib.arange(-1.0, 1.0, 0.3)", "lib.arange(3, 3)",
    "lib.arange(2, 11, 2, dtype=lib.float64)",
    "lib.linspace(0, 1, 5)", "lib.linspace(0, 1, 1)", "lib.linspace(-1, 1, 4, dtype=lib.float64)",
    "lib.linspace(3, -3, 7)", "lib.eye(3)", "lib.eye(2, 3)", "lib.eye(3, 2, dtype=lib.int64)",
    "lib.zeros_like(lib.tensor([1, 2]))", "lib.ones_like(lib.tensor([1.0, 2]), dtype=lib.float64)",
    "lib.full_like(lib.tensor([1, 2]), 2.7)", "lib.full_like(lib.tensor([1.0, 2]), 7)",
    "lib.ones_like(lib.zeros(2, 3, dtype=lib.float64))",
]


@pytest.mark.parametrize("expr", CREATE)
def test_creation_matches_torch(expr):
    t, n = both(lambda lib: eval(expr, {"lib": lib}))
    assert n.shape == t.shape
    assert str(n.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(n.numpy().astype(np.float64), t.numpy().astype(np.float64),
                               rtol=1e-6, atol=1e-7)


def test_empty_and_requires_grad_kwargs():
    e = ndgrad.empty(2, 3, dtype=ndgrad.float64)
    assert e.shape == (2, 3) and e.dtype == ndgrad.float64
    for fn in (ndgrad.zeros, ndgrad.ones, ndgrad.empty, ndgrad.randn, ndgrad.rand):
        x = fn(2, requires_grad=True)
        assert x.requires_grad and x.is_leaf
    assert ndgrad.arange(3.0, requires_grad=True).requires_grad
    assert ndgrad.zeros(2, device="cpu").device == ndgrad.device("cpu")


@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_random_float_shapes_dtypes_and_ranges(fn):
    f = getattr(ndgrad, fn)
    assert f(2, 3).shape == (2, 3) and f(2, 3).dtype == ndgrad.float32
    assert f((4, 5)).shape == (4, 5) and f([4]).shape == (4,)
    assert f(3, dtype=ndgrad.float64).dtype == ndgrad.float64
    assert f(3, dtype=ndgrad.float16).dtype == ndgrad.float16
    big = f(20000, dtype=ndgrad.float64).numpy()
    if fn == "rand":
        assert big.min() >= 0 and big.max() < 1 and abs(big.mean() - 0.5) < 0.02
    else:
        assert abs(big.mean()) < 0.03 and abs(big.std() - 1) < 0.03


def test_random_like_keep_shape_and_dtype():
    x = ndgrad.zeros(2, 3, dtype=ndgrad.float64)
    for fn in (ndgrad.rand_like, ndgrad.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == ndgrad.float64
        assert fn(x, dtype=ndgrad.float32).dtype == ndgrad.float32
    with pytest.raises(RuntimeError, match="int64"):
        ndgrad.rand_like(ndgrad.tensor([1, 2]))


def test_randint():
    a = ndgrad.randint(0, 10, (3, 4))
    assert a.shape == (3, 4) and a.dtype == ndgrad.int64
    assert a.min().item() >= 0 and a.max().item() < 10
    b = ndgrad.randint(5, (1000,))
    assert b.min().item() == 0 and b.max().item() == 4  # randint(high, size) starts at 0
    c = ndgrad.randint(-3, -1, (1000,), dtype=ndgrad.int32)
    assert c.dtype == ndgrad.int32 and set(c.tolist()) == {-3, -2}
    with pytest.raises(RuntimeError, match="from=5 >= to=3"):
        ndgrad.randint(5, 3, (2,))


RANDOM_CALLS = [
    lambda: ndgrad.rand(3),
    lambda: ndgrad.randn(2, 2),
    lambda: ndgrad.randint(0, 100, (5,)),
    lambda: ndgrad.randperm(6),
    lambda: ndgrad.rand_like(ndgrad.zeros(3)),
    lambda: ndgrad.randn_like(ndgrad.zeros(3)),
    lambda: ndgrad.zeros(4).uniform_(-1, 1),
    lambda: ndgrad.zeros(4).normal_(2, 3),
    lambda: ndgrad.zeros(4).bernoulli_(0.5),
]


@pytest.mark.parametrize("call", RANDOM_CALLS)
def test_manual_seed_makes_every_random_function_reproducible(call):
    ndgrad.manual_seed(123)
    first = [call().tolist() for _ in range(2)]
    ndgrad.manual_seed(123)
    second = [call().tolist() for _ in range(2)]
    assert first == second
    assert first[0] != first[1] or call().numel() < 2  # the stream moves on between calls
    ndgrad.manual_seed(124)
    assert [call().tolist() for _ in range(2)] != first


def test_manual_seed_covers_mixed_sequences():
    def draw():
        return (ndgrad.randn(3).tolist(), ndgrad.randint(0, 9, (2,)).tolist(),
                ndgrad.rand(2).tolist())

    ndgrad.manual_seed(7)
    a = draw()
    ndgrad.manual_seed(7)
    assert draw() == a


@pytest.mark.parametrize("bad", ["lib.arange(0, 3, -1)", "lib.arange(3, 0)",
                                 "lib.arange(0, 3, 0)"])
def test_arange_bad_step_raises_like_torch(bad):
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="step"):
            eval(bad, {"lib": lib})


# -- attributes and conversions ------------------------------------------------------------------
def test_shape_attributes():
    for lib in LIBS:
        x = lib.zeros(2, 3, 4)
        assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4)
        assert x.size(1) == 3 and x.size(-1) == 4
        assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and len(x) == 2
        assert lib.tensor(5.0).size() == () and lib.tensor(5.0).numel() == 1
    assert repr(ndgrad.zeros(2, 3).shape) == "ndgrad.Size([2, 3])"
    assert isinstance(ndgrad.zeros(2).shape, tuple)


def test_item_tolist_numpy():
    for lib in LIBS:
        assert lib.tensor([[1.5]]).item() == 1.5 and isinstance(lib.tensor(3).item(), int)
        assert lib.tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]
        assert lib.tensor(2.0).tolist() == 2.0
        with pytest.raises(RuntimeError, match="2 elements"):
            lib.tensor([1.0, 2.0]).item()
    x = ndgrad.tensor([1.0, 2.0])
    x.numpy()[0] = 9  # numpy() shares memory, as in torch
    assert x[0].item() == 9
    with pytest.raises(RuntimeError, match="detach"):
        ndgrad.ones(2, requires_grad=True).numpy()
    assert ndgrad.ones(2, requires_grad=True).detach().numpy().tolist() == [1, 1]


def test_T_and_mT():
    a = np.arange(24.0).reshape(2, 3, 4)
    for expr in ("x.mT", "x[0].T", "x[0].mT", "x[0, 0].T"):
        t, n = both(lambda lib, expr=expr: eval(expr, {"x": lib.tensor(a)}))
        same_tensor(n, t)


@pytest.mark.parametrize("method", ["float", "double", "long", "int", "bool", "half"])
def test_dtype_conversion_methods(method):
    data = [1.7, -2.2, 0.0]
    t, n = both(lambda lib: getattr(lib.tensor(data), method)())
    same_tensor(n, t)


def test_to_dtype_and_device_and_type_as():
    for lib in LIBS:
        x = lib.tensor([1.5, 0.0])
        assert x.to(lib.float64).dtype == lib.float64
        assert x.to("cpu") is x and x.cpu() is x
        assert x.to("cpu", lib.float64).dtype == lib.float64
        assert x.to(device="cpu", dtype=lib.int64).dtype == lib.int64
        assert x.to(lib.float32) is x  # no change: the same tensor
        assert x.type_as(lib.tensor([1], dtype=lib.int32)).dtype == lib.int32
        assert str(x.device) == "cpu" and x.device.type == "cpu"
        assert x.to(lib.tensor([1.0], dtype=lib.float64)).dtype == lib.float64
    with pytest.raises(RuntimeError, match="cuda"):
        ndgrad.zeros(2).to("cuda")


def test_type_names_and_type_conversion():
    for lib in LIBS:
        x = lib.tensor([1.5, 0.0])
        names = [x.type(), lib.tensor([1]).type(), lib.tensor([True]).type(),
                 x.double().type(), x.half().type(), x.int().type(), x.byte().type()]
        assert [n.split(".")[1] for n in names] == ["FloatTensor", "LongTensor", "BoolTensor",
                                                    "DoubleTensor", "HalfTensor", "IntTensor",
                                                    "ByteTensor"]
        assert x.type(lib.float64).dtype == lib.float64
        assert x.type("torch.LongTensor").dtype == lib.int64


def test_grad_assignment_checks_shape_and_dtype():
    for lib in LIBS:
        x = lib.zeros(2, requires_grad=True)
        x.grad = lib.ones(2)
        assert x.grad.tolist() == [1.0, 1.0]
        with pytest.raises(RuntimeError, match="size"):
            x.grad = lib.ones(3)
        with pytest.raises(RuntimeError, match="dtype"):
            x.grad = lib.ones(2, dtype=lib.float64)
        x.grad = None
        assert x.grad is None


def test_conversions_are_differentiable():
    for lib in LIBS:
        x = lib.tensor([1.5, -2.0], requires_grad=True)
        y = x.double() * lib.tensor([2.0, 3.0], dtype=lib.float64)
        assert y.dtype == lib.float64 and y.grad_fn is not None
        y.sum().backward()
        assert x.grad.dtype == lib.float32 and x.grad.tolist() == [2.0, 3.0]
        assert not x.long().requires_grad  # integer results do not require grad


def test_clone_detach_contiguous_requires_grad_():
    x = ndgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and repr(c.grad_fn) == "<CloneBackward>"
    c.sum().backward()
    assert x.grad.tolist() == [[1, 1], [1, 1]]
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    t = x.detach().T
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert t.contiguous().tolist() == t.tolist()
    assert x.contiguous() is x
    y = ndgrad.tensor([1.0]).requires_grad_()
    assert y.requires_grad and y.is_leaf
    assert not y.requires_grad_(False).requires_grad


def test_detach_shares_memory_and_version():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    d = y.detach()
    d.zero_()
    assert y.tolist() == [0, 0]
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()  # exp saved its output, and it was changed through the detached alias


def test_grad_fn_names_are_readable():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    assert repr((x * 2).grad_fn) == "<MulBackward>"
    assert repr((x + x).grad_fn) == "<AddBackward>"
    assert (x.exp()).grad_fn.name() == "ExpBackward"
    assert repr(x.sum().grad_fn) == "<SumBackward>"


# -- repr ------------------------------------------------------------------------------------------
REPRS = [
    "lib.tensor([1., 2.])", "lib.tensor(1.)", "lib.tensor(1.5)", "lib.tensor(-0.)",
    "lib.tensor(3)", "lib.tensor([1, 2])", "lib.tensor([True])", "lib.tensor([True, False])",
    "lib.tensor([0.1, 1.])", "lib.tensor([1e10, 1.])", "lib.tensor([1e-10, 1.])",
    "lib.tensor([123456.789, 1.])", "lib.tensor([1e-5, 2e-5])", "lib.tensor([1e9, 2e9])",
    "lib.tensor([float('nan'), 1.])", "lib.tensor([float('inf'), 1.5])",
    "lib.tensor([float('-inf'), float('nan')])", "lib.tensor([0., 0.])",
    "lib.tensor([-1.5, 2.25, 1000.])", "lib.tensor([[1, -200], [3, 4]])",
    "lib.zeros(2, 0)", "lib.zeros(0, dtype=lib.int64)", "lib.zeros(0)", "lib.zeros(0, 3)",
    "lib.zeros(2, 2, dtype=lib.float64)", "lib.tensor([1, 2], dtype=lib.int32)",
    "lib.tensor([1, 2], dtype=lib.uint8)", "lib.tensor([1.5, 2], dtype=lib.float16)",
    "lib.tensor(3, dtype=lib.float64)", "lib.arange(12.).reshape(3, 4)",
    "lib.arange(20.).reshape(4, 5) / 3", "lib.arange(2000.)", "lib.arange(5000).reshape(50, 100)",
    "lib.arange(24.).reshape(2, 3, 4) - 11.5", "lib.arange(40.) * 1.5",
    "lib.arange(60.).reshape(3, 4, 5) / 7", "lib.ones(2, 2, 2, 2)",
    "lib.tensor([[1e-3, 5.], [2., 3.]], dtype=lib.float64)", "lib.tensor([1., 2.], "
    "requires_grad=True)", "lib.tensor([1.5, 2.], dtype=lib.float64, requires_grad=True)",
    "lib.arange(100.).reshape(10, 10) / 9 + 1000",
]


def same_repr(n, t):
    """Equal reprs, up to the module name (which can move the dtype suffix to its own line)."""
    def norm(s):
        return re.sub(r",\n +(dtype|grad_fn|requires_grad)", r", \1", s)

    assert norm(repr(n).replace("ndgrad.", "torch.")) == norm(repr(t))


@pytest.mark.parametrize("expr", REPRS)
def test_repr_matches_torch(expr):
    t, n = both(lambda lib: eval(expr, {"lib": lib}))
    same_repr(n, t)


def test_repr_random_tensors_match_torch():
    rng = np.random.default_rng(0)
    for _ in range(150):
        shape = tuple(rng.integers(1, 5, size=rng.integers(0, 4)))
        scale = 10.0 ** rng.integers(-6, 10)
        arr = rng.standard_normal(shape) * scale
        if rng.random() < 0.3:
            arr = np.round(arr)
        for dtype in (np.float32, np.float64):
            a = arr.astype(dtype)
            same_repr(ndgrad.tensor(a), torch.tensor(a))


def test_repr_with_grad_fn_and_print_options():
    x = ndgrad.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"
    assert repr((x + 0.5).sum()) == "tensor(4., grad_fn=<SumBackward>)"
    assert str(x) == "tensor([1., 2.], requires_grad=True)"
    try:
        ndgrad.set_printoptions(precision=2)
        assert repr(ndgrad.tensor([1.2345, 2.0])) == "tensor([1.23, 2.00])"
    finally:
        ndgrad.set_printoptions(profile="default")
    assert repr(ndgrad.tensor([1.2345, 2.0])) == "tensor([1.2345, 2.0000])"


# -- in-place ops without a graph ------------------------------------------------------------------
def test_inplace_ops_match_torch_and_return_self():
    def run(lib):
        x = lib.tensor([1.0, -2.0, 3.0])
        outs = []
        for op in (lambda: x.add_(1), lambda: x.sub_(lib.tensor([0.5, 0.5, 0.5])),
                   lambda: x.mul_(2), lambda: x.div_(4), lambda: x.add_(x, alpha=2),
                   lambda: x.sub_(1, alpha=3), lambda: x.clamp_(-1.0, 1.5),
                   lambda: x.clamp_(min=0), lambda: x.clamp_(max=0.2), lambda: x.fill_(7),
                   lambda: x.zero_(), lambda: x.copy_(lib.tensor([4.0, 5.0, 6.0])),
                   lambda: x.copy_(lib.tensor(2, dtype=lib.int64))):
            assert op() is x
            outs.append(x.clone())
        return lib.stack(outs)

    t, n = both(run)
    assert_close(n, t, np.float32)


def test_inplace_operators_setitem_and_version_counter():
    def run(lib):
        x = lib.zeros(3, 4)
        x += 1
        x -= lib.arange(4.0)
        x *= lib.tensor([[1.0], [2.0], [3.0]])
        x /= 2
        x[0] = 5.0
        x[1, 1:3] = lib.tensor([7.0, 8.0])
        x[:, -1] += 100
        x[x > 50] = -1.0
        x[lib.tensor([0, 2]), 0] = lib.tensor([9.0, 10.0])
        x[..., 1] *= 3
        x[None, 2, :2] = 0.5
        return x, x._version

    (t, tv), (n, nv) = both(run)
    assert_close(n, t, np.float32)
    assert nv == tv


def test_inplace_on_views_writes_through_to_the_base():
    def run(lib):
        x = lib.arange(12.0).reshape(3, 4)
        x[1].mul_(10)
        x[:, 0].add_(lib.tensor([1.0, 2.0, 3.0]))
        x.t()[2].zero_()
        row = x[2]
        row += 1
        x.view(-1)[0] = -5.0
        return x

    t, n = both(run)
    assert_close(n, t, np.float32)


def test_inplace_dtype_rules():
    for lib in LIBS:
        x = lib.tensor([1, 2])
        x += 1
        x *= 3
        assert x.tolist() == [6, 9] and x.dtype == lib.int64
        f = lib.tensor([1.0, 2.0])
        f += lib.tensor([1.0, 1.0], dtype=lib.float64)
        assert f.dtype == lib.float32  # in-place keeps self's dtype
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            x += 1.5
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            x /= 2
        with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the "
                                               r"broadcast shape \[2, 2\]"):
            lib.zeros(2).add_(lib.ones(2, 2))
        with pytest.raises(RuntimeError, match="size of tensor a"):
            lib.zeros(3).add_(lib.ones(4))


def test_sgd_by_hand_under_no_grad():
    def run(lib):
        w = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        b = lib.tensor(0.5, requires_grad=True)
        x = lib.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
        y = lib.tensor([1.0, -1.0])
        for _ in range(5):
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                w -= 0.1 * w.grad
                b.sub_(b.grad, alpha=0.1)
                w.clamp_(-2.5, 2.5)
            w.grad.zero_()
            b.grad = None
        return w, b, w.requires_grad, w.is_leaf, w.grad_fn is None, b.grad is None

    (tw, tb, *tflags), (nw, nb, *nflags) = both(run)
    assert_close(nw, tw, np.float32)
    assert_close(nb, tb, np.float32)
    assert nflags == tflags == [True, True, True, True]


# -- in-place ops inside a recorded graph ----------------------------------------------------------
GRAPH_INPLACE = [
    "y.add_(1)", "y.sub_(x, alpha=2)", "y.add_(x, alpha=0.5)", "y.mul_(2)", "y.mul_(x)",
    "y.div_(x)", "y.div_(4.0)", "y.pow_(2)", "y.pow_(x)", "y.clamp_(6, 9)", "y.clamp_(min=6.5)",
    "y.relu_()", "y.sigmoid_()", "y.tanh_()", "y.exp_()", "y.sqrt_()", "y.abs_()", "y.neg_()",
    "y.masked_fill_(x > 0, 0.)", "y.addcmul_(x, x)", "y.lerp_(x, 0.3)", "y.copy_(x * 3)",
    "y.fill_(2.0)", "y.zero_()", "y.fill_(s)", "y.copy_(s)", "y += x", "y *= x", "y /= x",
    "y -= x * s", "y[0] = 10.0", "y[1:] = x[:2] * s", "y[y > 6] = 0.0", "y[0] += s",
    "y[1:].mul_(x[1:])", "y[::2].zero_()", "y[-1:].copy_(s)",
    "y.mul_(x); y.add_(s); y.clamp_(0, 40)", "y.mul_(y)",
]


@pytest.mark.parametrize("expr", GRAPH_INPLACE)
def test_inplace_in_graph_gradients_match_torch(expr):
    def run(lib):
        x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        s = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
        y = x * 2 + 7  # a non-leaf, so in-place is allowed
        exec(expr)
        loss = (y * y * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum() + (x * y).sum()
        gx, gs = lib.autograd.grad(loss, [x, s], allow_unused=True, create_graph=True)
        # second order through the in-place ops too
        gg = lib.autograd.grad((gx * gx).sum(), x, allow_unused=True)[0]
        return y, gx, gs, gg

    if expr == "y.mul_(y)":  # y is saved as mul_'s other operand, then changed: both refuse
        for lib in (torch, ndgrad):
            x = lib.tensor([1.0, -2.0], requires_grad=True)
            y = x * 1
            y.mul_(y)
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                y.sum().backward()
        return
    t, n = both(run)
    for a, b in zip(n, t):
        if b is None:
            assert a is None or not a.numpy().any()
        else:
            assert_close(a, b, np.float64)


def test_inplace_keeps_values_saved_for_backward():
    # mul_ with another tensor that requires grad needs self's old value for other's gradient
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        y = x * 1
        y.mul_(w)
        y.add_(1)
        y.sum().backward()
        assert w.grad.tolist() == [1.0, 2.0] and x.grad.tolist() == [3.0, 4.0]


def test_fill_and_copy_are_exact_with_inf_and_nan():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = lib.tensor([float("-inf"), float("nan")])
        a.copy_(x)  # a joins the graph
        b = lib.tensor([float("inf"), 1.0], requires_grad=True) * 1
        b.fill_(x[0])
        c = lib.tensor([float("nan"), 1.0], requires_grad=True) * 1
        c.copy_(lib.tensor([2.0, 3.0]))
        (a.sum() + b.sum() * 2 + c.sum()).backward()
        return a, b, c, x.grad, a.requires_grad

    t, n = both(run)
    for a, b in zip(n[:4], t[:4]):
        assert_close(a, b, np.float32)
    assert n[4] is t[4] is True


def test_fill_cuts_the_history_of_the_overwritten_values():
    for lib in LIBS:
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = x * 1
        y.zero_()
        y.fill_(3.0)
        (y * x).sum().backward()
        assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_inplace_on_view_of_a_buffer_joins_the_graph():
    def run(lib):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        buf = lib.zeros(2, 3)
        buf[0, :2].add_(x)
        buf[1].mul_(2)
        buf[:, 2] += x
        loss = (buf * buf).sum()
        loss.backward()
        return buf, x.grad, buf.requires_grad

    t, n = both(run)
    assert_close(n[0], t[0], np.float32)
    assert_close(n[1], t[1], np.float32)
    assert n[2] and t[2]


def test_inplace_on_nested_views():
    def run(lib):
        x = lib.arange(12.0, dtype=lib.float64).reshape(3, 4).requires_grad_()
        w = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * 1
        y[1][1:3].mul_(w)
        y[2][0] = w[0] * w[1]
        (y ** 2).sum().backward()
        return y, x.grad, w.grad

    t, n = both(run)
    for a, b in zip(n, t):
        assert_close(a, b, np.float64)


@pytest.mark.parametrize("lib", LIBS, ids=["torch", "ndgrad"])
def test_inplace_errors(lib):
    leaf = lib.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: leaf.add_(1), lambda: leaf.mul_(2), lambda: leaf.zero_(),
               lambda: leaf.__setitem__(0, 1.0), lambda: leaf[0].add_(1)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op()
    with lib.no_grad():
        leaf.add_(1)  # allowed: not recorded
    assert leaf.tolist() == [2.0, 3.0] and leaf.is_leaf


def test_inplace_on_any_view_of_a_graph_tensor_rewrites_its_history():
    def run(lib):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 1
        y.T.mul_(lib.tensor([2.0, 3.0]))  # a transpose view, not an indexing one
        y.view(4)[1:3].add_(y.diagonal().sum())
        (y * y).sum().backward()
        return y, x.grad

    t, n = both(run)
    for a, b in zip(n, t):
        assert_close(a, b, np.float32)


@pytest.mark.parametrize("data", [[0.0], 2, [True], [[-1]], [], [1, 2]])
def test_bool_and_is_nonzero_as_torch(data):
    def outcome(lib, f):
        try:
            return f(lib.tensor(data))
        except RuntimeError as e:
            return str(e)
    for f in (bool, lambda t: t.is_nonzero()):
        assert outcome(ndgrad, f) == outcome(torch, f)
    assert outcome(ndgrad, ndgrad.is_nonzero) == outcome(torch, torch.is_nonzero)
