"""The OpInfo sweep: every op of PyTorch's own test database (``op_db``) run on ndgrad.

For one OpInfo (an op, or a variant of it such as ``div.floor_rounding``), ``check_op`` takes
the OpInfo's own sample inputs in a dtype, converts them to ndgrad (tensors nested in args and
kwargs, lists of tensors, dtypes, torch.Size, devices), calls ndgrad's op of the same name
(top-level function, Tensor method or property, ``nn.functional.X``, ``linalg.X``, ``fft.X``,
``special.X``) and torch's, and compares:

- the outputs: structure, shape, dtype and values (for ops in ``GAUGE``, whose singular vectors
  are defined up to sign, the values of the sample's gauge-invariant ``output_process_fn_grad``);
- the method variant and every alias (``absolute`` for ``abs``) on the first sample;
- the gradient: one vector-Jacobian product with a fixed random cotangent for every output,
  against every input that requires grad;
- the second order (float64, where the OpInfo supports gradgrad): the gradient of a weighted
  sum of the first gradients. Where torch's first gradient is part of the graph under
  ``create_graph=True``, ndgrad's must be too (issue 11.4: gradient-penalty code needs it);
- random ops (the database runs them under a fixed seed, and a sample is random when another
  seed changes torch's output: bernoulli, dropout, sdpa with dropout_p > 0): shapes and dtypes,
  and the distribution of many draws at a fixed seed against torch's by a two-sample
  Kolmogorov-Smirnov test.

``check_inplace`` does the same for the in-place variant (``x.abs_()``): same values, the
input itself returned, and the gradient through it. The OpInfo's own callables that are
Python lambdas (``lambda x: x.T``) are run for ndgrad by rebinding their globals: ``torch``
becomes ``ndgrad``, as in ``import ndgrad as torch``.

A failure raises ``OpError`` (``MissingError`` when ndgrad lacks a name); a sample ndgrad cannot
express (complex, bfloat16, sparse) is skipped, and an op with no sample left fails.
"""

from __future__ import annotations

import functools
import math
import os
import types
import warnings
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import numpy as np
import torch

import ndgrad

# Samples per OpInfo and dtype: the first N. NDGRAD_OPINFO_SAMPLES=all (or a number) changes it.
SAMPLES = os.environ.get("NDGRAD_OPINFO_SAMPLES", "8")
LIMIT = None if SAMPLES == "all" else int(SAMPLES)

NAMESPACES = ("nn.functional", "linalg", "fft", "special", "masked", "signal.windows", "sparse")

# Ops that return uninitialized memory: only structure, shape and dtype are compared.
UNINITIALIZED = frozenset("""
empty empty_like empty_permuted empty_strided new_empty new_empty_strided
""".split())

# Ops whose outputs are defined up to a gauge (the sign or phase of each singular vector or
# eigenvector): their values are compared through the sample's output_process_fn_grad (U V^H
# and S; eigenvalues and |V|), as torch's own tests do.
GAUGE = frozenset("svd_lowrank pca_lowrank linalg.eigh linalg.eig".split())

# Ops whose float32 error is bounded normwise, not entry by entry: a small entry of a large
# exp(A) carries the rounding of the large ones (torch's float32 result is off by 5e-2 at
# entries of 0.1 when |exp(A)| ~ 1e5). Their float32 values are compared with an atol scaled
# by the largest |value| of each output.
NORMWISE = frozenset({"matrix_exp"})

TOL = {  # (forward, gradients) tolerances, as rtol and atol
    np.dtype(np.float64): (dict(rtol=1e-7, atol=1e-7), dict(rtol=1e-6, atol=1e-6)),
    np.dtype(np.float32): (dict(rtol=1e-4, atol=1e-4), dict(rtol=1e-3, atol=1e-3)),
    np.dtype(np.float16): (dict(rtol=1e-2, atol=1e-2), dict(rtol=1e-2, atol=1e-2)),
}

DTYPES = {getattr(torch, n): getattr(ndgrad, n) for n in (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")}
NP_DTYPES = {t: d.np for t, d in DTYPES.items()}
# Outputs may also be complex (fft of a real input); inputs stay real (complex is out of scope)
OUT_DTYPES = {**NP_DTYPES, torch.complex64: np.dtype(np.complex64),
              torch.complex128: np.dtype(np.complex128)}


class OpError(AssertionError):
    """ndgrad's result differs from torch's, or ndgrad raised where torch did not."""


class MissingError(OpError):
    """ndgrad has no op of this name."""


class UnsupportedSampleError(Exception):
    """A sample ndgrad cannot express (complex, bfloat16, sparse): it is skipped."""


# -- the database --------------------------------------------------------------------------------
@functools.cache
def op_db() -> dict[str, Any]:
    """Every OpInfo by its key (``name`` or ``name.variant``); imported once (it takes seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db as db
    _skip_the_search_for_a_test_case()
    return {key(op): op for op in db}


def _skip_the_search_for_a_test_case() -> None:
    """Every sample_inputs() and reference_inputs() call of the database looks, twice, for the
    unittest.TestCase running it (for its name, the samples' seed, and its per-sample skips) by
    walking ``inspect.stack()``, which reads the source of every frame: 13 ms a call in
    pytest's deep stack, a third of the sweep's time. These tests are functions, not
    TestCases, so the search finds none (test_opinfo.py::test_no_test_case_is_found checks
    it, with torch's own search) and the samples take the database's default seed: the
    search is replaced by that answer, and the samples stay what they were."""
    from torch.testing._internal import common_utils
    from torch.testing._internal.opinfo import core

    global torch_extract_test_fn
    if torch_extract_test_fn is None:
        torch_extract_test_fn = common_utils.extract_test_fn
    common_utils.extract_test_fn = core.extract_test_fn = _no_test_case


def _no_test_case() -> None:
    return None


torch_extract_test_fn: Callable[[], Any] | None = None  # torch's search, kept for the check


def key(op: Any) -> str:
    return op.name + ("." + op.variant_test_name if op.variant_test_name else "")


def inplace_key(op: Any) -> str:
    """The in-place variant's key: torch's name of it, ``abs_`` (``div_.floor_rounding``)."""
    return op.name + "_" + ("." + op.variant_test_name if op.variant_test_name else "")


def namespace(name: str) -> str:
    """``torch`` (top-level ops and Tensor methods), ``nn.functional``, ``linalg``, ...;
    ``private`` for ATen internals (``_softmax_backward_data``, ``torch.ops.aten...``)."""
    for ns in NAMESPACES:
        if name.startswith(ns + "."):
            return ns
    if name.startswith("torch.") or (name.startswith("_") and not name.startswith("__")):
        return "private"
    return "torch"


def test_dtypes(op: Any) -> list[torch.dtype]:
    """float64 and float32 where the op takes them, else the first integer or bool dtype it
    takes; empty when it takes only complex or bfloat16."""
    supported = op.supported_dtypes("cpu")
    floats = [d for d in (torch.float64, torch.float32) if d in supported]
    if floats:
        return floats
    others = [d for d in (torch.int64, torch.int32, torch.bool, torch.uint8, torch.int16,
                          torch.int8, torch.float16) if d in supported]
    return others[:1]


# -- torch -> ndgrad: values ---------------------------------------------------------------------
def to_nd(obj: Any, memo: dict[int, tuple[Any, Any]]) -> Any:
    """The ndgrad counterpart of a sample's input, arg or kwarg. ``memo`` maps id(torch tensor)
    to (torch tensor, ndgrad tensor): a tensor passed twice is one ndgrad tensor."""
    if isinstance(obj, torch.Tensor):
        if id(obj) in memo:
            return memo[id(obj)][1]
        if obj.layout != torch.strided:
            raise UnsupportedSampleError(f"{obj.layout} layout")
        if obj.dtype not in DTYPES:
            raise UnsupportedSampleError(f"dtype {obj.dtype}")
        arr = obj.detach().resolve_conj().resolve_neg().numpy().copy()
        t = ndgrad.tensor(arr, requires_grad=obj.requires_grad)
        memo[id(obj)] = (obj, t)  # holds obj, so that its id is not reused
        return t
    if isinstance(obj, torch.dtype):
        if obj not in DTYPES:
            raise UnsupportedSampleError(f"dtype {obj}")
        return DTYPES[obj]
    if isinstance(obj, torch.Size):
        return ndgrad.Size(obj)
    if isinstance(obj, torch.device):
        return ndgrad.device(obj.type)
    if isinstance(obj, torch.memory_format | torch.layout):
        return attr(str(obj).split(".")[-1])
    if isinstance(obj, torch.Generator):
        return attr("Generator")().manual_seed(obj.initial_seed())
    if type(obj) in (list, tuple):
        return type(obj)(to_nd(v, memo) for v in obj)
    if isinstance(obj, dict):
        return {k: to_nd(v, memo) for k, v in obj.items()}
    if isinstance(obj, slice):
        return slice(*(to_nd(v, memo) for v in (obj.start, obj.stop, obj.step)))
    if callable(obj) and not isinstance(obj, type):
        return nd_callable(obj)
    return obj


# -- torch -> ndgrad: callables ------------------------------------------------------------------
def attr(path: str) -> Any:
    """``ndgrad.<path>`` (dotted; a leading ``torch.``, as some aliases have, dropped), or
    MissingError."""
    obj: Any = ndgrad
    for part in path.removeprefix("torch.").split("."):
        if not hasattr(obj, part):
            raise MissingError(f"ndgrad has no {path}")
        obj = getattr(obj, part)
    return obj


def method(name: str) -> Callable[..., Any]:
    """``lambda x, *args, **kwargs: x.<name>(*args, **kwargs)``, after checking the Tensor
    method exists."""
    if not hasattr(ndgrad.Tensor, name):
        raise MissingError(f"ndgrad has no Tensor.{name}")

    def call(x: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(x, name)(*args, **kwargs)

    return call


_BUILTIN_MODULES = {"torch._C._linalg": ("linalg.", "linalg_"), "torch._C._fft": ("fft.", "fft_"),
                    "torch._C._special": ("special.", "special_"),
                    "torch._C._nn": ("nn.functional.", "")}


def nd_callable(f: Any) -> Callable[..., Any]:
    """ndgrad's counterpart of a torch callable (function, Tensor method, partial, or a lambda
    of the test database, rebound to ndgrad)."""
    if isinstance(f, functools.partial):
        memo: dict[int, Any] = {}
        return functools.partial(nd_callable(f.func), *to_nd(f.args, memo),
                                 **to_nd(f.keywords, memo))
    if isinstance(f, types.FunctionType):
        module = f.__module__ or ""
        if module.startswith("torch.testing"):
            return rebind(f, ndgrad, _seeded)
        if module == "torch.nn.functional":
            return attr("nn.functional." + f.__name__)
        if module == "torch._tensor":
            return method(f.__name__)
        if module.startswith("torch."):
            return attr(f.__name__)
        return f  # operator.add and the like work on ndgrad tensors as they are
    if isinstance(f, types.MethodDescriptorType | types.WrapperDescriptorType):
        return method(f.__name__)
    if isinstance(f, types.BuiltinFunctionType):
        owner = getattr(f.__self__, "__name__", "")
        if owner in _BUILTIN_MODULES:
            prefix, strip = _BUILTIN_MODULES[owner]
            return attr(prefix + f.__name__.removeprefix(strip))
        if f.__module__ == "_operator":
            return f
        return attr(f.__name__)
    if isinstance(f, torch.nn.Module):
        return _nd_module(f)
    raise MissingError(f"no ndgrad counterpart for {f!r} (private ATen op)")


def _nd_module(m: torch.nn.Module) -> Any:
    """ndgrad's module of the same name and settings, for a parameterless torch module passed
    as a function (triplet_margin_with_distance_loss's PairwiseDistance)."""
    if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
        raise MissingError(f"no ndgrad counterpart for {m!r} (a module with state)")
    cls = attr("nn." + type(m).__name__)
    settings = {k: v for k, v in vars(m).items() if not k.startswith("_") and k != "training"}
    nd = cls.__new__(cls)
    ndgrad.nn.Module.__init__(nd)
    vars(nd).update(settings)
    return nd


def _seeded(op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The database's wrapper_set_seed for ndgrad: the same fixed seed before every call."""
    ndgrad.manual_seed(42)
    return op(*args, **kwargs)


def _unseeded(op: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """wrapper_set_seed for draws: no reseeding, so that repeated calls differ."""
    return op(*args, **kwargs)


def _names(code: types.CodeType) -> set[str]:
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= _names(c)
    return out


def rebind(f: types.FunctionType, lib: Any, seed: Callable[..., Any]) -> Any:
    """The function ``f`` (a lambda of the test database) with ``torch`` in its globals and
    closure replaced by ``lib`` and wrapper_set_seed by ``seed``."""

    def swap(v: Any) -> Any:
        if getattr(v, "__name__", None) == "wrapper_set_seed":
            return seed
        if lib is torch:
            return v
        if v is torch:
            return ndgrad
        if isinstance(v, types.ModuleType) and v.__name__.startswith("torch."):
            return _ModulePath(v.__name__.removeprefix("torch."))
        if isinstance(v, types.FunctionType) and (v.__module__ or "").startswith("torch.testing"):
            return rebind(v, lib, seed)
        if type(v).__module__.startswith("torch.testing"):
            return v  # an instance of the database (the OpInfo a closure reads its name from)
        if isinstance(v, torch.Tensor | torch.dtype | torch.Size):
            return to_nd(v, {})
        if callable(v) and getattr(v, "__module__", None) and v.__module__.startswith("torch"):
            return nd_callable(v)
        return v

    env = {"__builtins__": f.__globals__["__builtins__"]}
    for name in _names(f.__code__):
        if name in f.__globals__:
            env[name] = swap(f.__globals__[name])
    closure = f.__closure__ and tuple(types.CellType(swap(c.cell_contents))
                                      for c in f.__closure__)
    g = types.FunctionType(f.__code__, env, f.__name__,
                           f.__defaults__ and tuple(swap(d) for d in f.__defaults__), closure)
    g.__kwdefaults__ = f.__kwdefaults__ and {k: swap(v) for k, v in f.__kwdefaults__.items()}
    return g


class _ModulePath:
    """A torch submodule seen from a rebound lambda: ``F.relu`` is ``ndgrad.nn.functional.relu``,
    or MissingError."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __getattr__(self, name: str) -> Any:
        return attr(f"{self.path}.{name}")


def main_callable(op: Any) -> Callable[..., Any]:
    """ndgrad's op for an OpInfo: the function of the same name where torch has one (``ndgrad.X``,
    ``ndgrad.linalg.X``, ``ndgrad.nn.functional.X``), else the Tensor method; the database's
    own lambdas (``lambda x: x.T``) rebound to ndgrad."""
    f = op.op
    if isinstance(f, types.FunctionType) and (f.__module__ or "").startswith("torch.testing") \
            or isinstance(f, functools.partial):
        return nd_callable(f)
    ns = namespace(op.name)
    if ns == "private":
        return nd_callable(f)
    if ns != "torch" or hasattr(torch, op.name):
        return attr(op.name)
    return method(op.name)


# -- comparing -----------------------------------------------------------------------------------
def _flat(out: Any) -> list[Any]:
    if isinstance(out, tuple | list):
        return [o for item in out for o in _flat(item)]
    return [out]


def compare(n: Any, t: Any, what: str, values: bool = True, tol: dict[str, float] | None = None,
            ) -> None:
    """ndgrad's output ``n`` against torch's ``t``: structure, then shape, dtype and values."""
    if isinstance(t, torch.Tensor):
        if not isinstance(n, ndgrad.Tensor):
            raise OpError(f"{what}: {type(n).__name__}, torch gives a Tensor")
        if t.dtype not in OUT_DTYPES:
            raise UnsupportedSampleError(f"torch's output is {t.dtype}")
        a = n._data
        if tuple(a.shape) != tuple(t.shape):
            raise OpError(f"{what}: shape {tuple(a.shape)}, torch's {tuple(t.shape)}")
        if a.dtype != OUT_DTYPES[t.dtype]:
            raise OpError(f"{what}: dtype {n.dtype}, torch's {t.dtype}")
        if values:
            _close(a, t.detach().resolve_conj().resolve_neg().numpy(force=True), what, tol)
    elif isinstance(t, tuple | list) and not isinstance(t, torch.Size):
        if not isinstance(n, tuple | list):
            raise OpError(f"{what}: {type(n).__name__}, torch gives a {type(t).__name__}")
        if len(n) != len(t):
            raise OpError(f"{what}: {len(n)} items, torch gives {len(t)}")
        for i, (a, b) in enumerate(zip(n, t)):
            compare(a, b, f"{what}[{i}]", values, tol)
    elif t is None or isinstance(t, bool | str):
        if n != t:
            raise OpError(f"{what}: {n!r}, torch's {t!r}")
    elif isinstance(t, int | float | torch.Size):
        if isinstance(n, ndgrad.Tensor) or not isinstance(n, int | float | tuple):
            raise OpError(f"{what}: {type(n).__name__}, torch gives a {type(t).__name__}")
        if values:
            _close(np.asarray(n), np.asarray(t), what, tol)
    elif isinstance(t, complex):
        raise UnsupportedSampleError("complex output")
    else:
        raise OpError(f"{what}: cannot compare torch's {type(t).__name__}")


def _normwise(op: Any, t: Any) -> dict[str, float] | None:
    """The float32 tolerance for a NORMWISE op's output ``t``: atol relative to its largest
    entry; None (the default tolerance) otherwise."""
    if key(op) not in NORMWISE or not isinstance(t, torch.Tensor) or t.dtype != torch.float32:
        return None
    tol = TOL[np.dtype(np.float32)][0]
    scale = float(t.detach().abs().max()) if t.numel() else 1.0
    return dict(rtol=tol["rtol"], atol=tol["atol"] * max(1.0, scale))


def _close(a: np.ndarray, b: np.ndarray, what: str, tol: dict[str, float] | None) -> None:
    if a.shape != b.shape:
        raise OpError(f"{what}: shape {a.shape}, torch's {b.shape}")
    if b.dtype.kind in "biu" and a.dtype.kind in "biu":
        if not np.array_equal(a, b):
            raise OpError(f"{what}: values differ from torch's\n{_diff(a, b)}")
        return
    real = np.dtype(b.dtype.char.lower()) if b.dtype.kind == "c" else b.dtype
    tol = tol or TOL.get(real, TOL[np.dtype(np.float32)])[0]
    if not np.allclose(a, b, equal_nan=True, **tol):
        raise OpError(f"{what}: values differ from torch's ({tol})\n{_diff(a, b)}")


def _diff(a: np.ndarray, b: np.ndarray) -> str:
    bad = ~np.isclose(a, b, equal_nan=True) if b.dtype.kind in "fc" else a != b
    where = np.argwhere(np.atleast_1d(bad))[:3]
    a1, b1 = np.atleast_1d(a), np.atleast_1d(b)
    return "; ".join(f"at {tuple(w)}: {a1[tuple(w)]!r} vs {b1[tuple(w)]!r}" for w in where)


# -- running one op ------------------------------------------------------------------------------
def samples(op: Any, dtype: torch.dtype, requires_grad: bool, limit: int | None,
            reference: bool = False, max_numel: int | None = None) -> Iterator[Any]:
    """The op's first ``limit`` sample inputs, or with ``reference`` its reference inputs (more
    of them, with extremal values: 0, -0.0, inf, nan), without those over ``max_numel``
    elements."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make = op.reference_inputs if reference else op.sample_inputs
        chosen = (s for s in make("cpu", dtype, requires_grad=requires_grad)
                  if max_numel is None or _numel(s) <= max_numel)
        yield from islice(chosen, limit)


def _numel(s: Any) -> int:
    return sum(t.numel() for t in _flat([s.input, list(s.args), list(s.kwargs.values())])
               if isinstance(t, torch.Tensor))


def _fresh(obj: Any, memo: dict[int, Any]) -> Any:
    """The sample with each leaf that requires grad replaced by a fresh copy: a few of the
    database's samples hold leaves that torch's autograd does not connect to (a + 0 has no
    edge to them), which would make torch's gradient None."""
    if isinstance(obj, torch.Tensor) and obj.is_leaf and obj.requires_grad:
        if id(obj) not in memo:
            memo[id(obj)] = obj.detach().clone().requires_grad_(True)
        return memo[id(obj)]
    if type(obj) in (list, tuple):
        return type(obj)(_fresh(v, memo) for v in obj)
    if isinstance(obj, dict):
        return {k: _fresh(v, memo) for k, v in obj.items()}
    return obj


class _Sample:
    """One sample on both sides: torch's call and ndgrad's, from the same values."""

    def __init__(self, s: Any) -> None:
        self.s = s
        fresh: dict[int, Any] = {}
        self.t_input = _fresh(s.input, fresh)
        self.t_args = _fresh(s.args, fresh)
        self.t_kwargs = _fresh(s.kwargs, fresh)
        self.memo: dict[int, tuple[Any, Any]] = {}
        self.input = to_nd(self.t_input, self.memo)
        self.args = to_nd(self.t_args, self.memo)
        self.kwargs = to_nd(self.t_kwargs, self.memo)

    def torch(self, fn: Callable[..., Any]) -> Any:
        return fn(self.t_input, *self.t_args, **self.t_kwargs)

    def nd(self, fn: Callable[..., Any], what: str) -> Any:
        try:
            return fn(self.input, *self.args, **self.kwargs)
        except (OpError, UnsupportedSampleError):
            raise
        except AttributeError as e:
            msg = str(e)  # a name missing inside a rebound lambda: ndgrad.X or Tensor.X
            if "has no attribute" in msg and ("ndgrad" in msg or "'Tensor'" in msg):
                raise MissingError(f"{what}: {e}") from e
            raise OpError(f"{what}: ndgrad raised AttributeError: {e}") from e
        except Exception as e:
            raise OpError(f"{what}: ndgrad raised {type(e).__name__}: {e}") from e

    def grad_inputs(self) -> tuple[list[Any], list[Any]]:
        """The inputs that require grad, torch's and ndgrad's, in the same order."""
        pairs = [(t, n) for t, n in self.memo.values() if t.requires_grad]
        return [t for t, _ in pairs], [n for _, n in pairs]


def _torch_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def check_op(op: Any, dtype: torch.dtype, limit: int | None = LIMIT, reference: bool = False,
             max_numel: int | None = None, variants: bool = True,
             requires_grad: bool = True) -> int:
    """Check one OpInfo in one dtype on its first ``limit`` samples (see ``samples``) and,
    with ``variants``, its method and aliases, and unless told not to, the gradients; the
    number of samples checked."""
    requires_grad &= op.supports_autograd and dtype in op.supported_backward_dtypes("cpu")
    fn = main_callable(op)
    extra = _variants(op) if variants else []
    checked = 0
    for i, s in enumerate(samples(op, dtype, requires_grad, limit, reference, max_numel)):
        try:
            sample = _Sample(s)
        except UnsupportedSampleError:
            continue
        what = f"{key(op)} {str(dtype).removeprefix('torch.')} sample {i}"
        try:
            if seeded(op) and key(op) not in UNINITIALIZED and _is_random(op, sample):
                _check_random(op, sample, fn, what)
            else:
                try:
                    t_out = _torch_call(sample.torch, op.op)
                except Exception:
                    continue  # a sample torch itself refuses
                if t_out is NotImplemented:  # x.__rsub__(y) for a y it does not take
                    continue
                n_out = sample.nd(fn, what)
                compare(n_out, t_out, f"{what} output",
                        values=key(op) not in UNINITIALIZED | GAUGE, tol=_normwise(op, t_out))
                if key(op) in GAUGE:
                    compare(_process(sample, n_out, ndgrad), _process(sample, t_out, torch),
                            f"{what} output (gauge-invariant)")
                if checked == 0:  # the method variant and the aliases, on the first sample
                    for name, variant in extra:
                        compare(sample.nd(variant, f"{what} {name}"), t_out, f"{what} {name}",
                                values=key(op) not in UNINITIALIZED, tol=_normwise(op, t_out))
                if requires_grad and key(op) not in UNINITIALIZED:
                    _check_grad(op, sample, t_out, n_out, what, dtype)
        except UnsupportedSampleError:
            continue
        checked += 1
    return checked


def _variants(op: Any) -> list[tuple[str, Callable[..., Any]]]:
    """(name, ndgrad callable) for the method variant and each alias's function and method."""
    out = []
    if op.method_variant is not None and op.method_variant is not op.op and \
            namespace(op.name) == "torch" and hasattr(torch, op.name):
        out.append((f"Tensor.{op.name}", nd_callable(op.method_variant)))
    for alias in op.aliases:
        if alias.op is not None:
            out.append((alias.name, attr(alias.name)))
        if alias.method_variant is not None:
            out.append((f"Tensor.{alias.name}", nd_callable(alias.method_variant)))
    return out


def _process(sample: _Sample, out: Any, lib: Any) -> list[Any]:
    f = sample.s.output_process_fn_grad
    if lib is ndgrad and isinstance(f, types.FunctionType):
        f = nd_callable(f)
    return _flat(f(out))


def _differentiable(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.requires_grad and (
        t.dtype.is_floating_point or t.dtype.is_complex)


def _cotangent(rng: np.random.Generator, t: Any) -> np.ndarray:
    """A random vector for the vector-Jacobian product, complex for a complex output."""
    nd = OUT_DTYPES[t.dtype]
    c = rng.standard_normal(t.shape)
    if nd.kind == "c":
        c = c + 1j * rng.standard_normal(t.shape)
    return c.astype(nd)


def _check_grad(op: Any, sample: _Sample, t_out: Any, n_out: Any, what: str,
                dtype: torch.dtype) -> None:
    """One vector-Jacobian product, and in float64 the second order, against torch's."""
    t_ins, n_ins = sample.grad_inputs()
    if not t_ins:
        return
    t_outs, n_outs = _process(sample, t_out, torch), _process(sample, n_out, ndgrad)
    if len(t_outs) != len(n_outs):
        raise OpError(f"{what}: {len(n_outs)} outputs to differentiate, torch's {len(t_outs)}")
    pick = [j for j, t in enumerate(t_outs) if _differentiable(t)]
    if not pick:
        return
    rng = np.random.default_rng(0)
    cots = [_cotangent(rng, t_outs[j]) for j in pick]
    gradgrad = dtype == torch.float64 and op.supports_gradgrad
    try:
        tg = torch.autograd.grad([t_outs[j] for j in pick], t_ins,
                                 [torch.from_numpy(c) for c in cots], allow_unused=True,
                                 create_graph=gradgrad)
    except (RuntimeError, NotImplementedError):
        return  # torch cannot differentiate this sample (nextafter: "not implemented")
    for j in pick:
        if not isinstance(n_outs[j], ndgrad.Tensor) or not n_outs[j].requires_grad:
            raise OpError(f"{what}: output {j} does not require grad; torch's does")
    try:
        ng = ndgrad.autograd.grad([n_outs[j] for j in pick], n_ins,
                                  [ndgrad.tensor(c) for c in cots], allow_unused=True,
                                  create_graph=gradgrad)
    except Exception as e:
        raise OpError(f"{what} gradient: ndgrad raised {type(e).__name__}: {e}") from e
    tol = TOL.get(NP_DTYPES[dtype], TOL[np.dtype(np.float32)])[1]
    for i, (n, t) in enumerate(zip(ng, tg)):
        _compare_grad(n, t, t_ins[i], f"{what} gradient of input {i}", tol)
    if not gradgrad:
        return
    sel = [i for i, t in enumerate(tg) if t is not None and t.requires_grad]
    if not sel:
        return
    for i in sel:
        if ng[i] is None or not ng[i].requires_grad:
            raise OpError(f"{what}: under create_graph=True the gradient of input {i} is not "
                          f"part of the graph (torch's is): no second derivative")
    ws = [rng.standard_normal(tg[i].shape) for i in sel]
    t2 = sum((tg[i] * torch.from_numpy(w)).sum() for i, w in zip(sel, ws))
    n2 = sum((ng[i] * ndgrad.tensor(w)).sum() for i, w in zip(sel, ws))
    try:
        tgg = torch.autograd.grad(t2, t_ins, allow_unused=True)
    except RuntimeError:
        return
    try:
        ngg = ndgrad.autograd.grad(n2, n_ins, allow_unused=True)
    except Exception as e:
        raise OpError(f"{what} second order: ndgrad raised {type(e).__name__}: {e}") from e
    for i, (n, t) in enumerate(zip(ngg, tgg)):
        _compare_grad(n, t, t_ins[i], f"{what} second order, input {i}", tol)


def _compare_grad(n: Any, t: Any, t_in: Any, what: str, tol: dict[str, float]) -> None:
    """None and a zero gradient are the same thing."""
    if t is None:
        t = torch.zeros_like(t_in)
    if n is None:
        n = ndgrad.tensor(np.zeros(tuple(t_in.shape), NP_DTYPES[t_in.dtype]))
    compare(n, t, what, tol=tol)


# -- random ops ----------------------------------------------------------------------------------
def seeded(op: Any) -> bool:
    """Whether the database runs the op under a fixed seed (wrapper_set_seed): random ops."""
    f = op.op
    return isinstance(f, types.FunctionType) and "wrapper_set_seed" in _names(f.__code__)


def _is_random(op: Any, sample: _Sample) -> bool:
    """Whether torch's output on this sample changes with the seed."""

    def other_seed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        torch.manual_seed(43)
        return fn(*args, **kwargs)

    try:
        first = _flat(_torch_call(sample.torch, op.op))
        a = [_values(x) for x in first]  # x.uniform_() returns x
        b = _flat(_torch_call(sample.torch, rebind(op.op, torch, other_seed)))
    except Exception:
        raise UnsupportedSampleError("torch refuses this sample") from None
    if key(op) in GAUGE:  # the gauge-invariant values, equal up to rounding
        a, b = _process(sample, first, torch), _process(sample, b, torch)
        return not all(np.allclose(_values(x), _values(y), rtol=1e-5, atol=1e-5)
                       for x, y in zip(a, b))
    return not all(_equal(x, y) for x, y in zip(a, b))


def _equal(x: Any, y: Any) -> bool:
    if not isinstance(y, torch.Tensor):
        return bool(x == y)
    y = y.detach().numpy()
    return x.shape == y.shape and bool(((x == y) | (x != x) & (y != y)).all())


# random ops that draw once per channel: output ndim -> how many leading dims index the draws
# (an element's other dims share its channel's draw, so its values are not independent)
PER_CHANNEL_DRAW: dict[str, Callable[[int], int]] = {
    "nn.functional.dropout1d": lambda ndim: ndim - 1,  # (N, C, L) or unbatched (C, L)
    "nn.functional.dropout2d": lambda ndim: 2,  # (N, C, ...) at every rank, as torch
    "nn.functional.dropout3d": lambda ndim: 2 if ndim == 5 else 1,  # else unbatched
    "nn.functional.feature_alpha_dropout.with_train": lambda ndim: 2,
}


def _draws_per_call(op: Any, outs: list[Any]) -> tuple[int, float]:
    """(independent draws in one call, design effect: elements per independent draw)."""
    size = max(1, sum(t.numel() for t in outs if isinstance(t, torch.Tensor)))
    lead = PER_CHANNEL_DRAW.get(key(op))
    if lead is None or not isinstance(outs[0], torch.Tensor) or not outs[0].numel():
        return size, 1.0
    t = outs[0]
    units = math.prod(t.shape[:lead(t.ndim)])
    return units, t.numel() / units


def _check_random(op: Any, sample: _Sample, fn: Callable[..., Any], what: str) -> None:
    """Draws at a fixed seed: each of torch's shape and dtype, and their values' distribution
    pooled over elements and draws, by a two-sample Kolmogorov-Smirnov test. Ops that draw once
    per channel (PER_CHANNEL_DRAW) are called more often (at least 8 times), and the test counts
    their independent draws, not their elements (the design effect of the clustering)."""
    f = op.op
    if isinstance(f, types.FunctionType) and (f.__module__ or "").startswith("torch.testing"):
        t_fn, n_fn = rebind(f, torch, _unseeded), rebind(f, ndgrad, _unseeded)
    else:
        t_fn, n_fn = f, fn
    torch.manual_seed(0)
    ndgrad.manual_seed(0)
    try:
        first = _torch_call(sample.torch, t_fn)
    except Exception:
        raise UnsupportedSampleError("torch refuses this sample") from None

    def flat(out: Any, lib: Any) -> list[Any]:  # for gauge ops: their gauge-invariant values
        return _process(sample, out, lib) if key(op) in GAUGE else _flat(out)

    outs = flat(first, torch)
    units, deff = _draws_per_call(op, outs)
    draws = max(2 if deff == 1 else 8, min(500, math.ceil(10000 / units)))
    # values copied at each draw: an in-place op (x.uniform_()) returns the same tensor each time
    t_vals = [[_values(t) for t in outs]]
    t_vals += [[_values(t) for t in flat(_torch_call(sample.torch, t_fn), torch)]
               for _ in range(draws - 1)]
    n_vals = []
    for d in range(draws):
        n = sample.nd(n_fn, what)
        if d < 3:
            compare(n, first, f"{what} output", values=False)
        n_vals.append([_values(v) for v in flat(n, ndgrad)])
    for j, t in enumerate(outs):
        if isinstance(t, torch.Tensor) and t.numel():
            a = np.concatenate([v[j].ravel() for v in n_vals]).astype(np.float64)
            b = np.concatenate([v[j].ravel() for v in t_vals]).astype(np.float64)
            _ks(a, b, f"{what} output {j}", deff)


def _values(t: Any) -> Any:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy().copy()
    return t._data.copy() if isinstance(t, ndgrad.Tensor) else t


def _ks(a: np.ndarray, b: np.ndarray, what: str, deff: float = 1.0) -> None:
    """Two-sample Kolmogorov-Smirnov test at level 1e-6 (nan values compared by count). The
    level is strict because values of one draw may be correlated (dropout in attention shares
    a mask across a row), which the test does not assume; where the clustering is known, each
    sample counts as its size / ``deff`` independent values."""
    na, nb = np.isnan(a), np.isnan(b)
    if abs(na.mean() - nb.mean()) > 0.05:
        raise OpError(f"{what}: {na.mean():.3f} of the values are nan, torch's {nb.mean():.3f}")
    a, b = np.sort(a[~na]), np.sort(b[~nb])
    if not a.size or not b.size:
        return
    grid = np.concatenate([a, b])
    d = np.abs(np.searchsorted(a, grid, "right") / a.size
               - np.searchsorted(b, grid, "right") / b.size).max()
    limit = math.sqrt(-math.log(1e-6 / 2) / 2) * math.sqrt(
        deff * (a.size + b.size) / (a.size * b.size))
    if d > limit:
        raise OpError(f"{what}: distribution differs from torch's (Kolmogorov-Smirnov "
                      f"D = {d:.3f} > {limit:.3f}; means {a.mean():.4g} vs {b.mean():.4g}, "
                      f"stds {a.std():.4g} vs {b.std():.4g})")


# -- in-place variants ---------------------------------------------------------------------------
def check_inplace(op: Any, dtype: torch.dtype, limit: int | None = LIMIT,
                  reference: bool = False, max_numel: int | None = None,
                  requires_grad: bool = True) -> int:
    """The in-place variant (``x.abs_()``) on the samples torch accepts in place: the input
    itself is returned with torch's values, and the gradient flows through it to the leaves."""
    requires_grad &= op.supports_autograd and dtype in op.supported_backward_dtypes("cpu")
    fns = [(inplace_key(op), op.inplace_variant, nd_callable(op.inplace_variant))]
    fns += [(a.name + "_", a.inplace_variant, nd_callable(a.inplace_variant))
            for a in op.aliases if a.inplace_variant is not None]
    checked = 0
    for i, s in enumerate(samples(op, dtype, requires_grad, limit, reference, max_numel)):
        if s.broadcasts_input or not isinstance(s.input, torch.Tensor):
            continue
        for name, t_fn, n_fn in fns[:1] if checked else fns:
            try:
                sample = _Sample(s)
            except UnsupportedSampleError:
                continue
            what = f"{name} {str(dtype).removeprefix('torch.')} sample {i}"
            # clones are not leaves: in place is allowed
            t_x, n_x = sample.t_input.clone(), sample.input.clone()
            try:
                t_out = _torch_call(t_fn, t_x, *sample.t_args, **sample.t_kwargs)
            except Exception:
                continue
            n_out = sample.nd(lambda x, *a, **k: n_fn(n_x, *a, **k), what)  # noqa: B023
            if n_out is not n_x:
                raise OpError(f"{what}: does not return its input")
            try:
                compare(n_out, t_out, f"{what} output", values=not seeded(op))
            except UnsupportedSampleError:
                continue
            if not seeded(op):
                _check_grad_once(sample, t_out, n_out, what, dtype)
            checked += 1
    return checked


def _check_grad_once(sample: _Sample, t_out: Any, n_out: Any, what: str,
                     dtype: torch.dtype) -> None:
    """One vector-Jacobian product of a single output, against torch's."""
    t_ins, n_ins = sample.grad_inputs()
    if not t_ins or not _differentiable(t_out):
        return
    cot = np.random.default_rng(0).standard_normal(t_out.shape).astype(NP_DTYPES[t_out.dtype])
    try:
        tg = torch.autograd.grad(t_out, t_ins, torch.from_numpy(cot), allow_unused=True)
    except (RuntimeError, NotImplementedError):
        return  # torch has no derivative for it (acosh_)
    try:
        ng = ndgrad.autograd.grad(n_out, n_ins, ndgrad.tensor(cot), allow_unused=True)
    except Exception as e:
        raise OpError(f"{what} gradient: ndgrad raised {type(e).__name__}: {e}") from e
    tol = TOL.get(NP_DTYPES[dtype], TOL[np.dtype(np.float32)])[1]
    for j, (n, t) in enumerate(zip(ng, tg)):
        _compare_grad(n, t, t_ins[j], f"{what} gradient of input {j}", tol)


# -- the whole sweep -----------------------------------------------------------------------------
def run(op: Any, inplace: bool = False, limit: int | None = LIMIT) -> tuple[str, str]:
    """(outcome, message) of one OpInfo, or of its in-place variant: outcome ``pass``,
    ``fail``, ``missing`` (ndgrad lacks a name) or ``untested`` (no dtype or sample ndgrad can
    express: complex, bfloat16, sparse)."""
    dtypes = test_dtypes(op)
    checked = 0
    try:
        for dtype in dtypes:
            checked += (check_inplace if inplace else check_op)(op, dtype, limit)
    except MissingError as e:
        return "missing", str(e)
    except OpError as e:
        return "fail", str(e)
    except Exception as e:  # the sweep itself, or torch, broke on this op
        return "fail", f"{type(e).__name__}: {e}"
    if not checked:
        what = "no real dtype" if not dtypes else "no sample ndgrad can express"
        return "untested", f"{what} (dtypes: {sorted(map(str, op.supported_dtypes('cpu')))})"
    return "pass", ""


def run_all(match: str = "", limit: int | None = LIMIT) -> dict[str, tuple[str, str, str]]:
    """Every OpInfo and in-place variant whose key contains ``match``: key -> (``op`` or
    ``in-place``, outcome, message). In-place keys are torch's names of them (``abs_``)."""
    results = {}
    for k, op in op_db().items():
        if match in k:
            results[k] = ("op", *run(op, limit=limit))
        if op.inplace_variant is not None and match in inplace_key(op):
            results[inplace_key(op)] = ("in-place", *run(op, inplace=True, limit=limit))
    return results
