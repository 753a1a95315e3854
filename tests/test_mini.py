"""ndgrad.mini, the ~500-line teaching engine, against PyTorch: op by op, forward and gradient.

Each case runs one lambda on mini Tensors and on torch tensors built from the same float64
arrays, compares the outputs, backpropagates the same non-uniform upstream gradient through both
and compares every input's gradient.
"""

import gc

import numpy as np
import pytest
import torch

from ndgrad import mini
from ndgrad.mini import functional as F


def check(fn, *shapes, torch_fn=None, positive=False, seed=0):
    """fn on mini Tensors vs torch_fn (default: fn) on torch tensors, outputs and gradients."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    if positive:
        arrays = [np.abs(a) + 0.5 for a in arrays]
    ours = [mini.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(*ours), (torch_fn or fn)(*theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for x, t in zip(ours, theirs):
        assert x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((5, 1, 4, 1), (3, 1, 6)), ((2, 1), ()),
                   ((), (2, 3)), ((1, 3, 1), (2, 1, 5)), ((0, 3), (3,))]


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_ops_broadcast(op, shapes):
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y}[op]
    check(fn, *shapes, positive=op == "div")


@pytest.mark.parametrize("name, fn", [
    ("neg", lambda x: -x), ("exp", lambda x: x.exp()), ("tanh", lambda x: x.tanh()),
    ("sigmoid", lambda x: x.sigmoid()), ("relu", lambda x: x.relu()),
    ("square", lambda x: x**2), ("cube", lambda x: x**3), ("rsub", lambda x: 2.0 - x),
    ("radd_rmul", lambda x: 3.0 * (1.0 + x)), ("rdiv", lambda x: 1.0 / (x * x + 1)),
])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3, 4)], ids=str)
def test_unary_ops(name, fn, shape):
    check(fn, shape)


@pytest.mark.parametrize("name, fn", [("log", lambda x: x.log()), ("sqrt", lambda x: x**0.5),
                                      ("rsqrt", lambda x: x**-0.5)])
def test_unary_ops_on_positive_inputs(name, fn):
    check(fn, (3, 5), positive=True)


def test_sigmoid_does_not_overflow():
    x = mini.Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    s = x.sigmoid()
    s.sum().backward()
    assert s.data.tolist() == [0.0, 0.5, 1.0] and x.grad.tolist() == [0.0, 0.25, 0.0]


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False),
                                          ((0, 2), False), ((0, -1), True)])
def test_sum_and_mean(dim, keepdim):
    if dim is None:
        check(lambda x: x.sum(), (2, 3, 4))
        check(lambda x: x.mean(), (2, 3, 4))
    else:
        check(lambda x: x.sum(dim, keepdim), (2, 3, 4))
        check(lambda x: x.mean(dim, keepdim), (2, 3, 4))


@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (-1, True), ((0, 2), False)])
def test_amax(dim, keepdim):
    if dim is None:
        check(lambda x: x.amax(), (2, 3, 4))
    else:
        check(lambda x: x.amax(dim, keepdim), (2, 3, 4))


def test_amax_splits_the_gradient_between_ties_like_torch():
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    x, t = mini.Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    x.amax(1).sum().backward()
    t.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())
    assert x.grad.tolist() == [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]


@pytest.mark.parametrize("name, fn", [
    ("reshape", lambda x: x.reshape(4, 6)), ("reshape-1", lambda x: x.reshape(2, -1)),
    ("permute", lambda x: x.permute(2, 0, 1)), ("transpose", lambda x: x.transpose(0, 2)),
    ("T", lambda x: x.reshape(6, 4).T), ("flatten", lambda x: x.flatten(1)),
    ("slice", lambda x: x[1:, ::2]), ("int", lambda x: x[0, 1]),
    ("negative", lambda x: x[-1, :, -2]),
])
def test_shape_ops(name, fn):
    check(fn, (2, 3, 4))


def test_getitem_with_repeated_indices_adds_gradients():
    index = np.array([0, 2, 0, 0])
    check(lambda x: x[index], (3, 2), torch_fn=lambda t: t[torch.from_numpy(index)])
    rows, cols = np.array([0, 1, 1]), np.array([2, 0, 0])
    check(lambda x: x[rows, cols], (2, 3),
          torch_fn=lambda t: t[torch.from_numpy(rows), torch.from_numpy(cols)])


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4, 5), (2, 5, 3)),
                                    ((2, 1, 3, 4), (5, 4, 2)), ((0, 4), (4, 2))], ids=str)
def test_matmul(shapes):
    check(lambda x, y: x @ y, *shapes)


def test_matmul_names_the_shapes_it_cannot_take():
    with pytest.raises(ValueError, match=r"\(3,\) and \(3, 2\)"):
        mini.Tensor(np.ones(3)) @ mini.Tensor(np.ones((3, 2)))


@pytest.mark.parametrize("dim", [1, -1, 0])
def test_softmax_and_log_softmax(dim):
    check(lambda x: F.softmax(x, dim), (3, 5), torch_fn=lambda t: t.softmax(dim))
    check(lambda x: F.log_softmax(x, dim), (3, 5), torch_fn=lambda t: t.log_softmax(dim))


def test_log_softmax_of_large_logits_is_finite():
    x = mini.Tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    out = F.log_softmax(x)
    out[0, 2].backward()
    assert out.data.tolist() == [[0.0, -1000.0, -2000.0]]
    assert np.isfinite(x.grad).all()


def test_cross_entropy():
    target = np.array([1, 0, 4, 1])
    check(lambda x: F.cross_entropy(x, target), (4, 5),
          torch_fn=lambda t: torch.nn.functional.cross_entropy(t, torch.from_numpy(target)))


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 2), (3, 0)])
def test_conv2d(stride, padding):
    check(lambda x, w, b: F.conv2d(x, w, b, stride, padding), (2, 3, 7, 6), (4, 3, 3, 2), (4,),
          torch_fn=lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride, padding))
    check(lambda x, w: F.conv2d(x, w, None, stride, padding), (1, 1, 5, 5), (2, 1, 1, 1),
          torch_fn=lambda x, w: torch.nn.functional.conv2d(x, w, None, stride, padding))


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), c> == <x, col2im(c)> for all x and c: the definition of the adjoint."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5))
    cols = F._im2col(x, 3, 2, 2, 1)
    c = rng.standard_normal(cols.shape)
    assert np.isclose((cols * c).sum(), (x * F._col2im(c, x.shape, 2, 1)).sum())


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1), (2, 3)])
def test_max_pool2d(kernel, stride):
    check(lambda x: F.max_pool2d(x, kernel, stride), (2, 3, 6, 7),
          torch_fn=lambda t: torch.nn.functional.max_pool2d(t, kernel, stride))


def test_graph_semantics():
    a = mini.Tensor([2.0], requires_grad=True)
    b = a + a
    (b + b).backward(np.ones(1))
    assert a.grad.tolist() == [4.0]  # both paths, twice
    x = mini.Tensor([3.0], requires_grad=True)
    y = x * 2.0
    z = y * y + y.exp()  # a diamond: y feeds two ops
    z.backward(np.ones(1))
    assert np.allclose(x.grad, 2 * (2 * 6.0 + np.exp(6.0)))
    z2 = (x * 2.0).sum()  # leaf gradients accumulate over two backward calls, as in torch
    z2.backward()
    assert np.allclose(x.grad, 2 * (2 * 6.0 + np.exp(6.0)) + 2.0)


def test_constants_are_left_out_of_the_graph():
    w = mini.Tensor(np.ones(3), requires_grad=True)
    data = mini.Tensor(np.arange(3.0))
    out = (data * 2.0 + 1.0) * w
    assert out.requires_grad and not (data * 2.0).requires_grad
    out.sum().backward()
    assert data.grad is None and w.grad.tolist() == [1.0, 3.0, 5.0]
    assert out._topological_order() == [w, out]


def test_a_deep_chain_does_not_recurse():
    x = mini.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_backward_without_a_gradient_needs_one_element():
    with pytest.raises(RuntimeError, match=r"one-element tensor, got shape \(2,\)"):
        mini.Tensor([1.0, 2.0], requires_grad=True).exp().backward()


def test_the_graph_has_no_reference_cycles():
    """Closures capture input arrays, never their own output: freed without the collector."""
    gc.disable()
    try:
        x = mini.Tensor(np.ones(3), requires_grad=True)
        before = len(gc.get_objects())
        for _ in range(50):
            F.cross_entropy((x.tanh() * 2.0).reshape(1, 3), np.array([0])).backward()
        assert len(gc.get_objects()) - before < 50
    finally:
        gc.enable()


def test_function_and_ctx():
    class Cube(mini.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return grad * 3 * x**2

    class Hypot(mini.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.out, ctx.x, ctx.y = np.hypot(x, y), x, y
            return ctx.out

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.x / ctx.out, grad * ctx.y / ctx.out

    check(Cube.apply, (3, 4), torch_fn=lambda t: t**3)
    check(Hypot.apply, (3, 4), (4,), torch_fn=torch.hypot)
    assert Cube.apply(mini.Tensor(2.0, requires_grad=True))._op == "Cube"


def copy_into_torch(ours, theirs):
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert p.shape == tuple(q.shape)
            q.copy_(torch.from_numpy(p.data))


def test_modules_match_torch_with_the_same_weights():
    mini.manual_seed(0)
    ours = mini.Sequential(mini.Conv2d(1, 4, 3, padding=1), mini.ReLU(), mini.MaxPool2d(2),
                           mini.Flatten(), mini.Linear(4 * 3 * 3, 5))
    nn = torch.nn
    theirs = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Flatten(), nn.Linear(4 * 3 * 3, 5)).double()
    copy_into_torch(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6))
    target = np.array([3, 0])
    loss = F.cross_entropy(ours(mini.Tensor(x)), target)
    ref = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(target))
    loss.backward()
    ref.backward()
    assert np.isclose(loss.item(), ref.item(), rtol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_linear_and_conv_init_like_torch():
    mini.manual_seed(0)
    layer, conv = mini.Linear(50, 20), mini.Conv2d(3, 8, 5)
    assert layer.weight.shape == (20, 50) and layer.bias.shape == (20,)
    assert np.abs(layer.weight.data).max() <= 1 / np.sqrt(50)
    assert np.abs(layer.weight.data).max() > 0.9 / np.sqrt(50)  # uniform over the whole range
    assert np.abs(conv.weight.data).max() <= 1 / np.sqrt(75) and conv.bias.shape == (8,)
    assert mini.Linear(3, 2, bias=False).parameters()[0].shape == (2, 3)


def test_parameters_train_eval_and_dropout():
    mini.manual_seed(0)
    model = mini.Sequential(mini.Linear(3, 4), mini.Dropout(0.25), mini.Linear(4, 2))
    params = model.parameters()
    assert [p.shape for p in params] == [(4, 3), (4,), (2, 4), (2,)]
    assert all(isinstance(p, mini.Parameter) and p.requires_grad for p in params)
    x = mini.Tensor(np.ones((1000, 4)), requires_grad=True)
    dropped = model.layers[1](x)
    zeros = (dropped.data == 0).mean()
    assert 0.2 < zeros < 0.3 and set(np.unique(dropped.data)) == {0.0, 1 / 0.75}
    dropped.sum().backward()
    assert np.array_equal(x.grad, dropped.data)  # the gradient goes through the same mask
    model.eval()
    assert not model.layers[1].training
    assert model.layers[1](x) is x
    model.train()
    assert model.layers[1].training
    model.zero_grad()
    assert all(p.grad is None for p in params)


def run_optimizer(ours_cls, theirs_cls, steps=6, **kwargs):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4))
    w = mini.Parameter(w0.copy())
    t = torch.tensor(w0.copy(), requires_grad=True)
    ours, theirs = ours_cls([w], **kwargs), theirs_cls([t], **kwargs)
    for _ in range(steps):
        for p, opt in ((w, ours), (t, theirs)):
            opt.zero_grad()
            ((p * p).tanh() * (p + 1.0)).sum().backward()  # one lambda drives both libraries
            opt.step()
        np.testing.assert_allclose(w.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9),
                                    dict(lr=0.05, momentum=0.5, weight_decay=0.1)], ids=str)
def test_sgd_matches_torch(kwargs):
    run_optimizer(mini.SGD, torch.optim.SGD, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(), dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6)], ids=str)
def test_adam_matches_torch(kwargs):
    run_optimizer(mini.Adam, torch.optim.Adam, **kwargs)


def test_optimizers_skip_parameters_without_grad():
    a, b = mini.Parameter([1.0]), mini.Parameter([1.0])
    for opt in (mini.SGD([a, b], lr=0.1, momentum=0.9), mini.Adam([a, b])):
        (a * 2.0).sum().backward()
        opt.step()
        opt.zero_grad()
    assert b.data.tolist() == [1.0] and a.data[0] < 1.0 and a.grad is None


def test_the_engine_is_about_500_lines_as_the_docs_say():
    """docs/README.md, chapter 3 and the README call the engine, its functions, modules and
    optimizers "about 500 lines": keep that true."""
    from pathlib import Path

    folder = Path(mini.__file__).parent
    lines = sum(len((folder / f).read_text().splitlines())
                for f in ("engine.py", "functional.py", "nn.py"))
    assert 400 <= lines <= 600, lines
