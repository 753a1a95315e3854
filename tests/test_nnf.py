"""nn.functional against torch: second derivatives of piecewise ops (issue 11.4), F.pad's
repeating modes (issue 11.3), and the modules that sit on the functions (issue 12.4)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ndgrad

RNG = np.random.default_rng(0)


def _both(fn, *arrays):
    """fn on ndgrad and on torch tensors made from the same float64 arrays (requiring grad)."""
    nd = [ndgrad.tensor(a, requires_grad=True) for a in arrays]
    th = [torch.tensor(a, requires_grad=True) for a in arrays]
    return (nd, fn(ndgrad, *nd)), (th, fn(torch, *th))


PIECEWISE = {
    "relu": lambda lib, x: lib.nn.functional.relu(x),
    "relu6": lambda lib, x: lib.nn.functional.relu6(x * 4),
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2),
    "hardtanh": lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 0.5),
    "threshold": lambda lib, x: lib.nn.functional.threshold(x, 0.1, -3.0),
    "max_pool2d": lambda lib, x: lib.nn.functional.max_pool2d(x, 2),
    "avg_pool2d": lambda lib, x: lib.nn.functional.avg_pool2d(x, 2, 1, 1),
    "max_pool1d": lambda lib, x: lib.nn.functional.max_pool1d(x.flatten(2), 3),
    "pad_reflect": lambda lib, x: lib.nn.functional.pad(x, (2, 1, 1, 3), mode="reflect"),
}


@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_gradient_stays_in_graph(name: str) -> None:
    """Under create_graph the first gradient requires grad, and a second backward gives
    torch's (zero) second derivative instead of raising."""
    x = RNG.standard_normal((2, 3, 4, 4))
    results = []
    for inputs, y in _both(PIECEWISE[name], x):
        lib = ndgrad if isinstance(y, ndgrad.Tensor) else torch
        w = lib.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)))
        (g,) = lib.autograd.grad((y * w).sum(), inputs, create_graph=True)
        assert g.requires_grad
        (gg,) = lib.autograd.grad((g * g.detach()).sum(), inputs)
        results.append((g.detach().numpy(), gg.numpy()))
    (g_nd, gg_nd), (g_th, gg_th) = results
    np.testing.assert_allclose(g_nd, g_th, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(gg_nd, gg_th)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(1, 2), (2, 0, 1, 1), (1, 1, 0, 2, 2, 1), (-1, 2, 1, -2)])
def test_pad_modes(mode: str, pads: tuple[int, ...]) -> None:
    """Values and gradients of F.pad's repeating modes, negative pads (crops) included."""
    if mode == "reflect" and min(pads) < 0:
        pytest.skip("torch's reflect pad takes no negative pads")
    x = RNG.standard_normal((2, 3, 4, 5, 3)[: 2 + len(pads) // 2])
    (nd_in, y_nd), (th_in, y_th) = _both(
        lambda lib, t: lib.nn.functional.pad(t, pads, mode=mode), x)
    np.testing.assert_allclose(y_nd.detach().numpy(), y_th.detach().numpy(), rtol=0, atol=0)
    w = RNG.standard_normal(tuple(y_th.shape))
    (y_nd * ndgrad.tensor(w)).sum().backward()
    (y_th * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(nd_in[0].grad.numpy(), th_in[0].grad.numpy(), rtol=1e-12,
                               atol=1e-12)


def test_pad_mode_errors() -> None:
    x = ndgrad.zeros(1, 2, 3)
    with pytest.raises((ValueError, RuntimeError, NotImplementedError)):
        ndgrad.nn.functional.pad(x, (3, 3), mode="reflect")  # pad >= the dim's size


# -- modules: torch's constructor arguments, parameter names, repr, values and gradients -------
def _x(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _labels(n: int, c: int) -> np.ndarray:
    return RNG.integers(0, c, n)


def _signs(*shape: int) -> np.ndarray:
    return _target(np.where(RNG.random(shape) < 0.5, -1.0, 1.0))


class _target(np.ndarray):  # noqa: N801 - marks an input that takes no gradient
    def __new__(cls, a: np.ndarray) -> _target:
        return np.asarray(a).view(cls)


MODULES = [  # (name, constructor args, kwargs, inputs)
    ("Conv3d", (2, 3, 2), {"stride": 2, "padding": 1}, [_x(2, 2, 4, 5, 3)]),
    ("ConvTranspose1d", (2, 3, 3), {"stride": 2, "output_padding": 1}, [_x(2, 2, 5)]),
    ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, [_x(1, 2, 3, 2, 3)]),
    ("Upsample", (), {"scale_factor": 2, "mode": "bilinear"}, [_x(1, 2, 3, 4)]),
    ("UpsamplingNearest2d", (), {"size": (5, 7)}, [_x(1, 2, 3, 4)]),
    ("UpsamplingBilinear2d", (), {"scale_factor": 2}, [_x(1, 2, 3, 4)]),
    ("PixelShuffle", (2,), {}, [_x(2, 8, 3, 3)]),
    ("PixelUnshuffle", (2,), {}, [_x(2, 2, 4, 6)]),
    ("ChannelShuffle", (2,), {}, [_x(2, 6, 3, 3)]),
    ("InstanceNorm1d", (3,), {"affine": True}, [_x(2, 3, 5)]),
    ("InstanceNorm2d", (3,), {"track_running_stats": True}, [_x(2, 3, 4, 5)]),
    ("InstanceNorm3d", (3,), {}, [_x(3, 2, 3, 4)]),
    ("LocalResponseNorm", (3,), {}, [_x(2, 5, 3, 3)]),
    ("RMSNorm", (4,), {}, [_x(3, 4)]),
    ("ReflectionPad1d", (2,), {}, [_x(2, 3, 5)]),
    ("ReflectionPad2d", ((1, 2, 0, 1),), {}, [_x(2, 3, 4, 5)]),
    ("ReflectionPad3d", (1,), {}, [_x(1, 2, 3, 4, 5)]),
    ("ReplicationPad1d", ((3, 1),), {}, [_x(2, 3, 5)]),
    ("ReplicationPad2d", (2,), {}, [_x(2, 3, 4, 5)]),
    ("ReplicationPad3d", ((1, 0, 2, 1, 0, 3),), {}, [_x(1, 2, 3, 4, 5)]),
    ("CircularPad1d", (2,), {}, [_x(2, 3, 5)]),
    ("CircularPad2d", ((1, 2, 0, 1),), {}, [_x(2, 3, 4, 5)]),
    ("ZeroPad1d", ((1, 2),), {}, [_x(2, 3, 5)]),
    ("ZeroPad2d", (1,), {}, [_x(2, 3, 4, 5)]),
    ("ZeroPad3d", (1,), {}, [_x(1, 2, 3, 4, 5)]),
    ("ConstantPad1d", (2, 3.5), {}, [_x(2, 3, 5)]),
    ("ConstantPad2d", ((1, 0, 2, 1), -1.0), {}, [_x(2, 3, 4, 5)]),
    ("ConstantPad3d", (1, 0.5), {}, [_x(1, 2, 3, 4, 5)]),
    ("AdaptiveMaxPool1d", (3,), {}, [_x(2, 3, 7)]),
    ("AdaptiveMaxPool2d", ((2, 3),), {}, [_x(2, 3, 5, 7)]),
    ("AdaptiveMaxPool3d", (2,), {}, [_x(1, 2, 5, 4, 3)]),
    ("AdaptiveAvgPool3d", ((2, 1, 3),), {}, [_x(1, 2, 5, 4, 3)]),
    ("MaxPool3d", (2,), {"stride": 1}, [_x(1, 2, 3, 4, 3)]),
    ("AvgPool3d", (2,), {"padding": 1}, [_x(1, 2, 3, 4, 3)]),
    ("LPPool1d", (2, 3), {}, [_x(2, 3, 7)]),
    ("LPPool2d", (3, 2), {}, [_x(2, 3, 4, 6)]),
    ("Fold", ((4, 5), 2), {}, [_x(2, 3 * 4, 12)]),
    ("Unfold", (2,), {"dilation": 1, "padding": 1, "stride": 2}, [_x(2, 3, 4, 5)]),
    ("Bilinear", (3, 4, 5), {}, [_x(6, 3), _x(6, 4)]),
    ("Identity", (54,), {"unused": "x"}, [_x(2, 3)]),
    ("CosineSimilarity", (), {"dim": 0}, [_x(4, 3), _x(4, 3)]),
    ("PairwiseDistance", (), {"p": 1.0, "keepdim": True}, [_x(4, 3), _x(4, 3)]),
    ("CELU", (0.7,), {}, [_x(3, 4)]),
    ("SELU", (), {}, [_x(3, 4)]),
    ("GLU", (0,), {}, [_x(4, 3)]),
    ("Hardsigmoid", (), {}, [_x(3, 4) * 4]),
    ("Hardswish", (), {}, [_x(3, 4) * 4]),
    ("LogSigmoid", (), {}, [_x(3, 4)]),
    ("Softsign", (), {}, [_x(3, 4)]),
    ("Tanhshrink", (), {}, [_x(3, 4)]),
    ("Threshold", (0.1, 20.0), {}, [_x(3, 4)]),
    ("Hardshrink", (0.3,), {}, [_x(3, 4)]),
    ("Softshrink", (0.3,), {}, [_x(3, 4)]),
    ("Softmax2d", (), {}, [_x(2, 3, 2, 2)]),
    ("MarginRankingLoss", (0.2,), {}, [_x(5), _x(5), _signs(5)]),
    ("HingeEmbeddingLoss", (), {"margin": 0.5, "reduction": "sum"}, [_x(5), _signs(5)]),
    ("CosineEmbeddingLoss", (), {"margin": 0.1}, [_x(4, 3), _x(4, 3), _signs(4)]),
    ("SoftMarginLoss", (), {}, [_x(5), _signs(5)]),
    ("MultiLabelSoftMarginLoss", (), {}, [_x(4, 3), _target((RNG.random((4, 3)) < 0.5) * 1.0)]),
    ("MultiLabelMarginLoss", (), {}, [_x(2, 4), np.array([[3, 0, -1, 1], [1, 2, 3, -1]])]),
    ("MultiMarginLoss", (), {"p": 2, "margin": 0.7}, [_x(5, 3), _labels(5, 3)]),
    ("TripletMarginLoss", (), {"margin": 0.5, "swap": True}, [_x(4, 3), _x(4, 3), _x(4, 3)]),
    ("TripletMarginWithDistanceLoss", (), {"margin": 0.5}, [_x(4, 3), _x(4, 3), _x(4, 3)]),
    ("PoissonNLLLoss", (), {"full": True}, [_x(5), _target(RNG.poisson(2.0, 5) * 1.0)]),
    ("GaussianNLLLoss", (), {}, [_x(5, 2), _x(5, 2), RNG.random((5, 1)) + 0.1]),
]


@pytest.mark.parametrize("name, args, kwargs, inputs", MODULES, ids=[m[0] for m in MODULES])
def test_module_matches_torch(name: str, args: tuple, kwargs: dict, inputs: list) -> None:
    torch.manual_seed(0)
    t_mod = getattr(torch.nn, name)(*args, **kwargs).double()
    n_mod = getattr(ndgrad.nn, name)(*args, **kwargs).double()
    t_state = t_mod.state_dict()
    assert list(n_mod.state_dict()) == list(t_state)
    n_mod.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in t_state.items()})
    assert repr(n_mod) == repr(t_mod)
    floats = [np.issubdtype(a.dtype, np.floating) and not isinstance(a, _target)
              for a in inputs]
    inputs = [np.asarray(a) for a in inputs]
    t_in = [torch.tensor(a, requires_grad=f) for a, f in zip(inputs, floats)]
    n_in = [ndgrad.tensor(a, requires_grad=f) for a, f in zip(inputs, floats)]
    t_out, n_out = t_mod(*t_in), n_mod(*n_in)
    np.testing.assert_allclose(n_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-7,
                               atol=1e-12)
    w = RNG.standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (n_out * ndgrad.tensor(w)).sum().backward()
    for t, n in zip(t_in, n_in):
        if t.requires_grad:
            np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-12)
    for (key, tp), (_, nparam) in zip(t_mod.named_parameters(), n_mod.named_parameters()):
        np.testing.assert_allclose(nparam.grad.numpy(), tp.grad.numpy(), rtol=1e-7,
                                   atol=1e-12, err_msg=key)
    for key, buf in t_mod.state_dict().items():
        np.testing.assert_allclose(n_mod.state_dict()[key].numpy(), buf.numpy(), rtol=1e-12,
                                   err_msg=key)


@pytest.mark.parametrize("name", ["hardshrink", "softshrink", "threshold", "leaky_relu"])
def test_piecewise_gradient_at_nan(name: str) -> None:
    """The slope torch's vectorized kernels give at nan (0 for the shrinks, 1 for threshold,
    the negative slope for leaky_relu)."""
    fn = {"threshold": lambda lib, x: lib.nn.functional.threshold(x, 0.1, 2.0)}.get(
        name, lambda lib, x: getattr(lib.nn.functional, name)(x))
    grads = []
    for lib in (torch, ndgrad):
        x = lib.tensor(np.full(64, np.nan), requires_grad=True)
        fn(lib, x).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-7)


@pytest.mark.parametrize("name, ndim", [("dropout1d", 2), ("dropout1d", 3), ("dropout2d", 2),
                                        ("dropout2d", 3), ("dropout2d", 4), ("dropout2d", 5),
                                        ("dropout3d", 1), ("dropout3d", 3), ("dropout3d", 4),
                                        ("dropout3d", 5), ("feature_alpha_dropout", 3)])
def test_channel_dropout_ranks(name: str, ndim: int) -> None:
    """Which dims share one draw, as torch: the mask's pattern over many elements matches
    torch's (dropout2d reads 3-D as (N, C, L); dropout3d reads all but 5-D as unbatched)."""
    shape = (16, 16, 3, 3, 3)[:ndim]  # lead dims large: each varies, all but surely
    x = np.random.default_rng(0).uniform(1, 2, shape)
    torch.manual_seed(0)
    ndgrad.manual_seed(0)
    kw = dict(p=0.5, training=True)
    warns = (name, ndim) in {("dropout2d", 2), ("dropout2d", 3), ("dropout2d", 5),
                             ("dropout3d", 1), ("dropout3d", 3)}
    with pytest.warns(UserWarning) if warns else warnings.catch_warnings():
        if not warns:
            warnings.simplefilter("error")
        n = getattr(ndgrad.nn.functional, name)(ndgrad.tensor(x), **kw).numpy()
    t = getattr(torch.nn.functional, name)(torch.tensor(x), **kw).numpy()
    # elements that share a draw are kept or dropped together: compare which dims vary
    def varying(out: np.ndarray) -> list[bool]:
        kept = out != (out.min() if name.startswith("feature") else 0)
        return [bool((kept != kept.take([0], axis=d)).any()) for d in range(out.ndim)]
    assert n.shape == t.shape
    assert varying(n) == varying(t)


def test_channel_dropout_rank_errors() -> None:
    for name, shape in [("dropout1d", (3,)), ("dropout1d", (2, 3, 4, 5)), ("dropout2d", (3,)),
                        ("dropout3d", ()), ("feature_alpha_dropout", (3,))]:
        x = np.ones(shape)
        with pytest.raises(RuntimeError) as t_err:
            getattr(torch.nn.functional, name)(torch.tensor(x), 0.5, True)
        with pytest.raises(RuntimeError) as n_err:
            getattr(ndgrad.nn.functional, name)(ndgrad.tensor(x), 0.5, True)
        assert str(n_err.value) == str(t_err.value)
