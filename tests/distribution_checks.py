"""What the distribution tests share: building the same distribution in torch and ndgrad, and
comparing values and errors between the two (test_distributions*.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Container
from typing import Any

import numpy as np
import torch
import torch.distributions as td

import ndgrad
import ndgrad.distributions as nd


class Draws:
    """Random parameter values for a test file's cases, from its own seeded generator (so one
    file's values do not depend on another's): ``batch``-shaped unless a shape is given."""

    def __init__(self, seed: int, batch: tuple[int, ...] = (3, 2)) -> None:
        self.rng, self.batch = np.random.default_rng(seed), batch

    def pos(self, shape: Any = None, lo: float = 0.5, hi: float = 3.0) -> np.ndarray:
        return self.rng.uniform(lo, hi, self.batch if shape is None else shape)

    def real(self, shape: Any = None, s: float = 1.5) -> np.ndarray:
        return self.rng.normal(0, s, self.batch if shape is None else shape)

    def prob(self, shape: Any = None) -> np.ndarray:
        return self.rng.uniform(0.05, 0.95, self.batch if shape is None else shape)

    def simplex(self, shape: Any = None) -> np.ndarray:
        p = self.rng.uniform(0.1, 1.0, (*self.batch, 4) if shape is None else shape)
        return p / p.sum(-1, keepdims=True)  # type: ignore[no-any-return]


def same_description(n_dist: Any, t_dist: Any, support_repr: bool = True) -> None:
    """ndgrad's distribution describes itself as torch's: class, shapes, rsample, parameter
    constraints, support (its repr too unless ``support_repr`` is False: a support that
    depends on the parameters prints them) and repr."""
    assert type(n_dist).__name__ == type(t_dist).__name__
    assert tuple(n_dist.batch_shape) == tuple(t_dist.batch_shape)
    assert tuple(n_dist.event_shape) == tuple(t_dist.event_shape)
    assert n_dist.has_rsample == t_dist.has_rsample
    assert set(n_dist.arg_constraints) == set(t_dist.arg_constraints)
    if support_repr:
        assert repr(n_dist.support) == repr(t_dist.support).replace("torch", "ndgrad")
    assert n_dist.support.event_dim == t_dist.support.event_dim
    assert n_dist.support.is_discrete == t_dist.support.is_discrete
    assert repr(n_dist) == repr(t_dist).replace("torch", "ndgrad")


def make(lib: Any, spec: tuple[str, dict[str, Any]], requires_grad: bool = True,
         constant: Container[str] = ()) -> tuple[Any, dict[str, Any]]:
    """The distribution ``spec`` = (class name, parameters) in torch (lib = torch) or ndgrad,
    and its parameter leaves (arrays become leaves, requiring grad unless in ``constant``)."""
    name, params = spec
    mod = td if lib is torch else nd
    leaves, kwargs = {}, {}
    for k, v in params.items():
        if isinstance(v, np.ndarray):
            t = lib.tensor(v, requires_grad=requires_grad and k not in constant)
            leaves[k] = t
            kwargs[k] = t
        else:
            kwargs[k] = v
    return getattr(mod, name)(**kwargs), leaves


def cmp(n: Any, t: Any, what: str, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """ndgrad's value ``n`` equals torch's ``t``: shape, dtype and values (or a number)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(n, ndgrad.Tensor), what
        assert tuple(n.shape) == tuple(t.shape), f"{what}: shape {n.shape} vs {t.shape}"
        assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1], what
        if t.dtype == torch.float32:  # (numbers as parameters make float32 distributions)
            rtol, atol = max(rtol, 1e-5), max(atol, 1e-6)
        np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), rtol=rtol,
                                   atol=atol, equal_nan=True, err_msg=what)
    else:
        assert n == t or (math.isnan(n) and math.isnan(t)), f"{what}: {n} vs {t}"


def values(t_dist: Any) -> Any:
    """Points to evaluate log_prob at: torch's own draws."""
    torch.manual_seed(0)
    return t_dist.sample((4,)).detach()


def error(fn: Callable[[], Any]) -> tuple[str, str] | None:
    """The exception ``fn`` raises as (type name, message with torch's names as ndgrad's)."""
    try:
        fn()
    except (ValueError, NotImplementedError, RuntimeError, TypeError, AssertionError) as e:
        return type(e).__name__, str(e).replace("torch.", "ndgrad.").replace("torch", "ndgrad")
    return None


def cmp_grads(case: str, outs: list[tuple[Any, Any]], t_leaves: dict[str, Any],
              n_leaves: dict[str, Any], rng: np.random.Generator,
              ndgrad_only: bool = False) -> None:
    """d(sum of outputs weighted by ``rng``'s normals, finite entries only)/d(parameters),
    ndgrad's against torch's; ``outs`` are (ndgrad, torch) pairs. ``ndgrad_only`` just checks
    that ndgrad's backward runs (where torch's raises)."""
    outs = [(n, t) for n, t in outs if t.requires_grad]
    weights = [np.where(np.isfinite(t.detach().numpy()), rng.normal(size=tuple(t.shape)), 0.0)
               for _, t in outs]
    names = list(t_leaves)
    n_loss = sum((ndgrad.where(n.isfinite(), n, 0.0) * ndgrad.tensor(w)).sum()
                 for (n, _), w in zip(outs, weights))
    if ndgrad_only:
        ndgrad.autograd.grad(n_loss, [n_leaves[k] for k in names], allow_unused=True)
        return
    t_loss = sum((torch.where(torch.isfinite(t), t, 0.0) * torch.tensor(w)).sum()
                 for (_, t), w in zip(outs, weights))
    t_g = torch.autograd.grad(t_loss, [t_leaves[k] for k in names], allow_unused=True)
    n_g = ndgrad.autograd.grad(n_loss, [n_leaves[k] for k in names], allow_unused=True)
    for k, a, b in zip(names, n_g, t_g):
        if b is None:
            assert a is None or not np.any(a.numpy()), f"{case}: grad of {k}"
        else:
            cmp(a, b, f"{case}: gradient of {k}", rtol=1e-8, atol=1e-9)
