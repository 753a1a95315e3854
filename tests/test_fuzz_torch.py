"""A differential fuzzer (issue 16): random short programs run on torch and on ndgrad must agree.

A seeded generator writes each program one statement at a time, running it on torch as it goes
to learn shapes and dtypes (and keeping a statement that raises only sometimes, as the
program's last). The op pool mixes dtypes, 0-d, size-0 and size-1 dims, broadcasting, views,
in-place ops on views and on bases, setitem, ``no_grad``, ``detach`` and second-order
gradients. The finished program then runs from scratch on both libraries (``T`` is the
library): which statement raises, and every tensor's values, dtype, shape, requires_grad and
leaf gradient must agree. A failing program is printed as a script that runs as it is.
Where only torch refuses a derivative (an allow-listed error at a backward), ndgrad's
gradient is checked against finite differences.

The normal run checks ``FUZZ_PROGRAMS`` programs (200); ``NDGRAD_FUZZ=5000 pytest -m fuzz
tests/test_fuzz_torch.py`` checks many more, with fresh seeds from ``NDGRAD_FUZZ_SEED``.
"""

from __future__ import annotations

import os
import random
import re
import warnings
from typing import Any

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad.autograd.inplace import _dense

FUZZ_PROGRAMS = 200
STATEMENTS = 9

# Statements ndgrad runs differently from torch, with why. A program using one is not
# generated (the generator skips the statement), so the rest of the pool still runs.
ALLOWED: dict[str, str] = {}

# Errors only torch raises (the program stops being compared at that statement), with why.
# Where the statement is a backward that ndgrad runs, ndgrad's gradient is checked against
# finite differences instead (finite_difference_check).
# A pattern is searched in "<the statement>\n<its error>".
TORCH_ONLY_ERRORS: dict[str, str] = {
    r"(backward\(|autograd\.grad\().*\n.*Output \d+ of \w+ is a view and its base":
        "a backward reads a tensor saved from one of several views a function returned "
        "(unbind, split) that was changed in place since: torch refuses as for any saved "
        "tensor changed in place (\"modified by an inplace operation\" below), ndgrad's saved "
        "values are the ones computed (seed 3005442)",
    r"ZeroTensors are immutable":
        "a double backward through fill_ leaves torch's efficient zeros (a ZeroTensor) as a "
        "leaf's .grad, which a later backward cannot add into; ndgrad's .grad is an ordinary "
        "tensor (seed 2407468)",
    r"Autograd not support dtype":
        "torch marks a bool or integer tensor that a setitem wrote a grad-requiring value into "
        "as requiring grad (see _describe), then refuses to record ops on it; ndgrad's stays "
        "an ordinary tensor (seed 1202847)",
    r"(backward\(|autograd\.grad\().*\n.*Subtraction, the `-` operator, with a bool tensor":
        "torch's pow backward computes exponent - 1, which it refuses for a bool exponent "
        "(x ** mask differentiates in its forward); ndgrad gives the gradient, as for an int "
        "exponent",
    r"modified by an inplace operation":
        "ndgrad's in-place ops compute out of place and save what they computed, and some "
        "backward formulas save other tensors than torch's (logsumexp its input, not its "
        "output): a later in-place change cannot reach what backward reads, so ndgrad returns "
        "the gradient of the values the program computed where torch refuses",
    r"(backward\(|autograd\.grad\().*\n.*Trying to backward through the graph a second time":
        "torch frees some saved buffers that ndgrad keeps (a setitem's), so a second backward "
        "ndgrad runs is refused by torch (seed 2469)",
    r"(backward\(|autograd\.grad\().*\n.*element 0 of tensors does not require grad":
        "torch rebuilds a view of x.detach() (which shares x's version counter) as AsStrided "
        "after an in-place change, and the rebuilt view stops requiring grad; ndgrad's keeps "
        "its history (seeds 225, 2677)",
}
# Errors only ndgrad raises, with why.
NDGRAD_ONLY_ERRORS: dict[str, str] = {
    r"\[\w+ > 0\] = .*\n.*more than one element of the written-to tensor refers to a single":
        "setitem with a mask into an expanded tensor: ndgrad refuses at once; torch's "
        "deprecated masked_fill_ of an expanded tensor writes it, and refuses only at a "
        "backward through it (seeds 2230, 4930)",
}

FLOATS = ["float32", "float64"]
SHAPES: list[tuple[int, ...]] = [(), (1,), (3,), (0,), (2, 3), (1, 3), (2, 1), (3, 1), (2, 0),
                                 (1, 1), (2, 2, 3)]


def _values(rng: random.Random, shape: tuple[int, ...], dtype: str) -> Any:
    if not shape:
        if dtype == "bool":
            return rng.random() < 0.5
        v = rng.choice([-2, -1, 0, 1, 2, 3]) if dtype == "int64" else \
            rng.choice([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 0.25])
        return v
    return [_values(rng, shape[1:], dtype) for _ in range(shape[0])]


class Generator:
    """Writes one program; ``ns`` holds the torch values it has computed so far."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {"T": torch}
        self.count = 0
        self.raised = False

    # -- what the program has --------------------------------------------------------------
    def tensors(self, pred: Any = None) -> list[str]:
        return [k for k, v in self.ns.items()
                if isinstance(v, torch.Tensor) and (pred is None or _holds(pred, v))]

    def pick(self, pred: Any = None) -> str | None:
        names = self.tensors(pred)
        return self.rng.choice(names) if names else None

    def new(self) -> str:
        self.count += 1
        return f"v{self.count}"

    # -- statements ----------------------------------------------------------------------
    def leaf(self) -> str:
        rng = self.rng
        shape = rng.choice(SHAPES)
        dtype = rng.choice(FLOATS * 3 + ["int64", "bool"])
        grad = dtype in FLOATS and rng.random() < 0.8
        vals = _values(rng, shape, dtype)
        if 0 in shape:
            return (f"{self.new()} = T.zeros({shape}, dtype=T.{dtype}"
                    f"{', requires_grad=True' if grad else ''})")
        return (f"{self.new()} = T.tensor({vals!r}, dtype=T.{dtype}"
                f"{', requires_grad=True' if grad else ''})")

    def unary(self) -> str | None:
        a = self.pick()
        if a is None:
            return None
        op = self.rng.choice([
            "{a}.exp()", "{a}.sin()", "{a}.tanh()", "{a}.sigmoid()", "{a}.relu()", "{a}.abs()",
            "-{a}", "{a}.sqrt()", "{a}.clamp(min=0)", "{a}.clamp(-1, 1)", "{a}.floor()",
            "{a} * {a}", "{a} * 2", "{a} / 2", "{a} + 1", "{a} ** 2", "{a}.float()",
            "{a}.double()", "{a}.to(T.int64)", "{a}.sum()", "{a}.mean()", "{a}.sum(-1)",
            "{a}.sum(0, keepdim=True)", "{a}.amax(-1)", "{a}.max()", "{a}.min()",
            "{a}.cumsum(0)", "{a}.prod()", "{a}.std()", "{a}.var(0)", "{a}.norm()",
            "{a}.softmax(-1)", "{a}.logsumexp(-1)", "{a}.clone()", "{a}.detach()",
            "{a} > 0", "~({a} > 0)", "{a}.sign()", "{a}.round()", "T.maximum({a}, {a} * 0)",
        ])
        return f"{self.new()} = {op.format(a=a)}"

    def binary(self) -> str | None:
        a, b = self.pick(), self.pick()
        if a is None or b is None:
            return None
        op = self.rng.choice([
            "{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / {b}", "T.maximum({a}, {b})",
            "T.minimum({a}, {b})", "T.where({a} > 0, {a}, {b})", "{a} ** {b}", "{a} @ {b}",
            "T.cat([{a}, {b}])", "T.stack([{a}, {b}])", "{a} == {b}",
            "{a}.clamp(min={b})", "T.einsum('...,...->...', {a}, {b})",
        ])
        return f"{self.new()} = {op.format(a=a, b=b)}"

    def view(self) -> str | None:
        a = self.pick()
        if a is None:
            return None
        op = self.rng.choice([
            "{a}[0]", "{a}[..., :1]", "{a}[1:]", "{a}.t()", "{a}.T", "{a}.view(-1)",
            "{a}.reshape(-1, 1)", "{a}.transpose(0, -1)", "{a}.unsqueeze(0)", "{a}.squeeze()",
            "{a}.expand(2, *{a}.shape)", "{a}.diagonal()", "{a}.narrow(0, 0, 1)",
            "{a}.flatten()", "{a}.permute(list(reversed(range({a}.dim()))))", "{a}.mT",
            "{a}.swapaxes(0, -1)", "{a}.unbind(0)[0]", "{a}.split(1)[0]", "{a}.movedim(0, -1)",
        ])
        return f"{self.new()} = {op.format(a=a)}"

    def inplace(self) -> str | None:
        a = self.pick()
        b = self.pick()
        if a is None or b is None:
            return None
        op = self.rng.choice([
            "{a}.add_({b})", "{a}.mul_(2)", "{a}.mul_({b})", "{a}.sub_(1)", "{a}.div_(2)",
            "{a}.clamp_(min=0)", "{a}.relu_()", "{a}.zero_()", "{a}.copy_({b})",
            "{a}[0] = 5", "{a}[...] = {b}", "{a}[0] = {b}", "{a}.exp_()", "{a}.fill_(1)",
            "{a} += {b}", "{a} *= 3", "{a}.sqrt_()", "{a}.neg_()", "{a}[{a} > 0] = 0",
        ])
        dst = f"{a}[0]" if op.startswith("{a}[0] =") else a
        if "{b}" in op and _order_dependent(dst, self.ns[b], self.ns):
            return None
        if "{b}" in op and not self.ns[a].dtype.is_floating_point and self.ns[b].requires_grad:
            return None  # torch marks the int/bool tensor as requiring grad (see _describe)
        return op.format(a=a, b=b)

    def modes(self) -> str | None:
        a = self.pick()
        if a is None:
            return None
        body = self.rng.choice([self.unary, self.binary, self.view, self.inplace])()
        if body is None:
            return None
        return self.rng.choice([
            f"with T.no_grad():\n    {body}",
            f"{self.new()} = {a}.detach()",
            f"{self.new()} = {a}.detach().requires_grad_()",
        ])

    def backward(self) -> str | None:
        a = self.pick(lambda v: v.requires_grad)
        if a is None:
            return None
        leaves = self.tensors(lambda v: v.requires_grad and v.is_leaf)
        if not leaves or self.rng.random() < 0.5:
            return f"{a}.sum().backward()"
        if self.rng.random() < 0.5:
            return (f"{self.new()} = T.autograd.grad({a}.sum(), [{', '.join(leaves)}], "
                    f"allow_unused=True)")
        g = self.new()
        return (f"{g} = T.autograd.grad(({a} * {a}).sum(), [{', '.join(leaves)}], "
                f"create_graph=True, allow_unused=True)\n"
                f"sum(g.sum() for g in {g} if g is not None).backward()")

    # -- putting a program together ----------------------------------------------------
    def step(self) -> None:
        kinds = [self.leaf, self.unary, self.binary, self.view, self.inplace, self.modes,
                 self.backward]
        weights = [3 if len(self.tensors()) < 2 else 1, 3, 3, 3, 4, 1, 1]
        for _ in range(20):
            line = self.rng.choices(kinds, weights)[0]()
            if line is None or any(re.search(p, line) for p in ALLOWED):
                continue
            count = self.count
            try:
                _run_line(line, self.ns)
            except Exception:  # noqa: BLE001 - a raising statement ends the program, sometimes
                self.count = count
                if self.rng.random() < 0.1:
                    self.lines.append(line)
                    self.raised = True
                    return
                continue
            self.lines.append(line)
            return

    def program(self, n: int) -> list[str]:
        self.lines.append(self.leaf())
        _run_line(self.lines[0], self.ns)
        while len(self.lines) < n and not self.raised:
            self.step()
        if not self.raised:
            self.step_backward()
        return self.lines

    def step_backward(self) -> None:
        line = self.backward()
        if line is not None:
            self.lines.append(line)


def _order_dependent(dst: str, src: Any, ns: dict[str, Any]) -> bool:
    """Whether writing torch tensor ``dst`` (an expression) in place from ``src`` elementwise
    gives a result that depends on the order torch writes elements in: they share memory, but
    not as the very same elements, in a layout torch's overlap check leaves alone (not dense:
    ``v.mul_(v[0])`` of a transposed v, seed 8902). ndgrad computes such an op out of place;
    torch's result is unspecified, so such a statement is not generated (ALLOWED's rule)."""
    try:
        d = eval(dst, ns).detach().numpy()  # noqa: S307 - the generator's own expression
        s = np.broadcast_to(src.detach().numpy(), d.shape)
    except (RuntimeError, ValueError, IndexError, TypeError):  # the statement raises: kept
        return False
    if not np.shares_memory(d, s) or _dense(d) and _dense(s):
        return False
    return not (d.__array_interface__["data"][0] == s.__array_interface__["data"][0]
                and all(u == v for u, v, n in zip(d.strides, s.strides, d.shape) if n > 1))


def _holds(pred: Any, v: Any) -> bool:
    try:
        return bool(pred(v))
    except RuntimeError:  # is_leaf of a view whose history cannot be rebuilt raises in torch
        return False


def _run_line(line: str, ns: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(line, ns)  # noqa: S102 - the fuzzer's own generated statements


def run_program(lines: list[str], lib: Any) -> tuple[int | None, dict[str, Any]]:
    """Run on ``lib``: the index of the statement that raised (None) and the final values."""
    ns: dict[str, Any] = {"T": lib}
    for i, line in enumerate(lines):
        try:
            _run_line(line, ns)
        except Exception as e:  # noqa: BLE001 - which statement raises is compared
            ns["__error__"] = f"{type(e).__name__}: {e}"
            return i, ns
    return None, ns


def _describe(v: Any, grads: bool = True) -> Any:
    """What is compared about one value: (dtype, shape, requires_grad, values, leaf grad); the
    grad is left out (None) when ``grads`` is false."""
    if isinstance(v, tuple | list):
        return [_describe(u, grads) for u in v]
    if not isinstance(v, torch.Tensor | ndgrad.Tensor):
        return v if isinstance(v, int | float | bool | type(None)) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            grad = _describe(v.grad) if grads and v.is_leaf and v.grad is not None else None
        except RuntimeError:  # torch refuses to read is_leaf of a view it cannot rebuild
            grad = None  # (TORCH_ONLY_ERRORS: ndgrad refuses later, when it is used)
    # an integer or bool tensor holds no gradient, but torch marks one that a setitem wrote a
    # grad-requiring value into (``mask[...] = x``) as requiring grad (seeds 777875, 777885,
    # 778015); ndgrad keeps it False, so only floating tensors' flags are compared
    floating = v.dtype.is_floating_point or v.dtype.is_complex
    # (force: torch's efficient zero gradients, ZeroTensors, refuse a plain numpy(); seed 2003237)
    return (str(v.dtype).split(".")[-1], tuple(v.shape), v.requires_grad if floating else None,
            v.detach().numpy(force=True).copy(), grad)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape:
            return False
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            # a float64 value may come from float32 arithmetic (x.sin().double())
            tol = 1e-4 if np.float32 in (a.dtype, b.dtype) else 1e-6
            return bool(np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b) or abs(a - b) < 1e-6
    return a == b


def script(lines: list[str]) -> str:
    body = "\n".join(lines)
    return f"import torch as T  # or: import ndgrad as T\n{body}\n"


def compare(lines: list[str]) -> str | None:
    """None if torch and ndgrad agree on the program, else what differs."""
    t_err, t_ns = run_program(lines, torch)
    n_err, n_ns = run_program(lines, ndgrad)
    if t_err != n_err:
        first, ns, allowed = (t_err, t_ns, TORCH_ONLY_ERRORS) \
            if n_err is None or (t_err is not None and t_err < n_err) \
            else (n_err, n_ns, NDGRAD_ONLY_ERRORS)
        if any(re.search(p, f"{lines[first]}\n{ns['__error__']}") for p in allowed):
            # a derivative only torch refuses: ndgrad's is checked by finite differences
            if allowed is TORCH_ONLY_ERRORS and (n_err is None or n_err > first):
                return finite_difference_check(lines, first)
            return None
        return (f"statement {t_err} raises on torch ({t_ns.get('__error__')}), statement "
                f"{n_err} on ndgrad ({n_ns.get('__error__')})")
    # a backward that raises on both may have accumulated some leaves' grads before raising
    # (torch's engine runs nodes in another order): then only values are compared
    grads = t_err is None or not re.search(r"backward\(|autograd\.grad\(", lines[t_err])
    for name, tv in t_ns.items():
        if name in ("T", "__builtins__", "__error__", "g"):
            continue
        a, b = _describe(tv, grads), _describe(n_ns.get(name), grads)
        if not _close(a, b):
            return f"{name}: torch {a!r}\n   ndgrad {b!r}"
    return None


_LOSS = re.compile(r"^(?P<loss>.*)\.backward\(\)$|= T\.autograd\.grad\((?P<arg>.*?), \[")


def _leaves(ns: dict[str, Any], seen: set[Any]) -> list[str]:
    """The float64 leaves that require grad and first appear in ns now (``seen`` holds the
    names and ids met so far: ``v4 = v1.double()`` is v1 itself, not a new leaf)."""
    new = [k for k, v in ns.items() if k not in seen and id(v) not in seen
           and isinstance(v, ndgrad.Tensor) and v.is_leaf and v.requires_grad
           and v.dtype == ndgrad.float64]
    seen.update(k for k in ns if isinstance(ns[k], ndgrad.Tensor))
    seen.update(id(v) for v in ns.values() if isinstance(v, ndgrad.Tensor))
    return new


Nudge = tuple[str, int, float]  # a leaf's name, a flat index into it, a step
Track = list[dict[str, np.ndarray]]  # each leaf's values after each statement


def _prefix(lines: list[str], i: int, nudge: Nudge | None = None, track: Track | None = None,
            ) -> tuple[dict[str, Any], list[str], Track]:
    """lines[:i] run on ndgrad: the namespace, the leaves in order, and their values after each
    statement. With ``nudge``, the leaf holds after every statement the values ``track`` (a run
    without the nudge) gives it plus the step: a leaf changed in place under no_grad
    (``v1 += v1``) is a new value of the same variable, so the change must neither scale the
    step nor drop it (seed 6394). The values are written into the array, as no_grad's write
    would be, without a version bump that would refuse a backward through saved tensors."""
    ns: dict[str, Any] = {"T": ndgrad}
    seen: set[Any] = set()
    names: list[str] = []
    values: Track = []
    for j, line in enumerate(lines[:i]):
        _run_line(line, ns)
        names += _leaves(ns, seen)
        values.append({n: ns[n].detach().numpy().copy() for n in names})
        if nudge is not None and track is not None and nudge[0] in names:
            want = track[j][nudge[0]].copy()
            want.reshape(-1)[nudge[1]] += nudge[2]
            ns[nudge[0]].detach().numpy()[...] = want
    return ns, names, values


def _alias_written(lines: list[str]) -> bool:
    """Whether a ``.detach()`` of a tensor, or under no_grad a tensor that is not a leaf, is
    changed in place: autograd does not see that
    change (torch refuses the backward if it saved the tensor, else differentiates the graph as
    recorded, as ndgrad does), so the values no longer follow the recorded graph and finite
    differences measure another function (seed 1205843). A write to the detached tensor's
    source changes it too, and ``*=`` is a write (seeds 7634506, 7636432)."""
    code = [part for line in lines for part in line.split("\n")]  # (with-blocks: 2 lines)
    aliases = {v for line in code
               if (m := re.match(r"\s*(v\d+) = (v\d+)\.detach\(\)\s*$", line))
               for v in m.groups()}
    if any(re.match(rf"\s*{a}(\.\w+_\(|\[.*\] = | \S= )", line) for line in code
           for a in aliases):
        return True
    # the same for a tensor that is not a leaf, changed in place under no_grad (seed 3100815)
    leaves = {m.group(1) for line in code
              if (m := re.match(r"\s*(v\d+) = .*requires_grad(=True\)|_\(\))\s*$", line))}
    return any(line.startswith("with T.no_grad():") and (m := re.match(
        r"\s*(v\d+)(\.\w+_\(|\[.*\] = )", nxt)) and m.group(1) not in leaves
        for line, nxt in zip(code, code[1:]))


def _loss(lines: list[str], i: int, nudge: Nudge | None = None, track: Track | None = None,
          ) -> float:
    """What statement i differentiates, on ndgrad, after lines[:i] ran with ``nudge``."""
    ns, _, _ = _prefix(lines, i, nudge, track)
    *setup, last = lines[i].split("\n")
    for line in setup:
        _run_line(line, ns)
    m = _LOSS.search(last)
    assert m is not None, last
    return float(eval(m.group("loss") or m.group("arg"), ns))  # noqa: S307 - generated code


def _jump(f0: float, f1: float, f2: float) -> bool:
    """Whether the loss jumps between x and x + h (a comparison, floor or int cast flips):
    its change over 2h is about its change over h, where a smooth change doubles."""
    d1, d2 = f1 - f0, f2 - f0
    return d1 != 0 and abs(d2 - d1) < 0.5 * abs(d1)


def _nan_made_by_a_node(lines: list[str], i: int) -> bool:
    """Whether a backward op returns NaN at statement i (anomaly mode stops there), rather than
    infinite gradients meeting (inf * 0, inf - inf) on the way to a leaf."""
    ns, _, _ = _prefix(lines, i)
    if any(isinstance(v, ndgrad.Tensor) and v.is_floating_point()
           and not np.isfinite(v.detach().numpy()).all() for v in ns.values()):
        return False  # inf or nan in the forward: formulas meet 0 * inf (2400812)
    try:
        with ndgrad.autograd.detect_anomaly():
            _run_line(lines[i], ns)
    except RuntimeError as e:
        # sqrt's derivative at 0 is a division by 0: a zero gradient arriving there makes
        # 0 / 0 = nan in torch's formula (grad / (2 * result)) as in ndgrad's (seed 3207071)
        return "returned nan values" in str(e) and "'SqrtBackward'" not in str(e)
    return False


def finite_difference_check(lines: list[str], i: int) -> str | None:
    """ndgrad's gradient from backward statement i (which only torch refuses) against one-sided
    finite differences of what it differentiates, per element of every float64 leaf: at a kink
    (relu, clamp, max) a subgradient lies between the two slopes, so it must (up to rounding).
    Finite differences say nothing about an element where the loss jumps (seed 10750) or is nan
    on both sides (seed 7739995), nor about a non-finite gradient that infinite derivatives
    make (sqrt at 0: the chain rule gives inf * 0 = nan, as torch's does, where the slopes are
    finite, seed 7149); a NaN that a backward op returns is reported."""
    if _alias_written(lines[:i]):
        return None
    ns, names, track = _prefix(lines, i)
    before = {n: ns[n].grad.detach().numpy().copy() if ns[n].grad is not None else 0.0
              for n in names}
    existing = set(ns)
    _run_line(lines[i], ns)
    m = _LOSS.search(lines[i].split("\n")[-1])
    # autograd.grad's result: the tuple statement i made (not one an earlier statement made)
    new = [k for k in ns if k not in existing and isinstance(ns[k], tuple)] \
        if m is not None and m.group("arg") else []
    # float32 on the way: a wider step, above its rounding (one-sided slopes still bracket)
    f32 = any("float32" in line or ".float()" in line for line in lines[:i + 1])
    h, tol = (1e-2, 1e-3) if f32 else (1e-6, 1e-5)
    f0 = _loss(lines, i)
    if not np.isfinite(f0):  # nothing to difference (sqrt of a negative, say)
        return None
    for n in names:
        if any(m != n and isinstance(v, ndgrad.Tensor) and v._base is not ns[n]
               and np.shares_memory(ns[n]._data, v._data) for m, v in ns.items()):
            continue  # nudging its memory nudges tensors that are not its views: the
            # difference is not this leaf's derivative (v9 = v5[0].detach(), seed 777278)
        if new:  # autograd.grad: the result tuple, in the order of its list of inputs
            args = re.search(r"\[(.*?)\]", lines[i])
            order = args.group(1).split(", ") if args else []
            g = ns[new[0]][order.index(n)] if n in order else None
            grad = np.zeros(ns[n].shape) if g is None else g.detach().numpy()
        else:
            after = ns[n].grad
            now = after.detach().numpy() if after is not None else np.zeros(ns[n].shape)
            grad = now - before[n]
        for k, gk in enumerate(np.asarray(grad, np.float64).reshape(-1)):
            right, left = _loss(lines, i, (n, k, h), track), _loss(lines, i, (n, k, -h), track)
            up, down = (right - f0) / h, (f0 - left) / h
            lo, hi = min(up, down), max(up, down)
            if lo - tol * (1 + abs(lo)) <= gk <= hi + tol * (1 + abs(hi)):
                continue
            if np.isnan(up) and np.isnan(down):  # (a negative base to a nudged power)
                continue
            if any(_jump(f0, f, _loss(lines, i, (n, k, 2 * s), track)) for s, f in
                   ((h, right), (-h, left))):
                continue
            if not np.isfinite(gk) and not _nan_made_by_a_node(lines, i):
                continue
            return (f"statement {i} (only torch refuses it): d/d{n}[{k}] is {gk} on "
                    f"ndgrad, finite differences give {down} (left) and {up} (right)")
    return None


def _check(seeds: range) -> None:
    failures = []
    for seed in seeds:
        lines = Generator(seed).program(STATEMENTS)
        why = compare(lines)
        if why is not None:
            failures.append(f"# seed {seed}: {why}\n{script(lines)}")
    assert not failures, f"{len(failures)} programs disagree:\n\n" + "\n\n".join(failures[:5])


def test_random_programs_agree_with_torch() -> None:
    _check(range(FUZZ_PROGRAMS))


@pytest.mark.fuzz
@pytest.mark.skipif(not os.environ.get("NDGRAD_FUZZ"), reason="opt in: NDGRAD_FUZZ=5000")
def test_many_random_programs_agree_with_torch() -> None:
    start = int(os.environ.get("NDGRAD_FUZZ_SEED", "1000000"))
    _check(range(start, start + int(os.environ.get("NDGRAD_FUZZ", "5000"))))


def test_finite_differences_check_the_gradients_only_ndgrad_gives(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check the fuzzer runs where only torch refuses a derivative: it passes ndgrad's
    gradient, a subgradient at a kink, an autograd.grad result, and catches a wrong one."""
    leaf = "v1 = T.tensor([0.5, 0.0, -1.0], dtype=T.float64, requires_grad=True)"
    assert finite_difference_check([leaf, "v2 = v1.sin() * v1.relu()", "v2.sum().backward()"],
                                   2) is None
    assert finite_difference_check(
        [leaf, "v2 = v1.sin()", "v3 = T.autograd.grad(v2.sum(), [v1], allow_unused=True)"],
        2) is None
    from ndgrad.ops.elementwise import Sin
    monkeypatch.setattr(Sin, "backward", staticmethod(lambda ctx, grad: grad))
    why = finite_difference_check([leaf, "v2 = v1.sin()", "v2.sum().backward()"], 2)
    assert why is not None and "d/dv1[0] is 1.0" in why


def test_finite_differences_of_a_leaf_changed_under_no_grad() -> None:
    """A leaf changed in place under no_grad is differentiated at its new value: the step
    stays one step (it was doubled with the leaf, seed 6394)."""
    leaf = "v1 = T.tensor([0.5, -1.0], dtype=T.float64, requires_grad=True)"
    prog = [leaf, "with T.no_grad():\n    v1 += v1", "v2 = v1 * v1", "v2.sum().backward()"]
    assert finite_difference_check(prog, 3) is None
    prog[1] = "with T.no_grad():\n    v1.fill_(1.5)"  # overwritten: the step is not lost
    assert finite_difference_check(prog, 3) is None


@pytest.mark.parametrize("x,judged", [("1.0", False), ("4.0", True)])
def test_finite_differences_do_not_judge_a_jump(x: str, judged: bool) -> None:
    """var of one element is NaN, and so is its gradient (as torch's); overwritten by
    ``sqrt(x) == x``, the loss jumps on both sides of x = 1, where the slopes say nothing
    (seed 10750). At x = 4 nothing jumps, and a NaN a backward op returns from finite values
    is reported (var's own NaN is not: its forward is NaN too, so the 0 * 1/0 there is
    accepted, as torch's gradient is NaN as well)."""
    prog = [f"v1 = T.tensor({x}, dtype=T.float64, requires_grad=True)",
            "v2 = (v1 - v1) / (v1 - v1) * 1", "v2[...] = v1.sqrt() == v1",
            "v2.sum().backward()"]
    why = finite_difference_check(prog, 3)
    assert (why is not None and "is nan on ndgrad" in why) == judged, why
    var = [prog[0], "v2 = v1.var(0) * 1", *prog[2:]]
    assert finite_difference_check(var, 3) is None


def test_finite_differences_do_not_judge_nan_from_an_infinite_derivative(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """sqrt(3 * (x - x)) is 0 for every x, but its derivative at 0 is infinite: the chain rule
    gives inf - inf = nan, as torch's does, where the slopes are those of tanh(x) (seed 7149).
    A NaN that a backward op returns is still reported."""
    prog = ["v1 = T.tensor([-0.5, 0.25], dtype=T.float64, requires_grad=True)",
            "v2 = ((v1 - v1) * 3).sqrt()", "v3 = (v1 - v2).tanh()", "v3.sum().backward()"]
    assert finite_difference_check(prog, 3) is None
    from ndgrad.ops.elementwise import Tanh
    monkeypatch.setattr(Tanh, "backward", staticmethod(lambda ctx, grad: grad * float("nan")))
    why = finite_difference_check(prog, 3)
    assert why is not None and "d/dv1[0] is nan" in why


def test_generator_skips_in_place_writes_whose_result_depends_on_torchs_order() -> None:
    """Only a write whose input shares memory with it in a layout torch does not check is left
    out: the same elements pass, and a dense partial overlap is kept (torch refuses it)."""
    ns = {"T": torch, "x": torch.arange(12.0).reshape(4, 3)}
    ns["v"] = ns["x"].t()
    assert _order_dependent("v", ns["v"][0], ns)  # v.mul_(v[0]): seed 8902
    assert _order_dependent("x[0]", ns["x"][0, ::2][:1], ns)
    assert not _order_dependent("v", ns["v"], ns)
    assert not _order_dependent("x[1:]", ns["x"][:-1], ns)  # torch: "unsupported operation"
    assert not _order_dependent("x[0]", ns["x"][1], ns)
    assert not _order_dependent("x", torch.ones(3), ns)
