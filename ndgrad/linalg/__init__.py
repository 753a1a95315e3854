"""ndgrad.linalg: torch.linalg on NumPy's LAPACK, batched over leading dims, with torch's
gradient formulas.

Each decomposition or solver is one primitive in ``ndgrad/ops`` (``solve.py``, ``decomp.py``,
``linalg.py``: forward on NumPy, backward in differentiable ops); the functions here check their
arguments as torch does and compose the rest (norms, cond, lstsq, lu_solve, householder_product,
...) from those primitives, so that autograd derives their gradients. Tensor methods such as
``x.det()`` and top-level functions such as ``ndgrad.det`` call these functions. This package
needs nothing from ``ndgrad.tensor`` (it works on the tensors it is given), so the Tensor class
can use it.

Real inputs only: complex matrices raise. ``eig`` and ``eigvals`` return complex tensors (see
``ndgrad/ops/complex.py`` for how their gradients are carried).
"""

from ndgrad.linalg._decomp import (
    cholesky,
    cholesky_ex,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    householder_product,
    qr,
    svd,
    svdvals,
)
from ndgrad.linalg._norms import cond, matrix_norm, matrix_rank, norm, vector_norm
from ndgrad.linalg._products import (
    cross,
    diagonal,
    matmul,
    multi_dot,
    vander,
    vecdot,
)
from ndgrad.linalg._solve import (
    det,
    inv,
    inv_ex,
    ldl_factor,
    ldl_factor_ex,
    ldl_solve,
    lstsq,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    matrix_exp,
    matrix_power,
    pinv,
    slogdet,
    solve,
    solve_ex,
    solve_triangular,
    tensorinv,
    tensorsolve,
)
from ndgrad.ops._lapack import LinAlgError

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
           "eigh", "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor",
           "ldl_factor_ex", "ldl_solve", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve",
           "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot",
           "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd",
           "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm"]
