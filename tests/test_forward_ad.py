"""Forward-mode AD (ndgrad.autograd.forward_ad) against torch.autograd.forward_ad: the tangents
of a broad set of ops (float64, tight), the user's reverse graph untouched, in-place ops and
views, user Functions with jvp, torch's errors, and gradcheck(check_forward_ad=True)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfwad

import ndgrad
import ndgrad.autograd.forward_ad as fwad
from ndgrad.autograd import function
from ndgrad.autograd.gradcheck import GradcheckError

TOL: dict[str, Any] = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(autouse=True)
def _no_torch_jvp_decompositions(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's first make_dual scripts its jvp decompositions with TorchScript (seconds);
    none of the ops here needs them."""
    monkeypatch.setattr(tfwad, "_maybe_load_decompositions", lambda: None)


LIBS = ((ndgrad, fwad), (torch, tfwad))


def _arrays(shapes: list[Any], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [s if isinstance(s, np.ndarray) else rng.uniform(-2, 2, s) for s in shapes]


def _flat(out: Any) -> list[Any]:
    if isinstance(out, tuple | list):
        return [o for item in out for o in _flat(item)]
    return [out]


def _run(lib: Any, ad: Any, fn: Any, primals: list[np.ndarray], tangents: list[Any],
         grad: bool = False) -> tuple[list[Any], list[Any]]:
    """fn(lib, *duals) inside a dual level: (primal outputs, tangents) as arrays/None."""
    with ad.dual_level():
        args = []
        for p, t in zip(primals, tangents, strict=True):
            x = lib.tensor(p, requires_grad=grad and p.dtype.kind == "f")
            args.append(x if t is None else ad.make_dual(x, lib.tensor(t)))
        outs = _flat(fn(lib, *args))
        pairs = [ad.unpack_dual(o) for o in outs]
        return ([p.detach().numpy() for p, _ in pairs],
                [None if t is None else t.detach().numpy().copy() for _, t in pairs])


def check_fwd(shapes: list[Any], fn: Any, dual: tuple[int, ...] | None = None,
              grad: bool = False) -> None:
    """The same inputs (and tangents for the ``dual`` ones, default: every float one) in both
    libraries: outputs and tangents must agree, None where torch gives None."""
    primals = _arrays(shapes)
    rng = np.random.default_rng(1)
    if dual is None:
        dual = tuple(i for i, p in enumerate(primals) if p.dtype.kind in "fc")
    tangents = [None if i not in dual else rng.standard_normal(p.shape) if p.dtype.kind == "f"
                else rng.standard_normal(p.shape) + 1j * rng.standard_normal(p.shape)
                for i, p in enumerate(primals)]
    (nd_out, nd_tan), (t_out, t_tan) = (_run(lib, ad, fn, primals, tangents, grad)
                                        for lib, ad in LIBS)
    assert len(nd_out) == len(t_out)
    for a, b, ta, tb in zip(nd_out, t_out, nd_tan, t_tan, strict=True):
        np.testing.assert_allclose(a, b, **TOL)
        assert (ta is None) == (tb is None), (ta, tb)
        if ta is not None:
            assert ta.dtype == tb.dtype and ta.shape == tb.shape
            np.testing.assert_allclose(ta, tb, **TOL)


def F(lib: Any) -> Any:  # noqa: N802 - torch's name for nn.functional
    return lib.nn.functional


IDX = np.array([[0, 2, 1], [1, 1, 0]])
TARGET = np.array([1, 0, 3])
# name: (input shapes or arrays, fn(lib, *inputs)[, indices of the inputs given a tangent])
OPS: dict[str, tuple[Any, ...]] = {
    # elementwise, unary and binary with broadcasting
    "unary": ([(3, 4)], lambda lib, x: (x.sin() + x.exp() * x.tanh() - x.sigmoid() + x.relu()
                                        + x.abs() + (x * x + 1).sqrt().log() + x.erf())),
    "activations": ([(3, 4)], lambda lib, x: F(lib).hardswish(x) + F(lib).silu(x)
                    + F(lib).softplus(x) + F(lib).leaky_relu(x, 0.1) + F(lib).elu(x)),
    "binary_broadcast": ([(5, 1, 4, 1), (3, 1, 6)], lambda lib, x, y: (
        x * y + x / (y.abs() + 1) - y ** 2 + lib.maximum(x, y) + lib.atan2(x, y))),
    "pow_tensor": ([(3, 4), (4,)], lambda lib, x, y: (x.abs() + 0.5) ** y),
    "scalar_dim0": ([(), (2, 3)], lambda lib, x, y: x * y + x.exp()),
    "one_side_dual": ([(3, 4), (4,)], lambda lib, x, y: x * y.exp(), (1,)),
    # reductions
    "reductions": ([(3, 4, 5)], lambda lib, x: (
        x.sum(1), x.mean((0, 2), keepdim=True), x.prod(-1), x.var(0), x.std(2),
        x.logsumexp(1), x.norm(), x.amax(-1), x.cumsum(1))),
    "max_dim": ([(3, 5)], lambda lib, x: tuple(x.max(1))),
    "sort_topk": ([(3, 5)], lambda lib, x: (*x.sort(1), *x.topk(2, dim=1))),
    "int_outputs": ([(3, 5)], lambda lib, x: (x.argmax(1), x > 0, x.floor(), x.sign())),
    # linear algebra and nn
    "matmul": ([(2, 1, 3, 4), (5, 4, 2)], lambda lib, x, y: x @ y),
    "linear": ([(6, 4), (3, 4), (3,)], lambda lib, x, w, b: F(lib).linear(x, w, b)),
    "softmax": ([(3, 5)], lambda lib, x: (x.softmax(-1), x.log_softmax(0))),
    "cross_entropy": ([(3, 5), TARGET], lambda lib, x, t: F(lib).cross_entropy(x, t)),
    "losses": ([(3, 5), (3, 5)], lambda lib, x, y: (F(lib).mse_loss(x, y),
                                                    F(lib).smooth_l1_loss(x, y))),
    "conv2d": ([(2, 3, 6, 5), (4, 3, 3, 2), (4,)],
               lambda lib, x, w, b: F(lib).conv2d(x, w, b, stride=(2, 1), padding=1)),
    "pool": ([(2, 3, 6, 6)], lambda lib, x: (F(lib).max_pool2d(x, 2), F(lib).avg_pool2d(x, 3))),
    # indexing and views
    "views": ([(4, 6)], lambda lib, x: (x[1:, ::2], x[[0, 2]], x.t(), x.reshape(3, 8),
                                        x.permute(1, 0)[2], x.unsqueeze(1).expand(4, 3, 6),
                                        *x.split([2, 4], 1), x.diagonal(), x.flatten())),
    "gather": ([(3, 4), IDX], lambda lib, x, i: (x.gather(1, i), x[i], x[:, i[0]])),
    "cat_stack": ([(2, 3), (4, 3), (2, 3)], lambda lib, x, y, z: (
        lib.cat([x, y, z]), lib.stack([x, z], 1))),
    "cat_some_dual": ([(2, 3), (4, 3)], lambda lib, x, y: lib.cat([x, y]), (1,)),
    "decompositions": ([(4, 4)], lambda lib, x: (  # eig's backward refuses u = ones
        lib.linalg.eig(x).eigenvalues, lib.linalg.det(x), lib.linalg.inv(x))),
    "logcumsumexp": ([(3, 5)], lambda lib, x: x.logcumsumexp(1)),  # log|u| in its backward
    "where_clamp": ([(3, 4), (3, 4)], lambda lib, x, y: (
        lib.where(x > 0, x, y), x.clamp(-0.5, 0.7), x.clamp(min=y))),
}
CASTS = ([(3,)], lambda lib, x: (x.float() * 2, x.to(lib.float64).exp(), x.long(), x.type_as(x)))


@pytest.mark.parametrize("name", list(OPS))
def test_op_tangents_match_torch(name: str) -> None:
    shapes, fn, *dual = OPS[name]
    check_fwd(shapes, fn, dual[0] if dual else None)


@pytest.mark.parametrize("name", ["binary_broadcast", "matmul", "conv2d", "views"])
def test_op_tangents_with_inputs_requiring_grad(name: str) -> None:
    shapes, fn = OPS[name]
    check_fwd(shapes, fn, grad=True)


def test_casts_recorded() -> None:
    check_fwd(*CASTS, grad=True)


def test_casts_unrecorded() -> None:
    check_fwd(*CASTS)


def _mlp(lib: Any, x: Any, w1: Any, b1: Any, w2: Any, b2: Any, t: Any) -> Any:
    h = F(lib).linear(x, w1, b1).tanh()
    return F(lib).cross_entropy(F(lib).linear(h, w2, b2), t)


def test_mlp_tangent_in_weights_and_input() -> None:
    shapes = [(5, 4), (8, 4), (8,), (3, 8), (3,), np.array([0, 2, 1, 1, 0])]
    check_fwd(shapes, _mlp)
    check_fwd(shapes, _mlp, dual=(1,))


def test_complex_tangents() -> None:
    """ndgrad carries complex cotangents conjugated (ops/complex.py): the tangents must come
    out in torch's convention all the same, holomorphic ops or not."""
    z0 = np.array([1 + 2j, -0.5 + 1j, 2 - 1j])
    r0 = np.array([0.5, 2.0, -1.5])

    def fn(lib: Any, z: Any, r: Any) -> tuple[Any, ...]:
        return (z * z, z.exp(), z.abs(), z.conj() * z, z.angle(), lib.view_as_real(z * 1),
                lib.polar(r.abs() + 1, r), z.real * r)

    check_fwd([z0, r0], fn)


def test_forward_over_reverse() -> None:
    """Tangents through a backward recorded with create_graph (a Hessian-vector product):
    saved outputs (tanh, exp, sigmoid) carry their tangents into the backward formulas."""
    def fn(lib: Any, x: Any, w: Any) -> tuple[Any, ...]:
        h = (x @ w).tanh()
        y = (h.exp() * h.sigmoid()).sum(-1).log().sum() + (x * x).sum()
        return lib.autograd.grad(y, (x, w), create_graph=True)

    check_fwd([(3, 4), (4, 5)], fn, grad=True)


def _graph_names(t: Any) -> list[str]:
    """The names of the nodes of t's graph, in the order of a walk from t."""
    names, stack, seen = [], [t.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(node.name())
        stack.extend(n for n, _ in node.next_functions)
    return names


def test_reverse_graph_and_grads_unchanged() -> None:
    """Forward AD inside a computation backward runs through: the gradients, requires_grad,
    grad_fn and the graph's nodes are those of the same computation without forward AD."""
    arrays = _arrays([(5, 4), (8, 4), (8,), (3, 8), (3,)])
    target = np.array([0, 2, 1, 1, 0])
    tangent = np.random.default_rng(2).standard_normal((5, 4))

    def run(lib: Any, ad: Any, dual: bool) -> tuple[Any, ...]:
        x, w1, b1, w2, b2 = params = [lib.tensor(a, requires_grad=True) for a in arrays]
        with ad.dual_level():
            xin = ad.make_dual(x, lib.tensor(tangent)) if dual else x.view_as(x)
            loss = _mlp(lib, xin, w1, b1, w2, b2, lib.tensor(target))
            jvp = ad.unpack_dual(loss).tangent
            names = _graph_names(loss) if lib is ndgrad else None
            if lib is ndgrad:  # (torch would push tangents through its backward: it can't)
                loss.backward()
        if lib is torch:
            loss.backward()
        return (loss.requires_grad, type(loss.grad_fn).__name__ if lib is torch else
                loss.grad_fn.name(), [p.grad.numpy() for p in params], jvp, names)

    plain, dual, ref = run(ndgrad, fwad, False), run(ndgrad, fwad, True), run(torch, tfwad, True)
    assert plain[0] is dual[0] is True and plain[1] == dual[1]
    assert plain[4] == dual[4]  # the same nodes, in the same order
    for a, b, c in zip(plain[2], dual[2], ref[2], strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(b, c, **TOL)
    assert plain[3] is None
    np.testing.assert_allclose(dual[3].numpy(), ref[3].detach().numpy(), **TOL)


def test_nothing_recorded_for_duals_that_do_not_require_grad() -> None:
    with fwad.dual_level():
        x = fwad.make_dual(ndgrad.randn(3, dtype=ndgrad.float64), ndgrad.ones(3).double())
        y = (x * 2).exp().sum()
        assert not y.requires_grad and y.grad_fn is None
        tan = fwad.unpack_dual(y).tangent
        assert not tan.requires_grad and tan.grad_fn is None
        with ndgrad.no_grad():
            z = (x * 3).sum()
        np.testing.assert_allclose(fwad.unpack_dual(z).tangent.item(), 9.0)
    w = ndgrad.ones(3, requires_grad=True)
    with fwad.dual_level():
        d = fwad.make_dual(w, ndgrad.ones(3))
        (d * d).sum().backward()
        assert w.grad.tolist() == [2.0, 2.0, 2.0]
        assert fwad.unpack_dual(d).tangent.grad is None


def test_level_exit_drops_tangents_and_no_cost_outside() -> None:
    assert not function.intercepting
    with fwad.dual_level() as level:
        assert level == 0 and function.intercepting
        d = fwad.make_dual(ndgrad.ones(2), ndgrad.ones(2))
        y = d * 2
        assert fwad.unpack_dual(y).tangent is not None
    assert not function.intercepting
    assert fwad.unpack_dual(y) == (y, None) and fwad.unpack_dual(d).tangent is None
    assert "_fw_grads" not in y.__dict__ and "_fw_grads" not in d.__dict__
    assert not fwad._holders and not fwad._versions and not fwad._node_tangents
    with fwad.dual_level():
        assert fwad.unpack_dual(y).tangent is None
    assert fwad.enter_dual_level() == 0
    fwad.exit_dual_level(level=0)


def _inplace_ops(lib: Any, x: Any, y: Any) -> tuple[Any, ...]:
    a = x.clone()
    v = a[1:]  # a view: its tangent is a view of a's
    a.mul_(y).add_(1.5)  # in place on a dual: v's tangent follows
    b = lib.zeros(4, 3, dtype=lib.float64)
    bv = b[:2]
    b[2:].copy_(x[:2])  # into a tensor without tangent: it gets one, and so does bv
    c = y.clone()
    c.masked_fill_(c > 0, 7.0)  # constants written in: zero tangent there
    e = x.clone()
    e.zero_()
    return a, v, b, bv, c, e, x.exp().sin_(), y.clone().clamp_(-1, 1)


def _setitem(lib: Any, x: Any, y: Any) -> tuple[Any, ...]:
    b = lib.zeros(4, 3, dtype=lib.float64)
    b[2:] = x[:2]
    c = y.clone()
    c[0] = 7.0
    return b, c


@pytest.mark.parametrize("grad", [False, True])
def test_inplace_and_views_follow_torch(grad: bool) -> None:
    check_fwd([(4, 3), (4, 3)], _inplace_ops, grad=grad)
    check_fwd([(4, 3), (4, 3)], _inplace_ops, dual=(1,), grad=grad)


def test_setitem_recorded() -> None:
    check_fwd([(4, 3), (4, 3)], _setitem, grad=True)


def test_setitem_unrecorded() -> None:
    check_fwd([(4, 3), (4, 3)], _setitem)


def test_direct_write_is_refused_not_ignored() -> None:
    with fwad.dual_level():
        d = fwad.make_dual(ndgrad.zeros(3).double(), ndgrad.ones(3).double())
        c = d * 1
        c.numpy()[0] = 7.0  # behind ndgrad's back
        c._bump_version()
        with pytest.raises(RuntimeError, match="tangent is stale"):
            c + 1
        e = d * 1
        e.t_()
        e.unsqueeze_(0)
        with pytest.raises(RuntimeError, match="reshaped in place"):
            e + 1


def test_tangent_of_view_is_view_of_tangent() -> None:
    with fwad.dual_level():
        d = fwad.make_dual(ndgrad.zeros(4, 3).double(), ndgrad.ones(4, 3).double())
        v = d[1:].t()
        tv, td = fwad.unpack_dual(v).tangent, fwad.unpack_dual(d).tangent
        assert np.shares_memory(tv.numpy(), td.numpy())
        e = d * 1  # not a view: its own tangent, which in-place ops may change
        e.mul_(2)
        assert td.tolist() == [[1.0] * 3] * 4


def test_random_and_stateful_ops_run_once() -> None:
    """The op runs once: dropout's tangent uses its own mask; batch_norm's running statistics
    move once."""
    x = ndgrad.randn(50, 4, dtype=ndgrad.float64)
    mean, var = ndgrad.zeros(4).double(), ndgrad.ones(4).double()
    with fwad.dual_level():
        d = fwad.make_dual(x, ndgrad.ones_like(x))
        out, tan = fwad.unpack_dual(ndgrad.nn.functional.dropout(d, 0.5, training=True))
        np.testing.assert_allclose(tan.numpy(), (out != 0).double().numpy() * 2.0)
        ndgrad.nn.functional.batch_norm(d, mean, var, training=True, momentum=0.5)
    np.testing.assert_allclose(mean.numpy(), 0.5 * x.mean(0).numpy())


def _function_classes(lib: Any) -> tuple[Any, ...]:
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> Any:
            ctx.save_for_backward(x, y)
            ctx.save_for_forward(x, y)
            return x ** 3 * y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, y = ctx.saved_tensors
            return 3 * x ** 2 * y * g, x ** 3 * g

        @staticmethod
        def jvp(ctx: Any, xt: Any, yt: Any) -> Any:
            x, y = ctx.saved_tensors  # (yt: zeros when y has no tangent, as in torch)
            return 3 * x ** 2 * y * xt + x ** 3 * yt

    class NoJvp(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2

    class WrongJvp(NoJvp):
        @staticmethod
        def jvp(ctx: Any, xt: Any) -> Any:
            return xt * 3

    return Cube, NoJvp, WrongJvp


def test_user_function_jvp() -> None:
    check_fwd([(3, 4), (3, 4)], lambda lib, x, y: _function_classes(lib)[0].apply(x, y) + x)
    check_fwd([(3, 4), (3, 4)], lambda lib, x, y: _function_classes(lib)[0].apply(x, y),
              grad=True)
    for lib, ad in LIBS:
        no_jvp = _function_classes(lib)[1]
        with ad.dual_level():
            d = ad.make_dual(lib.ones(2), lib.ones(2))
            no_jvp.apply(lib.ones(2))  # no tangent in: no jvp needed
            with pytest.raises(NotImplementedError, match="must implement the jvp function"):
                no_jvp.apply(d)


def _raises(exc: type, fn: Any) -> str:
    with pytest.raises(exc) as info:
        fn()
    return str(info.value)


def _bad_jvp(lib: Any, result: Any) -> Any:
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2, x * 3

        @staticmethod
        def backward(ctx: Any, g: Any, h: Any) -> Any:
            return g

        @staticmethod
        def jvp(ctx: Any, xt: Any) -> Any:
            return result(xt)

    return Bad


def _error(lib: Any, ad: Any, case: str) -> str:
    """The message of the error ``case`` raises in lib."""
    x, i = lib.ones(3, dtype=lib.float64), lib.ones(3, dtype=lib.int64)
    if case == "no_level":
        return _raises(RuntimeError, lambda: ad.make_dual(x, x))
    with ad.dual_level():
        d = ad.make_dual(x, x)
        fn, exc = {
            "int_primal": (lambda: ad.make_dual(i, x), ValueError),
            "int_tangent": (lambda: ad.make_dual(x, i), ValueError),
            "size": (lambda: ad.make_dual(x, lib.ones(1, 3, dtype=lib.float64)), RuntimeError),
            "twice": (lambda: ad.make_dual(d, x), RuntimeError),
            "level": (lambda: ad.make_dual(x, x, level=4), RuntimeError),
            "nested": (ad.enter_dual_level, RuntimeError),
            "exit_other": (lambda: ad.exit_dual_level(level=2), RuntimeError),
            "jvp_count": (lambda: _bad_jvp(lib, lambda t: t).apply(d), RuntimeError),
            "jvp_type": (lambda: _bad_jvp(lib, lambda t: (3, t)).apply(d), RuntimeError),
            "jvp_size": (lambda: _bad_jvp(lib, lambda t: (t[:2], t)).apply(d), RuntimeError),
            "unpack_type": (lambda: ad.unpack_dual(1.0), TypeError),
        }[case]
        return _raises(exc, fn)


@pytest.mark.parametrize("case", ["no_level", "int_primal", "int_tangent", "size", "twice",
                                  "level", "nested", "exit_other", "jvp_count", "jvp_type",
                                  "jvp_size", "unpack_type"])
def test_errors_match_torch(case: str) -> None:
    ours, torchs = _error(ndgrad, fwad, case), _error(torch, tfwad, case)
    assert ours == torchs.replace("torch.", "ndgrad.")


def test_profiler_and_dual_level_together() -> None:
    from ndgrad.profiler import profile

    with profile() as prof, fwad.dual_level():
        d = fwad.make_dual(ndgrad.ones(3).double(), ndgrad.ones(3).double())
        tan = fwad.unpack_dual((d * 2).exp()).tangent
    assert not function.intercepting
    np.testing.assert_allclose(tan.numpy(), 2 * np.exp(2.0))
    names = [e.name for e in prof.events()]
    assert "Exp" in names and "Mul" in names


def _double(x: Any) -> Any:
    return x.pow(3).sum(0), (x * x.flip(0)).cumsum(0)


def test_gradcheck_forward_ad() -> None:
    x = ndgrad.randn(3, 2, dtype=ndgrad.float64, requires_grad=True)
    y = ndgrad.randn(2, dtype=ndgrad.float64, requires_grad=True)
    assert ndgrad.autograd.gradcheck(_double, (x,), check_forward_ad=True)
    assert ndgrad.autograd.gradcheck(lambda a, b: (a @ b).tanh(), (x, y),
                                     check_forward_ad=True, check_backward_ad=False)
    cube, _, wrong = _function_classes(ndgrad)
    assert ndgrad.autograd.gradcheck(cube.apply, (x, ndgrad.randn(3, 2).double()),
                                     check_forward_ad=True)
    with pytest.raises(GradcheckError, match="Jacobian computed with forward mode mismatch"):
        ndgrad.autograd.gradcheck(wrong.apply, (x,), check_forward_ad=True)
    assert not ndgrad.autograd.gradcheck(wrong.apply, (x,), check_forward_ad=True,
                                         raise_exception=False)
    # backward's Jacobian alone (wrong only in jvp) passes
    assert ndgrad.autograd.gradcheck(wrong.apply, (x,))
    w = ndgrad.randn(2, 4, dtype=ndgrad.float64, requires_grad=True)
    assert ndgrad.autograd.gradgradcheck(lambda a, b: (a @ b).tanh().exp().softmax(-1), (x, w),
                                         check_fwd_over_rev=True)
