"""ndgrad.Value, the micrograd-style scalar engine, against PyTorch in float64."""

import math
import random

import pytest
import torch

import ndgrad
from ndgrad.scalar import MLP, Layer, Neuron, Value


def close(a: float, b: float, tol: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def leaf(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


# -- micrograd's own tests (test/test_engine.py), at 1e-12 instead of 1e-6 ------------------------
def test_sanity_check():
    def f(x):
        z = 2 * x + 2 + x
        q = z.relu() + z * x
        h = (z * z).relu()
        return h + q + q * x

    x = Value(-4.0)
    y = f(x)
    y.backward()
    xt = leaf(-4.0)
    yt = f(xt)
    yt.backward()
    assert y.data == yt.item()
    assert x.grad == xt.grad.item()


def test_more_ops():
    def f(a, b):
        c = a + b
        d = a * b + b**3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e**2
        g = f / 2.0
        return g + 10.0 / f

    a, b = Value(-4.0), Value(2.0)
    g = f(a, b)
    g.backward()
    at, bt = leaf(-4.0), leaf(2.0)
    gt = f(at, bt)
    gt.backward()
    assert close(g.data, gt.item())
    assert close(a.grad, at.grad.item())
    assert close(b.grad, bt.grad.item())


def test_more_ops_in_place_form():
    # micrograd's test writes c += ...: on Values that rebinds c to a new Value, no mutation
    a, b = Value(-4.0), Value(2.0)
    c = a + b
    c += c + 1
    c += 1 + c + (-a)
    c.backward()
    assert c.data == -1.0 and a.grad == 3.0 and b.grad == 4.0


# -- every op, with Python numbers on either side ---------------------------------------------
BINARY = {
    "add": lambda a, b: a + b,
    "add_number": lambda a, b: a + 1.5,
    "radd": lambda a, b: 1.5 + b,
    "sub": lambda a, b: a - b,
    "sub_number": lambda a, b: a - 2,
    "rsub": lambda a, b: 2 - b,
    "mul": lambda a, b: a * b,
    "mul_number": lambda a, b: a * -3,
    "rmul": lambda a, b: 0.25 * b,
    "div": lambda a, b: a / b,
    "div_number": lambda a, b: a / 3.0,
    "rdiv": lambda a, b: 3 / b,
    "neg": lambda a, b: -a * b,
    "pow_int": lambda a, b: a**3,
    "pow_negative": lambda a, b: b**-2,
    "pow_float": lambda a, b: b**1.7,
    "pow_sqrt": lambda a, b: b**0.5,
    "self": lambda a, b: a * a - a / a + a,
    "mixed": lambda a, b: (a * b + 1) ** 2 / (b - 3.0) - 2 * a / b,
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("a, b", [(-1.3, 0.7), (2.5, 4.0), (0.4, 1.9)])
def test_binary_ops_match_torch(name, a, b):
    fn = BINARY[name]
    va, vb = Value(a), Value(b)
    out = fn(va, vb)
    out.backward()
    ta, tb = leaf(a), leaf(b)
    tout = fn(ta, tb)
    tout.backward()
    assert close(out.data, tout.item())
    for v, t in ((va, ta), (vb, tb)):
        expected = t.grad.item() if t.grad is not None else 0.0
        assert close(v.grad, expected), (name, v.grad, expected)


UNARY = ["relu", "tanh", "exp", "log", "sigmoid"]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("x", [-2.1, -0.3, 0.123, 1.0, 3.7])
def test_unary_ops_match_torch(name, x):
    if name == "log" and x <= 0:
        x = -x
    v = Value(x)
    # a non-uniform upstream gradient: a missing factor would not hide behind a 1
    out = getattr(v, name)() * 1.7 + getattr(v, name)() ** 2
    out.backward()
    t = leaf(x)
    tout = getattr(t, name)() * 1.7 + getattr(t, name)() ** 2
    tout.backward()
    assert close(out.data, tout.item())
    assert close(v.grad, t.grad.item())


def test_relu_at_zero_has_zero_slope_like_torch():
    v, t = Value(0.0), leaf(0.0)
    v.relu().backward()
    t.relu().backward()
    assert v.grad == t.grad.item() == 0.0


def test_sigmoid_is_stable_for_large_inputs():
    for x in (-1000.0, -50.0, 50.0, 1000.0):
        v, t = Value(x), leaf(x)
        s = v.sigmoid()
        s.backward()
        ts = t.sigmoid()
        ts.backward()
        assert close(s.data, ts.item()) and close(v.grad, t.grad.item())


def test_pow_at_zero_matches_torch():
    for n in (0, 0.5, 1, 2, 3.5):
        v, t = Value(0.0), leaf(0.0)
        (v**n).backward()
        (t**n).backward()
        assert v.grad == t.grad.item(), n


def test_central_differences_agree_with_backward():
    def f(x, y):
        return ((x * y).tanh() + (x / y).exp() - (y**2 + 1).log()) * x.sigmoid()

    x, y = Value(0.6), Value(-1.4)
    f(x, y).backward()
    h = 1e-6
    dx = (f(Value(0.6 + h), y).data - f(Value(0.6 - h), y).data) / (2 * h)
    dy = (f(x, Value(-1.4 + h)).data - f(x, Value(-1.4 - h)).data) / (2 * h)
    assert math.isclose(x.grad, dx, rel_tol=1e-7) and math.isclose(y.grad, dy, rel_tol=1e-7)


# -- the graph walk ------------------------------------------------------------------------------
def test_deep_chain_does_not_recurse():
    x = Value(0.5)
    y = x
    for _ in range(10_000):  # 20,000 ops, far past Python's recursion limit of 1,000
        y = y * 0.9999 + 0.001
    y.backward()
    assert close(x.grad, 0.9999**10_000, 1e-9)


def test_gradients_accumulate_over_uses():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0

    a = Value(3.0)
    b = a + a
    (b + b).backward()
    assert a.grad == 4.0

    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0

    a = Value(2.0)  # a diamond: a feeds two branches that meet again
    b, c = a * 3, a.exp()
    (b * c).backward()
    assert close(a.grad, 3 * math.exp(2) + 6 * math.exp(2))


def test_second_backward_after_zero_grad_gives_the_same_gradients():
    random.seed(1)
    model = MLP(2, [3, 1])
    loss = (model([0.5, -1.2]) - 1.0) ** 2 + (model([-0.3, 0.8]) + 1.0) ** 2
    loss.backward()
    first = [p.grad for p in model.parameters()]
    assert any(g != 0.0 for g in first)
    model.zero_grad()  # only the leaves: micrograd would now over-count through stale interiors
    loss.backward()
    assert [p.grad for p in model.parameters()] == first


def test_leaves_accumulate_across_backward_calls_like_torch():
    a, b = Value(1.5), Value(-0.5)
    y = (a * b).tanh() * a
    y.backward()
    y.backward()
    ta, tb = leaf(1.5), leaf(-0.5)
    ty = (ta * tb).tanh() * ta
    ty.backward(retain_graph=True)
    ty.backward()
    assert close(a.grad, ta.grad.item()) and close(b.grad, tb.grad.item())
    assert y.grad == 1.0


def test_backward_from_a_leaf():
    a = Value(4.0)
    a.backward()
    assert a.grad == 1.0


def test_micrograd_style_custom_backward():
    # micrograd lessons add ops by assigning a _backward closure to the result
    def cube(x: Value) -> Value:
        out = Value(x.data**3, (x,), "cube")

        def _backward():
            x.grad += 3 * x.data**2 * out.grad

        out._backward = _backward
        return out

    x = Value(2.0)
    (cube(x) * 2).backward()
    assert x.grad == 24.0


# -- attributes, repr and errors ---------------------------------------------------------------
def test_attributes_and_repr():
    a = Value(2, label="a")
    assert a.data == 2.0 and isinstance(a.data, float) and a.grad == 0.0
    assert repr(a) == "Value(data=2.0, grad=0.0, label='a')"
    b = a * 3
    assert repr(b) == "Value(data=6.0, grad=0.0)" and b._op == "*" and b._prev[0] is a
    b.grad = 0.5
    assert b.grad == 0.5
    assert ndgrad.Value is Value


def test_errors_say_what_was_wrong():
    with pytest.raises(TypeError, match="real number"):
        Value("3")
    with pytest.raises(TypeError, match="real numbers"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match="constant int or float"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="data > 0"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="not a real number"):
        Value(-8.0) ** (1 / 3)
    with pytest.raises(ValueError, match="takes 3 inputs, got 2"):
        Neuron(3)([1.0, 2.0])


# -- nn: Neuron, Layer, MLP ------------------------------------------------------------------------
def test_modules_repr_and_parameters():
    random.seed(0)
    model = MLP(3, [4, 4, 1])
    assert repr(model) == ("MLP of [Layer of [" + ", ".join(["ReLUNeuron(3)"] * 4) + "], "
                           "Layer of [" + ", ".join(["ReLUNeuron(4)"] * 4) + "], "
                           "Layer of [LinearNeuron(4)]]")
    assert len(model.parameters()) == (3 + 1) * 4 + (4 + 1) * 4 + (4 + 1)
    assert all(-1 <= p.data <= 1 for p in model.parameters())
    assert isinstance(model([1.0, 2.0, 3.0]), Value)
    assert len(Layer(2, 5)([1.0, 2.0])) == 5
    for p in model.parameters():
        p.grad = 1.0
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_mlp_matches_torch():
    random.seed(3)
    model = MLP(3, [4, 4, 1])
    x = [0.5, -1.0, 2.0]
    out = model(x)
    (out * out).backward()

    # the same network as weight matrices: rows are neurons
    ws = [leaf([[w.data for w in n.w] for n in layer.neurons]) for layer in model.layers]
    bs = [leaf([n.b.data for n in layer.neurons]) for layer in model.layers]
    h = torch.tensor(x, dtype=torch.float64)
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = w @ h + b
        if i < len(ws) - 1:
            h = h.relu()
    (h * h).sum().backward()
    assert close(out.data, h.item())
    for layer, w, b in zip(model.layers, ws, bs):
        for j, n in enumerate(layer.neurons):
            assert all(close(p.grad, g) for p, g in zip(n.w, w.grad[j].tolist()))
            assert close(n.b.grad, b.grad[j].item())


def test_mlp_trains_on_a_toy_set():
    random.seed(0)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    model = MLP(3, [4, 4, 1])
    losses = []
    for _ in range(200):
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys)) / len(xs)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        losses.append(loss.data)
    assert losses[0] > 0.5
    assert losses[-1] < 0.05
