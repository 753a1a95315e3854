"""nn.utils.prune against torch.nn.utils.prune: the same weights pruned in both libraries give
the same masks, pruned weights, state_dict keys, hooks, forward outputs and gradients of
``<name>_orig``; pruning twice combines masks as torch; ``remove``, ``is_pruned`` and torch's
errors. Weights are continuous random values, so L1/Ln rankings have no ties (ndgrad's topk
breaks ties differently from torch's). The random methods are checked by mask statistics only."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as t_prune

import ndgrad
from ndgrad import nn
from ndgrad.nn.utils import prune as nd_prune


def to_np(x) -> np.ndarray:
    return x.detach().numpy()


def close(a, b, what: str = "") -> None:
    np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-5, err_msg=what)


def linear_pair(in_f: int = 5, out_f: int = 4, seed: int = 0):
    """A torch and an ndgrad Linear with the same (tie-free) weights."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((out_f, in_f)).astype(np.float32)
    b = rng.standard_normal(out_f).astype(np.float32)
    tm, nm = torch.nn.Linear(in_f, out_f), nn.Linear(in_f, out_f)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(w))
        tm.bias.copy_(torch.from_numpy(b))
    nm.weight.data = ndgrad.tensor(w)
    nm.bias.data = ndgrad.tensor(b)
    return tm, nm


def conv_pair(seed: int = 0):
    """A torch and an ndgrad Conv2d(3, 4, 2) with the same weights."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    tm, nm = torch.nn.Conv2d(3, 4, 2), nn.Conv2d(3, 4, 2)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(w))
        tm.bias.copy_(torch.from_numpy(b))
    nm.weight.data = ndgrad.tensor(w)
    nm.bias.data = ndgrad.tensor(b)
    return tm, nm


def hook_kinds(module) -> list:
    """The pruning hooks of a module as (tensor name, class name or container's class names)."""
    out = []
    for hook in module._forward_pre_hooks.values():
        kind = type(hook).__name__
        if kind == "PruningContainer":
            kind = (kind, [type(m).__name__ for m in hook])
        out.append((hook._tensor_name, kind))
    return out


def check_same(tm, nm, name: str = "weight", x_shape=(2, 5)) -> None:
    """Mask, orig, pruned tensor, state_dict keys, parameter names, hooks, forward output and
    the gradient of ``<name>_orig`` (zero where masked) agree with torch's."""
    close(getattr(nm, name + "_mask"), getattr(tm, name + "_mask"), "mask")
    close(getattr(nm, name + "_orig"), getattr(tm, name + "_orig"), "orig")
    close(getattr(nm, name), getattr(tm, name), "pruned")
    assert list(nm.state_dict()) == list(tm.state_dict())
    assert [k for k, _ in nm.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert [k for k, _ in nm.named_buffers()] == [k for k, _ in tm.named_buffers()]
    assert name not in nm._parameters and isinstance(nm._parameters[name + "_orig"], nn.Parameter)
    pruned = getattr(nm, name)
    assert not isinstance(pruned, nn.Parameter) and pruned.requires_grad
    assert getattr(nm, name + "_mask").requires_grad is getattr(tm, name + "_mask").requires_grad
    assert hook_kinds(nm) == hook_kinds(tm)
    x = np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)
    yt, yn = tm(torch.from_numpy(x)), nm(ndgrad.tensor(x))
    close(yn, yt, "forward")
    yt.square().sum().backward()
    yn.square().sum().backward()
    g_n = getattr(nm, name + "_orig").grad
    close(g_n, getattr(tm, name + "_orig").grad, "grad of orig")
    assert np.all(to_np(g_n)[to_np(getattr(nm, name + "_mask")) == 0] == 0)


@pytest.mark.parametrize("amount", [0, 3, 20, 0.0, 0.3, 0.5, 1.0])
def test_l1_unstructured(amount):
    tm, nm = linear_pair()
    assert t_prune.l1_unstructured(tm, "weight", amount) is tm
    assert nd_prune.l1_unstructured(nm, "weight", amount) is nm
    check_same(tm, nm)
    n_zero = amount if isinstance(amount, int) else round(amount * 20)
    assert int((to_np(nm.weight_mask) == 0).sum()) == n_zero
    (hook,) = nm._forward_pre_hooks.values()
    assert isinstance(hook, nd_prune.L1Unstructured) and hook.amount == amount
    assert nd_prune.is_pruned(nm) and t_prune.is_pruned(tm)


def test_l1_unstructured_importance_scores_and_prune():
    tm, nm = linear_pair()
    scores = np.random.default_rng(5).standard_normal((4, 5)).astype(np.float32)
    t_prune.l1_unstructured(tm, "weight", 0.4, importance_scores=torch.from_numpy(scores))
    nd_prune.l1_unstructured(nm, "weight", 0.4, importance_scores=ndgrad.tensor(scores))
    check_same(tm, nm)
    # the method on a bare tensor
    w = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    close(nd_prune.L1Unstructured(5).prune(ndgrad.tensor(w)),
          t_prune.L1Unstructured(5).prune(torch.from_numpy(w)))
    close(nd_prune.L1Unstructured(0.25).prune(ndgrad.tensor(w), ndgrad.ones(3, 4),
                                              ndgrad.tensor(scores[:3, :4])),
          t_prune.L1Unstructured(0.25).prune(torch.from_numpy(w), torch.ones(3, 4),
                                             torch.from_numpy(scores[:3, :4])))


@pytest.mark.parametrize("n", [1, 2, math.inf])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("amount", [1, 2, 0.5, 0.0])
def test_ln_structured_conv(n, dim, amount):
    tm, nm = conv_pair()
    t_prune.ln_structured(tm, "weight", amount, n, dim)
    nd_prune.ln_structured(nm, "weight", amount, n, dim)
    check_same(tm, nm, x_shape=(1, 3, 3, 3))
    # whole channels along dim are zero
    mask = np.moveaxis(to_np(nm.weight_mask), dim, 0).reshape(nm.weight.shape[dim], -1)
    assert all(row.min() == row.max() for row in mask)
    n_chan = nm.weight.shape[dim]
    n_zero = amount if isinstance(amount, int) else round(amount * n_chan)
    assert int((mask[:, 0] == 0).sum()) == n_zero


@pytest.mark.parametrize("dim", [0, 1])
def test_ln_structured_importance_scores(dim):
    tm, nm = linear_pair()
    scores = np.random.default_rng(7).standard_normal((4, 5)).astype(np.float32)
    t_prune.ln_structured(tm, "weight", 2, 1, dim, importance_scores=torch.from_numpy(scores))
    nd_prune.ln_structured(nm, "weight", 2, 1, dim, importance_scores=ndgrad.tensor(scores))
    check_same(tm, nm)


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_custom_from_mask(name):
    tm, nm = linear_pair()
    shape = (4, 5) if name == "weight" else (4,)
    m = (np.random.default_rng(3).random(shape) > 0.5).astype(np.float32)
    t_prune.custom_from_mask(tm, name, torch.from_numpy(m))
    nd_prune.custom_from_mask(nm, name, ndgrad.tensor(m))
    check_same(tm, nm, name)
    np.testing.assert_array_equal(to_np(getattr(nm, name + "_mask")), m)


def test_identity():
    tm, nm = linear_pair()
    t_prune.identity(tm, "bias")
    nd_prune.identity(nm, "bias")
    check_same(tm, nm, "bias")
    assert np.all(to_np(nm.bias_mask) == 1)
    assert type(next(iter(nm._forward_pre_hooks.values()))) is nd_prune.Identity


def two_layer_pair():
    (t1, n1), (t2, n2) = linear_pair(5, 4, seed=0), linear_pair(4, 3, seed=1)
    return torch.nn.Sequential(t1, t2), nn.Sequential(n1, n2)


@pytest.mark.parametrize("amount", [7, 0.4, 0.0, 1.0])
def test_global_unstructured(amount):
    tm, nm = two_layer_pair()
    t_prune.global_unstructured([(tm[0], "weight"), (tm[1], "weight")],
                                t_prune.L1Unstructured, amount=amount)
    nd_prune.global_unstructured([(nm[0], "weight"), (nm[1], "weight")],
                                 nd_prune.L1Unstructured, amount=amount)
    for i in range(2):
        close(nm[i].weight_mask, tm[i].weight_mask, f"mask {i}")
        close(nm[i].weight, tm[i].weight, f"pruned {i}")
        assert hook_kinds(nm[i]) == hook_kinds(tm[i]) == [("weight", "CustomFromMask")]
    n_zero = sum(int((to_np(nm[i].weight_mask) == 0).sum()) for i in range(2))
    assert n_zero == (amount if isinstance(amount, int) else round(amount * 32))
    assert list(nm.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(1).standard_normal((2, 5)).astype(np.float32)
    yt, yn = tm(torch.from_numpy(x)), nm(ndgrad.tensor(x))
    close(yn, yt)
    yt.sum().backward()
    yn.sum().backward()
    for i in range(2):
        close(nm[i].weight_orig.grad, tm[i].weight_orig.grad)
    # a second global pruning (with importance scores for one layer) combines the masks
    s = np.random.default_rng(9).standard_normal((3, 4)).astype(np.float32)
    t_prune.global_unstructured([(tm[0], "weight"), (tm[1], "weight")], t_prune.L1Unstructured,
                                importance_scores={(tm[1], "weight"): torch.from_numpy(s)},
                                amount=0.25)
    nd_prune.global_unstructured([(nm[0], "weight"), (nm[1], "weight")], nd_prune.L1Unstructured,
                                 importance_scores={(nm[1], "weight"): ndgrad.tensor(s)},
                                 amount=0.25)
    for i in range(2):
        close(nm[i].weight_mask, tm[i].weight_mask, f"second mask {i}")
        assert hook_kinds(nm[i]) == hook_kinds(tm[i])


# (first pruning, second pruning) as functions of (prune module, module, lib)
SEQUENCES = {
    "l1_l1_float": [("l1_unstructured", 0.3), ("l1_unstructured", 0.5)],
    "l1_l1_int": [("l1_unstructured", 4), ("l1_unstructured", 5)],
    "l1_ln_dim0": [("l1_unstructured", 6), ("ln_structured", 1, 2, 0)],
    "ln_dim1_l1": [("ln_structured", 0.4, 1, 1), ("l1_unstructured", 0.5)],
    "ln_ln_inf": [("ln_structured", 1, math.inf, 0), ("ln_structured", 0.5, 2, 0)],
    "ln0_ln1": [("ln_structured", 2, 2, 0), ("ln_structured", 2, 1, 1)],
    "custom_l1": [("custom", None), ("l1_unstructured", 0.5)],
    "l1_custom_identity": [("l1_unstructured", 3), ("custom", None), ("identity",)],
}


def run_step(lib, mod, step, m) -> None:
    kind, *args = step
    if kind == "custom":
        lib.custom_from_mask(mod, "weight", m)
    else:
        getattr(lib, kind)(mod, "weight", *args)


@pytest.mark.parametrize("seq", list(SEQUENCES))
def test_iterative_pruning(seq):
    tm, nm = linear_pair()
    m = (np.random.default_rng(4).random((4, 5)) > 0.3).astype(np.float32)
    for step in SEQUENCES[seq]:
        run_step(t_prune, tm, step, torch.from_numpy(m))
        run_step(nd_prune, nm, step, ndgrad.tensor(m))
        close(nm.weight_mask, tm.weight_mask, f"mask after {step}")
    check_same(tm, nm)
    (hook,) = nm._forward_pre_hooks.values()
    assert isinstance(hook, nd_prune.PruningContainer)
    assert len(hook) == len(SEQUENCES[seq]) and hook[0]._tensor_name == "weight"
    # remove keeps the Parameter object (so an optimizer still holds it), with the pruned values
    orig = nm.weight_orig
    t_prune.remove(tm, "weight")
    nd_prune.remove(nm, "weight")
    assert nm.weight is orig and isinstance(nm.weight, nn.Parameter)
    close(nm.weight, tm.weight)


def test_container_direct():
    w = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    t_methods, n_methods = [], []
    for lib, out in ((t_prune, t_methods), (nd_prune, n_methods)):
        a, b = lib.L1Unstructured(3), lib.LnStructured(1, 2, dim=1)
        a._tensor_name = b._tensor_name = "w"
        c = lib.PruningContainer(a)
        c.add_pruning_method(b)
        out.append(c)
        assert c._tensor_name == "w" and len(c) == 2 and list(c) == [a, b]
    m1 = t_methods[0].compute_mask(torch.from_numpy(w), torch.ones(4, 5))
    m2 = n_methods[0].compute_mask(ndgrad.tensor(w), ndgrad.ones(4, 5))
    close(m2, m1)
    other = nd_prune.Identity()
    other._tensor_name = "v"
    with pytest.raises(ValueError, match="Can only add pruning methods acting on the parameter "
                                         "named 'w' to PruningContainer"):
        n_methods[0].add_pruning_method(other)
    with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
        n_methods[0].add_pruning_method(3)


def test_remove_and_is_pruned():
    tm, nm = two_layer_pair()
    assert not nd_prune.is_pruned(nm) and not t_prune.is_pruned(tm)
    t_prune.l1_unstructured(tm[1], "weight", 5)
    nd_prune.l1_unstructured(nm[1], "weight", 5)
    t_prune.l1_unstructured(tm[1], "bias", 1)
    nd_prune.l1_unstructured(nm[1], "bias", 1)
    assert nd_prune.is_pruned(nm) and nd_prune.is_pruned(nm[1]) and not nd_prune.is_pruned(nm[0])
    assert list(nm.state_dict()) == list(tm.state_dict())
    orig = nm[1].weight_orig
    t_prune.remove(tm[1], "weight")
    nd_prune.remove(nm[1], "weight")
    assert nm[1].weight is orig
    close(nm[1].weight, tm[1].weight)
    assert list(nm.state_dict()) == list(tm.state_dict())
    assert [k for k, _ in nm.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert hook_kinds(nm[1]) == hook_kinds(tm[1]) == [("bias", "L1Unstructured")]
    assert not hasattr(nm[1], "weight_orig") and not hasattr(nm[1], "weight_mask")
    nd_prune.remove(nm[1], "bias")
    t_prune.remove(tm[1], "bias")
    assert not nd_prune.is_pruned(nm) and not nm[1]._forward_pre_hooks
    assert list(nm.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(1).standard_normal((2, 5)).astype(np.float32)
    close(nm(ndgrad.tensor(x)), tm(torch.from_numpy(x)))
    with pytest.raises(ValueError) as e_n:
        nd_prune.remove(nm[1], "weight")
    with pytest.raises(ValueError) as e_t:
        t_prune.remove(tm[1], "weight")
    assert str(e_n.value) == str(e_t.value)


def test_training_updates_orig_and_keeps_pruned_zero():
    tm, nm = linear_pair()
    t_prune.l1_unstructured(tm, "weight", 0.5)
    nd_prune.l1_unstructured(nm, "weight", 0.5)
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    for _ in range(2):  # SGD steps on the parameters (weight_orig and bias)
        for lib, mod, xx in ((torch, tm, torch.from_numpy(x)), (ndgrad, nm, ndgrad.tensor(x))):
            mod.zero_grad()
            mod(xx).square().mean().backward()
            with lib.no_grad():
                for p in mod.parameters():
                    p -= 0.1 * p.grad
    close(nm.weight_orig, tm.weight_orig)
    close(nm(ndgrad.tensor(x)), tm(torch.from_numpy(x)))  # the hook refreshed the weight
    close(nm.weight, tm.weight)
    # the pruned state loads from torch's state_dict
    _, nm2 = linear_pair(seed=3)
    nd_prune.identity(nm2, "weight")
    nm2.load_state_dict({k: ndgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    close(nm2(ndgrad.tensor(x)), tm(torch.from_numpy(x)))


def same_error(fn_t, fn_n, exc=Exception) -> None:
    """Both raise the same exception type with the same message."""
    with pytest.raises(exc) as e_t:
        fn_t()
    with pytest.raises(exc) as e_n:
        fn_n()
    assert type(e_n.value) is type(e_t.value)
    assert str(e_n.value).replace("torch.", "").replace("ndgrad.", "") == \
        str(e_t.value).replace("torch.", "").replace("ndgrad.", "")


@pytest.mark.parametrize("amount", [-1, 1.5, -0.1, "a", None])
@pytest.mark.parametrize("cls", ["L1Unstructured", "RandomUnstructured", "RandomStructured"])
def test_amount_validation(amount, cls):
    same_error(lambda: getattr(t_prune, cls)(amount), lambda: getattr(nd_prune, cls)(amount))


def test_errors():
    tm, nm = linear_pair()
    # an int amount larger than the tensor, then the module is left as it was
    same_error(lambda: t_prune.l1_unstructured(tm, "weight", 21),
               lambda: nd_prune.l1_unstructured(nm, "weight", 21), ValueError)
    same_error(lambda: t_prune.ln_structured(tm, "weight", 5, 2, 0),
               lambda: nd_prune.ln_structured(nm, "weight", 5, 2, 0), ValueError)
    assert isinstance(nm._parameters["weight"], nn.Parameter) and "weight_orig" not in dir(nm)
    assert not nd_prune.is_pruned(nm)
    # structured pruning of a 1-D tensor; a dim out of range
    same_error(lambda: t_prune.ln_structured(tm, "bias", 1, 2, 0),
               lambda: nd_prune.ln_structured(nm, "bias", 1, 2, 0), ValueError)
    same_error(lambda: t_prune.random_structured(tm, "weight", 1, 2),
               lambda: nd_prune.random_structured(nm, "weight", 1, 2), IndexError)
    # importance scores of the wrong shape
    same_error(lambda: t_prune.l1_unstructured(tm, "weight", 1, torch.ones(3)),
               lambda: nd_prune.l1_unstructured(nm, "weight", 1, ndgrad.ones(3)), AssertionError)
    # global pruning needs an unstructured method, an iterable and a dict of scores
    same_error(lambda: t_prune.global_unstructured([(tm, "weight")], t_prune.RandomStructured,
                                                   amount=1),
               lambda: nd_prune.global_unstructured([(nm, "weight")], nd_prune.RandomStructured,
                                                    amount=1), TypeError)
    same_error(lambda: t_prune.global_unstructured(3, t_prune.L1Unstructured, amount=1),
               lambda: nd_prune.global_unstructured(3, nd_prune.L1Unstructured, amount=1),
               TypeError)
    same_error(lambda: t_prune.global_unstructured([(tm, "weight")], t_prune.L1Unstructured,
                                                   importance_scores=[], amount=1),
               lambda: nd_prune.global_unstructured([(nm, "weight")], nd_prune.L1Unstructured,
                                                    importance_scores=[], amount=1), TypeError)
    # a second pruning that asks for more than is left
    t_prune.l1_unstructured(tm, "weight", 15)
    nd_prune.l1_unstructured(nm, "weight", 15)
    same_error(lambda: t_prune.l1_unstructured(tm, "weight", 6),
               lambda: nd_prune.l1_unstructured(nm, "weight", 6), ValueError)
    with pytest.raises(TypeError):
        nd_prune.BasePruningMethod()  # abstract


def test_random_unstructured_statistics():
    _, nm = linear_pair(10, 8)
    nd_prune.random_unstructured(nm, "weight", 0.25)
    mask = to_np(nm.weight_mask)
    assert set(np.unique(mask)) == {0.0, 1.0} and int((mask == 0).sum()) == 20
    assert np.all(to_np(nm.weight)[mask == 0] == 0)
    np.testing.assert_array_equal(to_np(nm.weight)[mask == 1], to_np(nm.weight_orig)[mask == 1])
    # a second pass prunes among the survivors only
    nd_prune.random_unstructured(nm, "weight", 10)
    mask2 = to_np(nm.weight_mask)
    assert int((mask2 == 0).sum()) == 30 and np.all(mask2[mask == 0] == 0)
    # different masks from different draws
    masks = set()
    for _ in range(5):
        _, m = linear_pair(10, 8)
        masks.add(to_np(nd_prune.random_unstructured(m, "weight", 40).weight_mask).tobytes())
    assert len(masks) > 1


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_random_structured_statistics(dim):
    _, nm = conv_pair()
    nd_prune.random_structured(nm, "weight", 0.5, dim)
    n_chan = nm.weight.shape[dim]
    mask = np.moveaxis(to_np(nm.weight_mask), dim, 0).reshape(n_chan, -1)
    assert all(row.min() == row.max() for row in mask)
    assert int((mask[:, 0] == 0).sum()) == round(0.5 * n_chan)
    # a second pass prunes among the channels left
    nd_prune.random_structured(nm, "weight", 1, dim)
    mask2 = np.moveaxis(to_np(nm.weight_mask), dim, 0).reshape(n_chan, -1)
    assert int((mask2[:, 0] == 0).sum()) == round(0.5 * n_chan) + 1
    assert np.all(mask2[mask == 0] == 0)
    (hook,) = nm._forward_pre_hooks.values()
    assert [type(m) for m in hook] == [nd_prune.RandomStructured] * 2
