"""Padding (constant, reflect, replicate, circular), as torch.nn.functional.pad.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ndgrad.ops.shape import Pad
from ndgrad.tensor import Tensor


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad (or, with negative amounts, crop) the last len(pad)//2 dims; pad lists
    (left, right) pairs starting from the last dim. Modes: constant, reflect, replicate,
    circular."""
    pad = [int(v) for v in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    pairs = {input.ndim - 1 - i: (pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)}
    if mode == "constant":
        return _pad_constant(input, pairs, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if (input.ndim, len(pad)) not in ((2, 2), (3, 2), (3, 4), (4, 4), (4, 6), (5, 6)):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.ndim}D "
                                  f"input tensor. Supported combinations for non-constant "
                                  f"padding: (2D or 3D input, pad of 2), (3D or 4D, 4), "
                                  f"(4D or 5D, 6)")
    out = input
    for d, (lo, hi) in sorted(pairs.items()):
        n = input.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension {d} "
                               f"of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        pos = np.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            pos = np.abs(pos) % period
            pos = np.where(pos >= n, period - pos, pos)
        elif mode == "replicate":
            pos = np.clip(pos, 0, n - 1)
        else:
            pos = pos % n
        out = out.index_select(d, Tensor._make(pos.astype(np.int64)))
    return out


def _pad_constant(x: Tensor, pairs: dict[int, tuple[int, int]], value: float) -> Tensor:
    grow = [(max(pairs.get(d, (0, 0))[0], 0), max(pairs.get(d, (0, 0))[1], 0))
            for d in range(x.ndim)]
    if any(lo < 0 or hi < 0 for lo, hi in pairs.values()):  # negative pads crop
        idx = tuple(slice(-min(lo, 0), x.shape[d] + min(hi, 0)) if d in pairs else slice(None)
                    for d, (lo, hi) in ((d, pairs.get(d, (0, 0))) for d in range(x.ndim)))
        x = x[idx]
    if not any(lo or hi for lo, hi in grow):
        return x.clone()  # torch's pad always returns a new tensor, never a view of its input
    return Pad.apply(x, tuple(grow), value)
