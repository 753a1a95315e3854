"""Spectral normalization by a forward pre-hook (torch.nn.utils.spectral_norm, the older form of
``parametrizations.spectral_norm``): ``weight = weight_orig / sigma``, with sigma, the largest
singular value of ``weight_orig`` seen as a matrix, estimated by power iteration on the buffers
``weight_u`` and ``weight_v`` (one step per training forward; none in eval mode)."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from ndgrad.autograd import no_grad
from ndgrad.nn.functional import normalize
from ndgrad.nn.module import Module
from ndgrad.nn.parameter import Parameter
from ndgrad.nn.utils.weight_norm import remove_hook
from ndgrad.tensor import Tensor

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]

T_module = TypeVar("T_module", bound=Module)


def _reshape_weight_to_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` as a matrix with ``dim`` as its rows: (d_dim, prod(other dims))."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.reshape(weight.shape[0], -1)


def _default_dim(module: Module) -> int:
    """The output-channel dim of the weight: 1 for transposed convolutions, else 0."""
    from ndgrad.nn.modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d

    return 1 if isinstance(module, ConvTranspose1d | ConvTranspose2d | ConvTranspose3d) else 0


class SpectralNorm:
    """The forward pre-hook that sets ``module.<name>`` to ``<name>_orig / sigma``."""

    _version: int = 1
    name: str
    dim: int
    n_power_iterations: int
    eps: float

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        return _reshape_weight_to_matrix(weight, self.dim)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():  # updates the buffers in place: v first, then u
                for _ in range(self.n_power_iterations):
                    v = normalize(weight_mat.t().mv(u), dim=0, eps=self.eps, out=v)
                    u = normalize(weight_mat.mv(v), dim=0, eps=self.eps, out=u)
                u, v = u.clone(), v.clone()  # later steps must not change this step's sigma
        sigma = u.dot(weight_mat.mv(v))
        return weight / sigma

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))

    def _solve_v_and_rescale(self, weight_mat: np.ndarray, u: np.ndarray,
                             target_sigma: float) -> np.ndarray:
        """A ``v`` with ``u = normalize(W v)`` and ``u @ W @ v == target_sigma``: what an old
        checkpoint (without ``<name>_v``) implies."""
        v = np.linalg.pinv(weight_mat.T @ weight_mat) @ weight_mat.T @ u
        return v * (target_sigma / (u @ weight_mat @ v))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int,
              eps: float) -> SpectralNorm:
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same "
                                   f"parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with no_grad():
            h, w = fn.reshape_weight_to_matrix(weight).shape
            u = normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=fn.eps)
            v = normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=fn.eps)
        delattr(module, fn.name)
        module.register_parameter(fn.name + "_orig", weight)
        # code that reads module.weight (e.g. init) still finds it: a plain attribute
        setattr(module, fn.name, weight.data)
        module.register_buffer(fn.name + "_u", u)
        module.register_buffer(fn.name + "_v", v)
        module.register_forward_pre_hook(fn)
        module._register_load_state_dict_pre_hook(_SpectralNormLoadStateDictPreHook(fn))
        return fn


class _SpectralNormLoadStateDictPreHook:
    """Reads checkpoints from before ``<name>_v`` was saved (they hold ``<name>`` instead): solves
    for the ``v`` they imply. A checkpoint with ``_orig``, ``_u`` and ``_v`` loads as it is."""

    def __init__(self, fn: SpectralNorm) -> None:
        self.fn = fn

    def __call__(self, state_dict: dict[str, Any], prefix: str, local_metadata: dict[str, Any],
                 strict: bool, missing_keys: list[str], unexpected_keys: list[str],
                 error_msgs: list[str]) -> None:
        fn = self.fn
        key = prefix + fn.name
        if key not in state_dict:
            return  # the current format (or keys missing, which loading reports)
        if any(key + s not in state_dict for s in ("_orig", "_u")):
            missing_keys.extend(key + s for s in ("_orig", "_u") if key + s not in state_dict)
            return
        weight_orig = np.asarray(state_dict[key + "_orig"], dtype=np.float64)
        weight = np.asarray(state_dict.pop(key), dtype=np.float64)
        sigma = float((weight_orig / weight).mean())
        weight_mat = fn.reshape_weight_to_matrix(Tensor._make(weight_orig))._data
        u = np.asarray(state_dict[key + "_u"], dtype=np.float64)
        v = fn._solve_v_and_rescale(weight_mat, u, sigma)
        state_dict[key + "_v"] = Tensor._make(v.astype(np.asarray(state_dict[key + "_u"]).dtype))


def spectral_norm(module: T_module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> T_module:
    """Divide ``module.<name>`` by its spectral norm before every forward; ``dim`` (default:
    the output channels) indexes the rows of the matrix whose norm is taken."""
    SpectralNorm.apply(module, name, n_power_iterations,
                       _default_dim(module) if dim is None else dim, eps)
    return module


def remove_spectral_norm(module: T_module, name: str = "weight") -> T_module:
    """Fold the normalization into one parameter ``<name>`` and drop the hook and buffers."""
    remove_hook(module, SpectralNorm, name, "spectral_norm")
    hooks = module.__dict__.get("_load_state_dict_pre_hooks", {})
    for k, hook in list(hooks.items()):
        if isinstance(hook, _SpectralNormLoadStateDictPreHook) and hook.fn.name == name:
            del hooks[k]
    return module
