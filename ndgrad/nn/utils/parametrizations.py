"""Ready-made parametrizations, as torch.nn.utils.parametrizations: ``weight_norm``,
``spectral_norm`` and ``orthogonal``, each registered with ``parametrize`` so the weight is
recomputed from its originals on every access."""

from __future__ import annotations

from enum import Enum, auto
from typing import TypeVar

import numpy as np

from ndgrad import linalg
from ndgrad.autograd import no_grad
from ndgrad.nn.functional import normalize
from ndgrad.nn.module import Module
from ndgrad.nn.utils import parametrize
from ndgrad.nn.utils.spectral_norm import _default_dim, _reshape_weight_to_matrix
from ndgrad.nn.utils.weight_norm import _weight_norm, norm_except_dim
from ndgrad.tensor import Tensor, cat
from ndgrad.tensor.creation import eye, randn, zeros_like

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]

T_module = TypeVar("T_module", bound=Module)


def _tensor_named(module: Module, name: str) -> Tensor:
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    return weight


# -- weight_norm ---------------------------------------------------------------------------------
class _WeightNorm(Module):
    """``(g, v) -> g * v / ||v||``; its right inverse splits a weight into its norm and itself."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Parametrize ``module.<name>`` as ``g * v / ||v||`` with ``original0 = g`` (norms over
    every dim but ``dim``; ``None``: one norm) and ``original1 = v``. Old checkpoints with
    ``<name>_g`` / ``<name>_v`` keys still load."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict: dict, prefix: str, *args: object) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


# -- spectral_norm -------------------------------------------------------------------------------
class _SpectralNorm(Module):
    """``W -> W / sigma(W)``, sigma estimated by power iteration on the buffers ``_u``, ``_v``
    (updated in training mode only); a vector is just normalized."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():  # the initial vectors are not part of any graph
                weight_mat = _reshape_weight_to_matrix(weight, self.dim)
                h, w = weight_mat.shape
                u = normalize(weight_mat.new_empty(h).normal_(0, 1), dim=0, eps=eps)
                v = normalize(weight_mat.new_empty(w).normal_(0, 1), dim=0, eps=eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(weight_mat, 15)  # start from reasonable singular vectors

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        """Advance ``_u`` and ``_v`` (in place) towards the top singular vectors."""
        with no_grad():
            for _ in range(n_power_iterations):
                normalize(weight_mat.mv(self._v), dim=0, eps=self.eps, out=self._u)
                normalize(weight_mat.mH.mv(self._u), dim=0, eps=self.eps, out=self._v)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)  # exact, nothing to estimate
        weight_mat = _reshape_weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # clones: a later in-place update of the buffers must not change this graph's sigma
        u, v = self._u.clone(), self._v.clone()
        sigma = u.vdot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: T_module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> T_module:
    """Parametrize ``module.<name>`` as itself divided by its spectral norm; ``dim`` (default:
    output channels, 1 for transposed convolutions) gives the rows of the matrix."""
    weight = _tensor_named(module, name)
    dim = _default_dim(module) if dim is None else dim
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


# -- orthogonal ----------------------------------------------------------------------------------
class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


def _is_orthogonal(q: Tensor) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eps = 10.0 * n * float(np.finfo(q._data.dtype).eps)
    return bool((q.mH @ q).allclose(eye(k, dtype=q.dtype), atol=eps))


def _make_orthogonal(a: Tensor) -> Tensor:
    """The Q of ``a = QR`` (``a`` tall) with the signs chosen so that diag(R) >= 0."""
    x, tau = a.geqrf()
    q = linalg.householder_product(x, tau)
    return q * x.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


class _Orthogonal(Module):
    """Maps an unconstrained (batch of) matrix to an orthogonal one: exp or Cayley transform of
    the skew part of its lower triangle, or a product of Householder reflections. With
    ``use_trivialization`` the result is multiplied by a fixed orthogonal ``base`` (set by
    ``right_inverse``), so assigning any orthogonal matrix is exact."""

    base: Tensor | None

    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *,
                 use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:  # work with a tall matrix (..., n, k), n >= k
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()
            if n != k:  # embed into a square (..., n, n)
                X = cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mH  # skew-symmetric
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = linalg.matrix_exp(A)
            else:  # Cayley: (I - A/2)^{-1} (I + A/2)
                Id = eye(n, dtype=A.dtype)
                Q = linalg.solve(Id - 0.5 * A, Id + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = linalg.householder_product(A, tau)
            # X's diagonal holds the signs (+-1) of the reflections: not differentiated through
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if "base" in self._buffers:
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        with no_grad():
            Q_init = Q
            n, k = Q.shape[-2], Q.shape[-1]
            transpose = n < k
            if transpose:
                Q = Q.mT
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                    raise NotImplementedError("It is not possible to assign to the matrix "
                                              "exponential or the Cayley parametrizations when "
                                              "use_trivialization=False.")
                # Householder: the QR reflectors of Q, with diag(R)'s signs on the diagonal
                A, tau = Q.geqrf()
                diag = np.sign(np.diagonal(A._data, axis1=-2, axis2=-1))
                diag = np.where(tau._data == 0.0, -diag, diag)  # LAPACK skipped this reflection
                A = A.clone()
                idx = np.arange(A.shape[-1])
                A._data[..., idx, idx] = diag
                return A.mT if transpose else A
            if n == k:
                Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
            else:  # complete Q to a full n x n orthogonal matrix
                N = randn(*Q.shape[:-2], n, n - k, dtype=Q.dtype)
                Q = _make_orthogonal(cat([Q, N], dim=-1))
            self.base = Q
            # -Id: forward's diagonal is the Householder signs, so householder(0) == eye(n, k)
            neg_id = zeros_like(Q_init)
            idx = np.arange(min(n, k))
            neg_id._data[..., idx, idx] = -1.0
            return neg_id


def orthogonal(module: T_module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> T_module:
    """Parametrize the matrix (or batch) ``module.<name>`` to stay orthogonal (columns or rows
    orthonormal when not square), via ``matrix_exp`` (square default), ``cayley`` or
    ``householder`` (non-square default)."""
    weight = _tensor_named(module, name)
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} "
                         f"dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
