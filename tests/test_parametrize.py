"""nn.utils.parametrize, nn.utils.parametrizations and the hook-based weight_norm/spectral_norm
against torch: the same weights (and power-iteration/base buffers, copied through state_dict) in
both libraries, then forward, gradients of the stored originals, SGD steps, state_dict round trips
both ways, removal, and the errors torch raises for misuse."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn
from ndgrad.nn.utils import parametrizations as nd_pz
from ndgrad.nn.utils import parametrize as nd_p

t_pz = torch.nn.utils.parametrizations
t_p = torch.nn.utils.parametrize


def to_np(x) -> np.ndarray:
    return np.asarray(x) if isinstance(x, np.ndarray) else x.detach().numpy()


def close(a, b, what: str = "", atol: float = 1e-10) -> None:
    np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-9, atol=atol, err_msg=what)


def sd_to_torch(sd) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.array(v.numpy())) for k, v in sd.items()}


def sd_to_nd(sd) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in sd.items()}


def rand(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape)


def lib_of(mod):
    return torch if isinstance(mod, torch.nn.Module) else ndgrad


def make_pair(make):
    """The same float64 module in torch and ndgrad (make(lib) builds it)."""
    t_mod = make(torch).double()
    n_mod = make(ndgrad).double()
    n_mod.load_state_dict(sd_to_nd(t_mod.state_dict()))
    return t_mod, n_mod


def parametrized_pair(make, parametrize):
    """A pair with ``parametrize(lib, module)`` applied to both; ndgrad then loads torch's state
    (random power-iteration vectors, orthogonal bases) so the two are the same."""
    t_mod, n_mod = make_pair(make)
    parametrize(torch, t_mod)
    parametrize(ndgrad, n_mod)
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    n_mod.load_state_dict(sd_to_nd(t_mod.state_dict()))
    return t_mod, n_mod


def check_training(t_mod, n_mod, in_shape, steps=3, name="weight"):
    """Forward, the parametrized tensor, every parameter's gradient (by torch's names) and the
    state after each SGD step agree."""
    t_opt = torch.optim.SGD(t_mod.parameters(), lr=0.1)
    n_opt = ndgrad.optim.SGD(n_mod.parameters(), lr=0.1)
    assert [k for k, _ in n_mod.named_parameters()] == [k for k, _ in t_mod.named_parameters()]
    for step in range(steps):
        x = rand(*in_shape, seed=step)
        t_out, n_out = t_mod(torch.from_numpy(x)), n_mod(ndgrad.tensor(x))
        close(n_out, t_out, f"forward, step {step}")
        close(getattr(n_mod, name), getattr(t_mod, name), f"{name}, step {step}")
        t_opt.zero_grad()
        n_opt.zero_grad()
        (t_out + 1).square().mean().backward()
        (n_out + 1).square().mean().backward()
        t_params = dict(t_mod.named_parameters())
        for k, p in n_mod.named_parameters():
            close(p.grad, t_params[k].grad, f"grad of {k}, step {step}")
        t_opt.step()
        n_opt.step()
    t_sd = t_mod.state_dict()
    for k, v in n_mod.state_dict().items():
        close(v, t_sd[k], f"state {k}")


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the test compares torch's and ndgrad's errors
        return type(e).__name__, str(e).replace("torch.", "ndgrad.")
    raise AssertionError("no error raised")


def same_error(fn_t, fn_n, exact=True):
    """``fn_t()`` (torch) and ``fn_n()`` (ndgrad) raise the same error."""
    t_err, n_err = error_of(fn_t), error_of(fn_n)
    assert t_err[0] == n_err[0], (t_err, n_err)
    if exact:
        assert t_err[1] == n_err[1]


def same_error_of(fn, t_args, n_args, exact=True):
    """``fn(*t_args)`` and ``fn(*n_args)`` raise the same error (one lambda, both libraries)."""
    same_error(lambda: fn(*t_args), lambda: fn(*n_args), exact)


# -- parametrizations users write --------------------------------------------------------------
def symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

        def right_inverse(self, A):
            return A.triu()

    return Symmetric()


def scale(lib, factor=2.0):
    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * factor

        def right_inverse(self, A):
            return A / factor

    return Scale()


def no_inverse(lib):
    class Cube(lib.nn.Module):
        def forward(self, X):
            return X ** 3

    return Cube()


def linear44(lib):
    lib.manual_seed(0)
    return lib.nn.Linear(4, 4)


def test_custom_parametrization_trains_as_torch():
    t_mod, n_mod = parametrized_pair(
        linear44, lambda lib, m: lib.nn.utils.parametrize.register_parametrization(
            m, "weight", symmetric(lib)))
    assert type(n_mod).__name__ == "ParametrizedLinear"
    assert isinstance(n_mod, nn.Linear)
    assert nd_p.is_parametrized(n_mod) and nd_p.is_parametrized(n_mod, "weight")
    assert not nd_p.is_parametrized(n_mod, "bias")
    assert nd_p.type_before_parametrizations(n_mod) is nn.Linear
    assert nd_p.type_before_parametrizations(nn.Linear(2, 2)) is nn.Linear
    assert list(n_mod.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert repr(n_mod) == repr(t_mod)
    w = to_np(n_mod.weight)
    np.testing.assert_array_equal(w, w.T)
    check_training(t_mod, n_mod, (3, 4))


def test_chain_right_inverse_and_assignment():
    def chain(lib, m):
        lib.nn.utils.parametrize.register_parametrization(m, "weight", symmetric(lib))
        lib.nn.utils.parametrize.register_parametrization(m, "weight", scale(lib))

    t_mod, n_mod = make_pair(linear44)
    chain(torch, t_mod)
    chain(ndgrad, n_mod)
    # original = Symmetric.right_inverse(Scale.right_inverse(W)) at registration
    close(n_mod.parametrizations.weight.original, t_mod.parametrizations.weight.original)
    assert len(n_mod.parametrizations.weight) == 2
    value = rand(4, 4, seed=3)
    original = n_mod.parametrizations.weight.original
    t_mod.weight = torch.from_numpy(value)
    n_mod.weight = ndgrad.tensor(value)
    assert n_mod.parametrizations.weight.original is original  # set in place, as torch's set_
    close(n_mod.parametrizations.weight.original, t_mod.parametrizations.weight.original)
    check_training(t_mod, n_mod, (2, 4))


def test_buffer_parametrization_and_cached():
    def make(lib):
        m = lib.nn.BatchNorm1d(3)
        lib.nn.utils.parametrize.register_parametrization(m, "running_var", scale(lib, 3.0))
        return m

    t_mod, n_mod = make(torch).double(), make(ndgrad).double()
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    close(n_mod.running_var, t_mod.running_var)
    assert n_mod.weight is not None
    with nd_p.cached():
        a = n_mod.running_var
        assert n_mod.running_var is a
        with nd_p.cached():
            assert n_mod.running_var is a
        assert n_mod.running_var is a
    assert n_mod.running_var is not a
    assert nd_p._cache == {}
    t_p.remove_parametrizations(t_mod, "running_var")
    nd_p.remove_parametrizations(n_mod, "running_var")
    assert "running_var" in n_mod._buffers and type(n_mod) is nn.BatchNorm1d
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    close(n_mod.running_var, t_mod.running_var)


def test_remove_parametrizations_as_torch():
    for leave in (True, False):
        t_mod, n_mod = parametrized_pair(
            linear44, lambda lib, m: lib.nn.utils.parametrize.register_parametrization(
                m, "weight", symmetric(lib)))
        original = n_mod.parametrizations.weight.original
        t_p.remove_parametrizations(t_mod, "weight", leave_parametrized=leave)
        nd_p.remove_parametrizations(n_mod, "weight", leave_parametrized=leave)
        assert type(n_mod) is nn.Linear and "parametrizations" not in n_mod._modules
        assert n_mod.weight is original  # the optimizer's object survives
        assert isinstance(n_mod.weight, nn.Parameter)
        assert list(n_mod.state_dict()) == list(t_mod.state_dict())
        close(n_mod.weight, t_mod.weight)
    # a tensor built from several originals comes back as a new Parameter, or not at all
    t_mod, n_mod = parametrized_pair(linear44, lambda lib, m: lib.nn.utils.parametrizations
                                     .weight_norm(m))
    same_error(lambda: t_p.remove_parametrizations(t_mod, "weight", leave_parametrized=False),
               lambda: nd_p.remove_parametrizations(n_mod, "weight", leave_parametrized=False))
    t_p.remove_parametrizations(t_mod, "weight")
    nd_p.remove_parametrizations(n_mod, "weight")
    assert isinstance(n_mod.weight, nn.Parameter) and n_mod.weight.grad_fn is None
    close(n_mod.weight, t_mod.weight)


def test_two_tensors_parametrized_then_removed_one_by_one():
    m = nn.Linear(3, 3).double()
    nd_p.register_parametrization(m, "weight", symmetric(ndgrad))
    nd_p.register_parametrization(m, "bias", scale(ndgrad))
    cls = type(m)
    nd_p.remove_parametrizations(m, "weight")
    assert type(m) is cls and nd_p.is_parametrized(m, "bias")
    nd_p.remove_parametrizations(m, "bias")
    assert type(m) is nn.Linear
    # another Linear was never touched by the property on the parametrized class
    assert "weight" in nn.Linear(2, 2)._parameters


def test_misuse_raises_as_torch():
    def shape_changer(lib):
        class FirstRow(lib.nn.Module):
            def forward(self, X):
                return X[0]

        return FirstRow()

    def dtype_changer(lib):
        class ToFloat(lib.nn.Module):
            def forward(self, X):
                return X.float()

        return ToFloat()

    def bad_inverse(lib):
        class Bad(lib.nn.Module):
            def forward(self, X):
                return X

            def right_inverse(self, X):
                return 3

        return Bad()

    for make_p in (shape_changer, dtype_changer, bad_inverse):
        t_mod, n_mod = make_pair(linear44)
        same_error_of(lambda lib, m, p: lib.nn.utils.parametrize.register_parametrization(
            m, "weight", p(lib)), (torch, t_mod, make_p), (ndgrad, n_mod, make_p))
    # unsafe lets the shape change
    t_mod, n_mod = make_pair(linear44)
    t_p.register_parametrization(t_mod, "weight", shape_changer(torch), unsafe=True)
    nd_p.register_parametrization(n_mod, "weight", shape_changer(ndgrad), unsafe=True)
    assert n_mod.weight.shape == (4,)
    close(n_mod.weight, t_mod.weight)
    # a second link is checked against the current value too
    t_mod, n_mod = make_pair(linear44)
    t_p.register_parametrization(t_mod, "weight", symmetric(torch))
    nd_p.register_parametrization(n_mod, "weight", symmetric(ndgrad))
    same_error(lambda: t_p.register_parametrization(t_mod, "weight", shape_changer(torch)),
               lambda: nd_p.register_parametrization(n_mod, "weight", shape_changer(ndgrad)))
    def wrong_inverse(lib):
        class WrongInverse(lib.nn.Module):
            def forward(self, X):
                return X

            def right_inverse(self, X):
                return X[:2]

        return WrongInverse()

    same_error(lambda: t_p.register_parametrization(t_mod, "weight", wrong_inverse(torch)),
               lambda: nd_p.register_parametrization(n_mod, "weight", wrong_inverse(ndgrad)))
    # assigning needs a right_inverse on every link
    t_p.register_parametrization(t_mod, "weight", no_inverse(torch))
    nd_p.register_parametrization(n_mod, "weight", no_inverse(ndgrad))
    same_error(lambda: setattr(t_mod, "weight", torch.zeros(4, 4, dtype=torch.float64)),
               lambda: setattr(n_mod, "weight", ndgrad.zeros(4, 4, dtype=ndgrad.float64)))
    # unknown names, removing what is not there
    same_error(lambda: t_p.register_parametrization(t_mod, "nope", symmetric(torch)),
               lambda: nd_p.register_parametrization(n_mod, "nope", symmetric(ndgrad)),
               exact=False)
    same_error(lambda: t_p.remove_parametrizations(t_mod, "bias"),
               lambda: nd_p.remove_parametrizations(n_mod, "bias"), exact=False)
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(n_mod)
    replica = copy.deepcopy(n_mod)
    close(replica.weight, n_mod.weight)


def test_transfer_parametrizations_and_params():
    for make_p in (lambda lib, m: lib.nn.utils.parametrize.register_parametrization(
            m, "weight", symmetric(lib)), lambda lib, m: lib.nn.utils.parametrizations
            .weight_norm(m)):
        t_src, n_src = parametrized_pair(linear44, make_p)
        t_dst, n_dst = make_pair(lambda lib: lib.nn.Linear(4, 4))
        t_p.transfer_parametrizations_and_params(t_src, t_dst)
        nd_p.transfer_parametrizations_and_params(n_src, n_dst)
        assert list(n_dst.state_dict()) == list(t_dst.state_dict())
        close(n_dst.weight, t_dst.weight)
        close(n_dst.weight, n_src.weight)
    # a parameter the target lacks is created
    n_dst = nn.Module()
    nd_p.transfer_parametrizations_and_params(n_src, n_dst, "weight")
    close(n_dst.weight, n_src.weight)


# -- parametrizations.weight_norm --------------------------------------------------------------
def conv(lib):
    lib.manual_seed(0)
    return lib.nn.Conv2d(2, 3, 3)


@pytest.mark.parametrize("dim", [0, 1, -1, None, 2])
def test_weight_norm_trains_as_torch(dim):
    t_mod, n_mod = parametrized_pair(
        conv, lambda lib, m: lib.nn.utils.parametrizations.weight_norm(m, dim=dim))
    g = n_mod.parametrizations.weight.original0
    assert g.shape == t_mod.parametrizations.weight.original0.shape
    check_training(t_mod, n_mod, (2, 2, 5, 5))


def test_weight_norm_state_dict_both_ways_and_old_keys():
    t_mod, n_mod = parametrized_pair(
        conv, lambda lib, m: lib.nn.utils.parametrizations.weight_norm(m))
    with torch.no_grad():
        t_mod.parametrizations.weight.original0.mul_(1.5)
    n_mod.load_state_dict(sd_to_nd(t_mod.state_dict()))
    close(n_mod.weight, t_mod.weight)
    with ndgrad.no_grad():
        n_mod.parametrizations.weight.original1.mul_(0.5)
    t_mod.load_state_dict(sd_to_torch(n_mod.state_dict()))
    close(n_mod.weight, t_mod.weight)
    # a checkpoint of the hook-based weight_norm (weight_g, weight_v) loads into the new one
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = torch.nn.utils.weight_norm(conv(torch).double())
    n_mod.load_state_dict(sd_to_nd(old.state_dict()))
    close(n_mod.weight, old.weight)


# -- parametrizations.spectral_norm ------------------------------------------------------------
def linear_tall(lib):
    lib.manual_seed(0)
    return lib.nn.Linear(3, 5)


def conv_t(lib):
    lib.manual_seed(0)
    return lib.nn.ConvTranspose2d(2, 3, 3)


@pytest.mark.parametrize("make,kwargs,in_shape", [
    (linear_tall, {}, (4, 3)),
    (conv, {"n_power_iterations": 3}, (2, 2, 5, 5)),
    (conv, {"dim": -1, "eps": 1e-6}, (2, 2, 5, 5)),
    (conv_t, {}, (2, 2, 4, 4)),
])
def test_spectral_norm_trains_as_torch(make, kwargs, in_shape):
    t_mod, n_mod = parametrized_pair(
        make, lambda lib, m: lib.nn.utils.parametrizations.spectral_norm(m, **kwargs))
    check_training(t_mod, n_mod, in_shape)
    # eval: no power iteration, the buffers stay
    t_mod.eval()
    n_mod.eval()
    u = to_np(n_mod.parametrizations.weight[0]._u).copy()
    x = rand(*in_shape, seed=9)
    close(n_mod(ndgrad.tensor(x)), t_mod(torch.from_numpy(x)))
    np.testing.assert_array_equal(to_np(n_mod.parametrizations.weight[0]._u), u)


def test_spectral_norm_estimates_the_top_singular_value():
    m = nd_pz.spectral_norm(linear_tall(ndgrad).double())
    # after registration's 15 iterations (+1 per access in training) sigma is the top one
    assert np.linalg.norm(to_np(m.weight), 2) == pytest.approx(1.0, abs=1e-6)
    t_mod, n_mod = parametrized_pair(
        lambda lib: lib.nn.Linear(4, 1),
        lambda lib, m: lib.nn.utils.parametrizations.spectral_norm(m, name="bias"))
    close(n_mod.bias, t_mod.bias)  # a vector is normalized exactly


def test_spectral_norm_errors_as_torch():
    for kwargs in ({"dim": 2}, {"n_power_iterations": 0}, {"name": "nope"}):
        same_error_of(lambda lib, kw: lib.nn.utils.parametrizations.spectral_norm(
            lib.nn.Linear(2, 2), **kw), (torch, kwargs), (ndgrad, kwargs), exact=False)


# -- parametrizations.orthogonal ---------------------------------------------------------------
def mat(n, k):
    def make(lib):
        lib.manual_seed(0)
        return lib.nn.Linear(k, n)

    return make


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("omap", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("triv", [True, False])
def test_orthogonal_trains_as_torch(shape, omap, triv):
    def orth(lib, m):
        lib.nn.utils.parametrizations.orthogonal(m, orthogonal_map=omap,
                                                 use_trivialization=triv)

    t_mod, n_mod = parametrized_pair(mat(*shape), orth)
    w = to_np(n_mod.weight)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-10)
    check_training(t_mod, n_mod, (2, shape[1]))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_orthogonal_registration_as_torch(shape):
    # deterministic right inverses: householder's QR reflectors; a square base (QR of W)
    for omap, triv in (("householder", False), ("matrix_exp", True), ("cayley", False)):
        if triv and shape[0] != shape[1]:
            continue  # a non-square base is completed with random columns
        t_mod, n_mod = make_pair(mat(*shape))
        t_pz.orthogonal(t_mod, orthogonal_map=omap, use_trivialization=triv)
        nd_pz.orthogonal(n_mod, orthogonal_map=omap, use_trivialization=triv)
        t_sd = t_mod.state_dict()
        for k, v in n_mod.state_dict().items():
            close(v, t_sd[k], f"{omap} {k}")
        close(n_mod.weight, t_mod.weight)


def test_orthogonal_assignment_and_errors():
    t_mod, n_mod = parametrized_pair(mat(4, 4), lambda lib, m: lib.nn.utils.parametrizations
                                     .orthogonal(m))
    q = np.linalg.qr(rand(4, 4, seed=5))[0]
    t_mod.weight = torch.from_numpy(q)
    n_mod.weight = ndgrad.tensor(q)
    close(n_mod.weight, q, atol=1e-12)
    close(n_mod.weight, t_mod.weight)
    for kwargs in ({"orthogonal_map": "qr"}, {"name": "bias"}, {"name": "nope"}):
        same_error_of(lambda lib, kw: lib.nn.utils.parametrizations.orthogonal(
            lib.nn.Linear(4, 4), **kw), (torch, kwargs), (ndgrad, kwargs), exact=False)
    same_error(lambda: setattr(t_mod, "weight", torch.zeros(2, 2, dtype=torch.float64)),
               lambda: setattr(n_mod, "weight", ndgrad.zeros(2, 2, dtype=ndgrad.float64)))
    m = nd_pz.orthogonal(nn.Linear(3, 3).double(), use_trivialization=False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        m.weight = ndgrad.eye(3, dtype=ndgrad.float64)


# -- the hook-based forms ----------------------------------------------------------------------
def test_old_weight_norm_as_torch():
    for dim in (0, None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            t_mod = torch.nn.utils.weight_norm(conv(torch).double(), dim=dim)
        with pytest.warns(FutureWarning, match="deprecated"):
            n_mod = nn.utils.weight_norm(conv(ndgrad).double(), dim=dim)
        assert list(n_mod.state_dict()) == list(t_mod.state_dict()) == \
            ["bias", "weight_g", "weight_v"]
        n_mod.load_state_dict(sd_to_nd(t_mod.state_dict()))
        check_training(t_mod, n_mod, (2, 2, 5, 5))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            same_error_of(lambda lib, m: lib.nn.utils.weight_norm(m), (torch, t_mod),
                       (ndgrad, n_mod))
        torch.nn.utils.remove_weight_norm(t_mod)
        nn.utils.remove_weight_norm(n_mod)
        assert list(n_mod.state_dict()) == ["bias", "weight"]
        assert not n_mod._forward_pre_hooks
        close(n_mod.weight, t_mod.weight)
        same_error_of(lambda lib, m: lib.nn.utils.remove_weight_norm(m), (torch, t_mod),
                   (ndgrad, n_mod), exact=False)


@pytest.mark.parametrize("make,in_shape", [(linear_tall, (4, 3)), (conv_t, (2, 2, 4, 4))])
def test_old_spectral_norm_as_torch(make, in_shape):
    t_mod = torch.nn.utils.spectral_norm(make(torch).double(), n_power_iterations=2)
    n_mod = nn.utils.spectral_norm(make(ndgrad).double(), n_power_iterations=2)
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    assert {"weight_orig", "weight_u", "weight_v"} <= set(n_mod.state_dict())
    n_mod.load_state_dict(sd_to_nd(t_mod.state_dict()))
    check_training(t_mod, n_mod, in_shape)
    t_mod.eval()
    n_mod.eval()
    u = to_np(n_mod.weight_u).copy()
    x = rand(*in_shape, seed=7)
    close(n_mod(ndgrad.tensor(x)), t_mod(torch.from_numpy(x)))
    np.testing.assert_array_equal(to_np(n_mod.weight_u), u)
    # ndgrad's checkpoint loads into torch's module
    t_mod.load_state_dict(sd_to_torch(n_mod.state_dict()))
    same_error(lambda: torch.nn.utils.spectral_norm(t_mod),
               lambda: nn.utils.spectral_norm(n_mod))
    torch.nn.utils.remove_spectral_norm(t_mod)
    nn.utils.remove_spectral_norm(n_mod)
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    close(n_mod.weight, t_mod.weight)
    assert not n_mod.__dict__["_load_state_dict_pre_hooks"]
    same_error(lambda: torch.nn.utils.remove_spectral_norm(t_mod),
               lambda: nn.utils.remove_spectral_norm(n_mod), exact=False)


def test_old_spectral_norm_loads_checkpoint_without_v():
    t_mod = torch.nn.utils.spectral_norm(linear_tall(torch).double())
    t_mod(torch.from_numpy(rand(2, 3)))
    sd = t_mod.state_dict()
    old = {"bias": sd["bias"], "weight_orig": sd["weight_orig"], "weight_u": sd["weight_u"],
           "weight": t_mod.weight.detach()}  # the format before weight_v was saved
    t_new = torch.nn.utils.spectral_norm(linear_tall(torch).double())
    n_new = nn.utils.spectral_norm(linear_tall(ndgrad).double())
    t_new.load_state_dict(dict(old))
    n_new.load_state_dict(sd_to_nd(old))
    close(n_new.weight_v, t_new.weight_v, atol=1e-8)
    with pytest.raises(RuntimeError, match="Missing key"):
        n_new.load_state_dict({"bias": old["bias"].numpy(), "weight": old["weight"].numpy()})


def test_load_state_dict_pre_hook_with_module():
    seen = []
    m = nn.Sequential(nn.Linear(2, 2))
    handle = m[0].register_load_state_dict_pre_hook(
        lambda mod, sd, prefix, *rest: seen.append((type(mod).__name__, prefix)))
    m.load_state_dict(m.state_dict())
    handle.remove()
    m.load_state_dict(m.state_dict())
    assert seen == [("Linear", "0.")]


def test_exports_as_torch():
    assert nn.utils.parametrize is nd_p
    assert nn.utils.parametrizations is nd_pz
    import ndgrad.nn.utils.parametrizations as by_import

    assert by_import is nd_pz
    for name in ("weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"):
        assert callable(getattr(nn.utils, name))
    for name in t_p.__all__ if hasattr(t_p, "__all__") else ():
        assert hasattr(nd_p, name), name


class Batched:
    """A module holding a batch of matrices, to parametrize (forward: x @ each matrix)."""

    def __new__(cls, lib, shape=(2, 5, 3)):
        class BatchedMatrices(lib.nn.Module):
            def __init__(self):
                super().__init__()
                lib.manual_seed(0)
                self.weight = lib.nn.Parameter(lib.randn(*shape))

            def forward(self, x):
                return x @ self.weight

        return BatchedMatrices()


@pytest.mark.parametrize("omap", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_batch_of_matrices(omap):
    t_mod, n_mod = parametrized_pair(
        Batched, lambda lib, m: lib.nn.utils.parametrizations.orthogonal(m, orthogonal_map=omap))
    w = to_np(n_mod.weight)
    np.testing.assert_allclose(w.transpose(0, 2, 1) @ w, np.broadcast_to(np.eye(3), (2, 3, 3)),
                               atol=1e-10)
    check_training(t_mod, n_mod, (2, 4, 5))


@pytest.mark.parametrize("parametrize", [
    lambda lib, m: lib.nn.utils.parametrizations.weight_norm(m),
    lambda lib, m: lib.nn.utils.parametrizations.spectral_norm(m),
    lambda lib, m: lib.nn.utils.parametrizations.orthogonal(m, orthogonal_map="householder"),
])
def test_float32_keeps_dtype_and_matches(parametrize):
    t_mod, n_mod = make_pair(linear_tall)
    t_mod, n_mod = t_mod.float(), n_mod.float()
    parametrize(torch, t_mod)
    parametrize(ndgrad, n_mod)
    n_mod.load_state_dict(sd_to_nd(t_mod.state_dict()))
    assert n_mod.weight.dtype == ndgrad.float32
    assert all(v.dtype == ndgrad.float32 for v in n_mod.state_dict().values())
    x = rand(4, 3).astype(np.float32)
    t_out, n_out = t_mod(torch.from_numpy(x)), n_mod(ndgrad.tensor(x))
    np.testing.assert_allclose(to_np(n_out), to_np(t_out), rtol=1e-5, atol=1e-5)
    t_out.square().sum().backward()
    n_out.square().sum().backward()
    t_params = dict(t_mod.named_parameters())
    for k, p in n_mod.named_parameters():
        np.testing.assert_allclose(to_np(p.grad), to_np(t_params[k].grad), rtol=1e-4, atol=1e-5)
