"""Linear algebra methods: matmul and its 2-D/3-D/1-D forms (mm, bmm, mv, dot, outer), with
PyTorch's shape rules and messages. The products run on one primitive, ``MatMul``.
"""

from __future__ import annotations

from typing import Any

from ndgrad.ops.linalg import MatMul, check_matmul
from ndgrad.tensor.base import TensorBase


class LinalgMixin(TensorBase):
    """Matrix products."""

    def matmul(self, other: Any) -> Any:
        """torch.matmul: 1-D operands are promoted to matrices and the added dim removed;
        batch dims broadcast."""
        x, y = self, self._operand(other)
        xs, ys = x._data.shape, y._data.shape
        if not xs or not ys:
            raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                               f"{len(xs)}D and {len(ys)}D")
        if x._data.dtype != y._data.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{x.dtype} != {y.dtype}")
        check_matmul(xs, ys)
        if len(xs) == 1 and len(ys) == 1:
            return (x * y).sum()
        if len(xs) == 1:
            return MatMul.apply(x.unsqueeze(0), y).squeeze(-2)
        if len(ys) == 1:
            return MatMul.apply(x, y.unsqueeze(-1)).squeeze(-1)
        return MatMul.apply(x, y)

    def mm(self, mat2: Any) -> Any:
        """Matrix product of two 2-D tensors (no broadcasting)."""
        if self._data.ndim != 2:
            raise RuntimeError(f"self must be a matrix (got a {self._data.ndim}-D tensor)")
        if mat2.ndim != 2:
            raise RuntimeError(f"mat2 must be a matrix (got a {mat2.ndim}-D tensor)")
        return self.matmul(mat2)

    def bmm(self, mat2: Any) -> Any:
        """Batched matrix product of (b, n, k) and (b, k, m) tensors (no broadcasting)."""
        if self._data.ndim != 3:
            raise RuntimeError(f"batch1 must be a 3D tensor (got a {self._data.ndim}-D tensor)")
        if mat2.ndim != 3:
            raise RuntimeError(f"batch2 must be a 3D tensor (got a {mat2.ndim}-D tensor)")
        (b, _, k), (b2, k2, _) = self._data.shape, mat2.shape
        if (b, k) != (b2, k2):
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{b}, {k}] but got: [{b2}, {k2}].")
        return self.matmul(mat2)

    def dot(self, other: Any) -> Any:
        """Inner product of two 1-D tensors of the same size and dtype."""
        if self._data.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {self._data.ndim}D and "
                               f"{other.ndim}D tensors")
        if self._data.dtype != other._data.dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{self.dtype} and {other.dtype}")
        return self.matmul(other)

    def outer(self, vec2: Any) -> Any:
        """(n,) and (m,) -> (n, m): out[i, j] = self[i] * vec2[j]."""
        for name, v in (("self", self), ("vec2", vec2)):
            if v.ndim != 1:
                raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    ger = outer

    def mv(self, vec: Any) -> Any:
        """(n, m) matrix times (m,) vector."""
        if self._data.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got {self._data.ndim}-D "
                               f"matrix and {vec.ndim}-D vector")
        return self.matmul(vec)
