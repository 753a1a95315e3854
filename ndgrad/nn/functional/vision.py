"""Vision functions: padding (constant, reflect, replicate, circular), pixel_shuffle and
pixel_unshuffle, channel_shuffle, unfold and fold (im2col and col2im), grid_sample and
affine_grid.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad.nn.functional._helpers import _int_tuple
from ndgrad.ops.conv import ConvParams, Fold, Unfold, out_size
from ndgrad.ops.elementwise import PiecewiseGrad
from ndgrad.ops.padding import PadRepeat
from ndgrad.ops.shape import Pad
from ndgrad.tensor import Tensor, where
from ndgrad.tensor.creation import fused_multiply_add, linspace_values
from ndgrad.tensor.functions import stack


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
    for d in (sorted(pairs, reverse=True) if mode == "reflect" else ()):
        lo, hi = pairs[d]  # the last dim first, as torch checks them
        if lo >= input.shape[d] or hi >= input.shape[d]:
            arg = 4 + 2 * (input.ndim - 1 - d)  # torch numbers (left, right) of W, H, D
            raise RuntimeError(f"Argument #{arg}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {d} of input {list(input.shape)}")
    crop, widths = [], []
    for d in range(input.ndim):
        lo, hi = pairs.get(d, (0, 0))
        n = input.shape[d]
        if mode == "replicate" and (lo < 0 or hi < 0) and n:
            # the positions are clip(-lo .. n + hi - 1, 0, n - 1): a core with runs at its ends
            pos = np.clip(np.arange(-lo, n + hi), 0, n - 1)
            first, last = (int(pos[0]), int(pos[-1])) if pos.size else (0, -1)
            crop.append(slice(first, last + 1))
            widths.append((int((pos == first).sum()) - 1, int((pos == last).sum()) - 1)
                          if first != last else (max(pos.size - 1, 0), 0))
            continue
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        # negative amounts crop first; the rest is padded from what remains
        crop.append(slice(max(-lo, 0), n - max(-hi, 0)))
        widths.append((max(lo, 0), max(hi, 0)))
    cropped = any(c != slice(0, n) for c, n in zip(crop, input.shape))
    if not cropped and not any(lo or hi for lo, hi in widths):
        return input
    # a crop alone goes through PadRepeat too (zero widths: a copy), as torch's pads: a new
    # tensor whose gradient stays in the graph under create_graph (PadRepeatGrad ties it)
    return PadRepeat.apply(input[tuple(crop)] if cropped else input, tuple(widths), mode)


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


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r): each group of r^2 channels becomes an r x r block
    of pixels (sub-pixel convolution)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} and input.size(-1)={w} "
                           f"are not divisible by {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with C = g * k: the channels (g, k) reordered as (k, g) (ShuffleNet)."""
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(input.shape)


def _fold_params(kernel_size: Any, dilation: Any, padding: Any, stride: Any
                 ) -> tuple[tuple[int, ...], ConvParams]:
    k = _int_tuple(kernel_size, 2, "kernel_size")
    d = _int_tuple(dilation, 2, "dilation")
    pd = _int_tuple(padding, 2, "padding")
    s = _int_tuple(stride, 2, "stride")
    if min(k) <= 0 or min(d) <= 0 or min(s) <= 0 or min(pd) < 0:
        raise RuntimeError(f"kernel_size, dilation and stride must be greater than zero and "
                           f"padding non-negative, but got kernel_size={list(k)}, "
                           f"dilation={list(d)}, padding={list(pd)}, stride={list(s)}")
    return k, ConvParams(s, tuple((v, v) for v in pd), d, 1)


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Every sliding block of (N, C, H, W) as a column: (N, C*kh*kw, L) (im2col)."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                                  f"{input.ndim}D)")
    x = input.unsqueeze(0) if input.ndim == 3 else input
    k, p = _fold_params(kernel_size, dilation, padding, stride)
    sizes = [out_size(x.shape[2 + i], k[i], p.stride[i], p.pads[i], p.dilation[i])
             for i in range(2)]
    if min(sizes) <= 0:
        raise RuntimeError(f"Given input with spatial size ({x.shape[2]}, {x.shape[3]}), "
                           f"kernel_size={list(k)}, dilation={list(p.dilation)}, "
                           f"padding={[lo for lo, _ in p.pads]}, calculated shape of the array "
                           f"of sliding blocks as ({sizes[0]}, {sizes[1]}), but its components "
                           f"must be at least one.")
    out = Unfold.apply(x, k, p)
    return out.squeeze(0) if input.ndim == 3 else out


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,
         padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sum columns (N, C*kh*kw, L) back into (N, C, *output_size): unfold's adjoint (col2im)."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input "
                                  f"Tensors are supported (got {input.ndim}D)")
    x = input.unsqueeze(0) if input.ndim == 2 else input
    size = _int_tuple(output_size, 2, "output_size")
    k, p = _fold_params(kernel_size, dilation, padding, stride)
    kk = k[0] * k[1]
    if x.shape[1] % kk:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={list(k)}")
    blocks = [out_size(size[i], k[i], p.stride[i], p.pads[i], p.dilation[i]) for i in range(2)]
    if x.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(f"Given output_size={list(size)}, kernel_size={list(k)}, "
                           f"dilation={list(p.dilation)}, padding={[lo for lo, _ in p.pads]}, "
                           f"stride={list(p.stride)}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {blocks[0]} * "
                           f"{blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={x.shape[2]}.")
    out = Fold.apply(x, (x.shape[0], x.shape[1] // kk, *size), k, p)
    return out.squeeze(0) if input.ndim == 2 else out


# -- sampling at given coordinates -----------------------------------------------------------
def _unnormalize(coord: Tensor, size: int, align_corners: bool, d: int) -> Tensor:
    """[-1, 1] -> pixel coordinates: -1 and 1 are the corner pixels' centres
    (align_corners) or their outer edges. Rounded as torch's CPU kernels round it (2-D: its
    vectorized kernel's (coord + 1) * scale - 0.5; 3-D: ((coord + 1) * size - 1) / 2): at
    the identity grid, points fall on pixel centres, where an ulp decides the bilinear
    gradient's side."""
    if d == 2:
        if align_corners:
            return (coord + 1) * ((size - 1) / 2)
        out = (coord + 1) * (size / 2) - 0.5
        nd = out._data.dtype
        if nd in (np.float32, np.float64):  # torch's compiler fuses it: one rounding
            exact = fused_multiply_add((coord + 1)._data, size / 2, -0.5, nd)
            out = out + Tensor._make(exact - out._data)  # same gradient, torch's value
        return out
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _clip(coord: Tensor, size: int) -> Tensor:
    """coord clamped to [0, size - 1], with gradient 0 at the bounds (as PyTorch's)."""
    lim = size - 1
    return where(coord <= 0, 0.0, where(coord >= lim, float(lim), coord))


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """coord reflected into [low, high] by the borders, as often as needed."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    dist = where(coord < low, low - coord, coord - low)
    extra = dist.fmod(span)
    flips = (dist / span).floor().detach()
    return where(flips.remainder(2) == 0, extra + low, span - extra + low)


def _source(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """A grid coordinate as an input position, after the padding mode's folding."""
    if padding_mode == "border":
        return _clip(coord, size)
    if padding_mode == "reflection":
        twice = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        return _clip(_reflect(coord, *twice), size)
    return coord


def _gather(x: Tensor, idx: list[Tensor], sizes: list[int]) -> Tensor:
    """x (N, C, *S) at integer positions idx (each (N, *O)); 0 where any is out of bounds."""
    n, c = x.shape[:2]
    inside = None
    flat = None
    for v, s in zip(idx, sizes):
        ok = (v >= 0) & (v < s)
        inside = ok if inside is None else inside & ok
        v = v.clamp(0, s - 1)
        flat = v if flat is None else flat * s + v
    assert flat is not None and inside is not None
    out_shape = tuple(flat.shape[1:])
    index = flat.long().reshape(n, 1, -1).expand(n, c, -1)
    vals = x.reshape(n, c, -1).gather(2, index).reshape(n, c, *out_shape)
    return vals * inside.unsqueeze(1).to(x.dtype)


def _cubic_coeffs(t: Tensor) -> list[Tensor]:
    a = -0.75

    def near(v: Tensor) -> Tensor:
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v: Tensor) -> Tensor:
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Sample input (N, C, *S) at the normalised coordinates grid (N, *O, d) ((x, y[, z]),
    -1..1 across the input), by bilinear (trilinear for 3-D), nearest or bicubic (2-D)
    interpolation; outside positions follow padding_mode (zeros, border, reflection).
    Differentiable in both input and grid."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to "
                      "align_corners=False since 1.3.0. Please specify align_corners=True if "
                      "the old behavior is desired. See the documentation of grid_sample for "
                      "details.", stacklevel=2)
        align_corners = False
    d = input.ndim - 2
    if d not in (2, 3) or grid.ndim != input.ndim or grid.shape[-1] != d:
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, and grid's last dim of size {d}, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if mode == "bicubic" and d != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    sizes = list(input.shape[2:])
    # grid's last dim is (x, y[, z]): the spatial dims of input in reverse
    coords = [_unnormalize(grid[..., d - 1 - i], sizes[i], align_corners, d) for i in range(d)]
    if mode == "bicubic":
        base = [c.floor().detach() for c in coords]
        weights = [_cubic_coeffs(c - b) for c, b in zip(coords, base)]
        out = None
        for j in range(4):
            for i in range(4):  # taps along y (j) and x (i)
                pos = [(base[0] - 1 + j), (base[1] - 1 + i)]
                pos = [_source(p, s, padding_mode, align_corners) for p, s in zip(pos, sizes)]
                term = _gather(input, pos, sizes) * (weights[0][j] * weights[1][i]).unsqueeze(1)
                out = term if out is None else out + term
        assert out is not None
        return out
    coords = [_source(c, s, padding_mode, align_corners) for c, s in zip(coords, sizes)]
    if mode == "nearest":
        out = _gather(input, [c.round().detach() for c in coords], sizes)
        # piecewise constant in the grid: its gradient there is zero, not missing (as torch)
        for c in coords:
            out = PiecewiseGrad.apply(out, c.unsqueeze(1).expand(out.shape), 1.0)
        return out
    base = [c.floor().detach() for c in coords]
    frac = [c - b for c, b in zip(coords, base)]
    out = None
    for corner in range(2 ** d):
        bits = [(corner >> (d - 1 - i)) & 1 for i in range(d)]
        w = None
        for i, b in enumerate(bits):
            wi = frac[i] if b else 1 - frac[i]
            w = wi if w is None else w * wi
        assert w is not None
        term = _gather(input, [base[i] + bits[i] for i in range(d)], sizes) * w.unsqueeze(1)
        out = term if out is None else out + term
    assert out is not None
    return out


def _base_coords(steps: int, align_corners: bool, like: Tensor) -> Tensor:
    """PyTorch's linspace from -1 to 1 for an affine grid (scaled in by (n-1)/n without
    align_corners; a single step is 0)."""
    nd = like._data.dtype
    if steps <= 1:
        return Tensor._make(np.zeros(max(steps, 0), nd))
    values = linspace_values(-1.0, 1.0, steps, nd)  # torch's, to the bit
    if not align_corners:  # in the dtype, as torch: range * (steps - 1) / steps
        values = values * nd.type(steps - 1) / nd.type(steps)
    return Tensor._make(values.astype(nd, copy=False))


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None
                ) -> Tensor:
    """The sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps theta (N, 2, 3)
    (or (N, 3, 4)) over a [-1, 1] output grid of ``size``: input to grid_sample."""
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to "
                      "align_corners=False since 1.3.0. Please specify align_corners=True if "
                      "the old behavior is desired. See the documentation of grid_sample for "
                      "details.", stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(v) for v in size]
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    d = len(size) - 2
    if theta.ndim != 3 or theta.shape[-2] != d or theta.shape[-1] != d + 1:
        expected = "Nx2x3" if d == 2 else "Nx3x4"
        raise ValueError(f"Expected a batch of {d}D affine matrices of shape {expected} for size "
                         f"{size}. Got {list(theta.shape)}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"Expected theta's batch size {theta.shape[0]} to match size[0] = "
                           f"{size[0]}")
    spatial = size[2:]
    axes = [_base_coords(s, align_corners, theta) for s in spatial]  # (D,) H, W
    # base (*spatial, d + 1): (x, y[, z], 1), x along the last spatial dim
    comps = []
    for i in range(d):
        shape = [1] * d
        shape[d - 1 - i] = spatial[d - 1 - i]
        comps.append(axes[d - 1 - i].reshape(shape).expand(*spatial))
    comps.append(Tensor._make(np.ones(spatial, dtype=theta._data.dtype)))
    base = stack(comps, -1).reshape(1, -1, d + 1)
    grid = base.matmul(theta.transpose(1, 2))  # (N, L, d)
    return grid.reshape(size[0], *spatial, d)
