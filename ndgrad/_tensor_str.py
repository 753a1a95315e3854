"""Tensor printing in PyTorch's format (a port of the rules of ``torch/_tensor_str.py``).

One width and one style per tensor: integers as they are; floats as ``1.`` when all are whole,
``0.1235`` (``precision`` digits) otherwise, and ``1.2346e+05`` when the magnitudes span more
than 1000x or leave [1e-4, 1e8). More than ``threshold`` elements are summarized with ``...``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """torch.set_printoptions: digits, summarization threshold, line width, scientific mode."""
    if profile is not None:
        defaults = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
                    "full": (4, math.inf, 3, 80)}
        if profile not in defaults:
            raise ValueError(f"profile must be one of {list(defaults)}, got '{profile}'")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = defaults[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


class _Formatter:
    """Chooses the style and the common width from the values that will be shown."""

    def __init__(self, arr: np.ndarray) -> None:
        self.floating = arr.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = PRINT_OPTS.precision
        if not self.floating:
            for v in arr.ravel().tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        flat = arr.ravel()
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size:
            absv = np.abs(vals.astype(np.float64))
            lo, hi = absv.min(), absv.max()
            self.int_mode = bool(np.all(vals == np.ceil(vals)))
            spread = hi / lo > 1000.0 or hi > 1.0e8
            self.sci_mode = spread or (not self.int_mode and lo < 1.0e-4)
            for v in vals.astype(np.float64).tolist():
                if self.sci_mode:
                    width = len(f"{v:.{p}e}")
                elif self.int_mode:
                    width = len(f"{v:.0f}") + 1
                else:
                    width = len(f"{v:.{p}f}")
                self.max_width = max(self.max_width, width)
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def format(self, value: Any) -> str:
        p = PRINT_OPTS.precision
        if not self.floating:
            ret = str(value)
        elif self.sci_mode:
            ret = f"{value:{self.max_width}.{p}e}"
        elif self.int_mode:
            ret = f"{value:.0f}"
            if not (math.isinf(value) or math.isnan(value)):
                ret += "."
        else:
            ret = f"{value:.{p}f}"
        return (self.max_width - len(ret)) * " " + ret


class _ComplexFormatter:
    """Real and imaginary parts formatted each with its own style, as torch prints
    ``1.0000+2.j``."""

    def __init__(self, arr: np.ndarray) -> None:
        self.re, self.im = _Formatter(arr.real), _Formatter(arr.imag)
        self.max_width = self.re.max_width + self.im.max_width + 2

    def format(self, value: Any) -> str:
        im = (self.im.format(value.imag) + "j").lstrip()
        return self.re.format(value.real) + (im if im[0] in "+-" else "+" + im)


def _summarized(arr: np.ndarray) -> np.ndarray:
    """Only the edge items of each dim: the values a summarized print shows."""
    e = PRINT_OPTS.edgeitems
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        return np.concatenate([arr[:e], arr[-e:]]) if arr.shape[0] > 2 * e else arr
    rows = list(arr[:e]) + list(arr[-e:]) if arr.shape[0] > 2 * e else list(arr)
    return np.stack([_summarized(r) for r in rows])


def _vector(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, (PRINT_OPTS.linewidth - indent) // (fmt.max_width + 2))
    e = PRINT_OPTS.edgeitems
    if summarize and arr.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in arr[:e].tolist()] + [" ..."]
                + [fmt.format(v) for v in arr[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _body(arr: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector(arr, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    if summarize and arr.shape[0] > 2 * e:
        rows = ([_body(arr[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."]
                + [_body(arr[i], indent + 1, summarize, fmt)
                   for i in range(arr.shape[0] - e, arr.shape[0])])
    else:
        rows = [_body(r, indent + 1, summarize, fmt) for r in arr]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(arr: np.ndarray, dtype_name: str, default_float: np.dtype, grad_fn: Any,
                requires_grad: bool) -> str:
    """``tensor([1., 2.], requires_grad=True)``: values, then the dtype unless it is the default
    float, int64 or bool (the ones the values show), then grad_fn or requires_grad."""
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        body = "[]"
        show_dtype = arr.dtype != default_float  # no values to tell an int64 tensor by
    else:
        summarize = arr.size > PRINT_OPTS.threshold
        shown = _summarized(arr) if summarize else arr
        fmt: Any = _ComplexFormatter(shown) if arr.dtype.kind == "c" else _Formatter(shown)
        body = _body(arr, indent, summarize, fmt)
        show_dtype = arr.dtype not in (default_float, np.dtype(np.int64), np.dtype(np.bool_),
                                       np.result_type(default_float, np.complex64))
    if show_dtype:
        suffixes.append(f"dtype={dtype_name}")
    if grad_fn is not None:
        suffixes.append(f"grad_fn={grad_fn!r}")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
