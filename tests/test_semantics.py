"""Semantics real code depends on (issue 11.3), against PyTorch: NumPy's ``axis=`` and
``keepdims=`` where torch takes them, ``flip(dims=)``, memory formats, 0-d inputs everywhere,
and ``new_*`` tensors. (Ranges and lists inside indexes, smaller gather/scatter indices and
tensor_split by a tensor are tested with their ops: test_ops_index.py, test_ops_shape.py.)"""

import warnings

import numpy as np
import pytest
import torch
from helpers import assert_close, check_op

import ndgrad

# -- axis= and keepdims= -----------------------------------------------------------------------
AXIS_CASES = [
    lambda x: x.sum(axis=1), lambda x: x.sum(axis=(0, 2), keepdims=True),
    lambda x: x.mean(axis=-1, keepdims=True), lambda x: x.std(axis=0),
    lambda x: x.var(axis=1, keepdims=True), lambda x: x.prod(axis=2, keepdims=True),
    lambda x: x.amax(axis=(0, 1)), lambda x: x.amin(axis=1, keepdims=True),
    lambda x: x.max(axis=1), lambda x: x.min(axis=0, keepdims=True),
    lambda x: x.argmax(axis=2), lambda x: x.argmin(axis=1, keepdims=True),
    lambda x: x.logsumexp(axis=1, keepdims=True), lambda x: x.nansum(axis=0),
    lambda x: x.nanmean(axis=2, keepdims=True), lambda x: x.median(axis=1),
    lambda x: x.nanmedian(axis=0, keepdims=True), lambda x: x.mode(axis=2),
    lambda x: x.count_nonzero(axis=1), lambda x: x.cumsum(axis=1), lambda x: x.cumprod(axis=0),
    lambda x: x.softmax(axis=-1), lambda x: x.log_softmax(axis=0), lambda x: x.cummax(axis=2),
    lambda x: x.logcumsumexp(axis=1), lambda x: x.aminmax(axis=1, keepdims=True),
    lambda x: (x > 0).any(axis=1), lambda x: (x > 0).all(axis=(0, 2), keepdims=True),
    lambda x: x.sum(0, keepdims=True), lambda x: x.std(1, keepdims=True),
]


@pytest.mark.parametrize("fn", AXIS_CASES, ids=range(len(AXIS_CASES)))
def test_numpy_axis_and_keepdims(fn):
    check_op([(3, 4, 5)], fn)


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.sum(x, axis=0, keepdims=True), lambda lib, x: lib.mean(x, axis=1),
    lambda lib, x: lib.std(x, axis=1, keepdims=True), lambda lib, x: lib.var_mean(x, axis=0),
    lambda lib, x: lib.std_mean(x, axis=0, keepdims=True), lambda lib, x: lib.amax(x, axis=1),
    lambda lib, x: lib.argmax(x, axis=0), lambda lib, x: lib.logsumexp(x, axis=1),
    lambda lib, x: lib.nansum(x, axis=1, keepdims=True), lambda lib, x: lib.all(x, axis=0),
], ids=range(10))
def test_numpy_axis_top_level(fn):
    check_op([(3, 4)], fn)


def test_flip_dims_keyword():
    check_op([(2, 3, 4)], lambda x: x.flip(dims=(0, 2)))
    check_op([(2, 3, 4)], lambda lib, x: lib.flip(x, dims=[-1]))
    check_op([(2, 3, 4)], lambda x: x.flip([1, 2]))


# -- memory formats ----------------------------------------------------------------------------
FORMATS = ["contiguous_format", "channels_last", "preserve_format"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("convert", [
    lambda x, f: x.contiguous(memory_format=f), lambda x, f: x.clone(memory_format=f),
    lambda x, f: x.float(memory_format=f), lambda x, f: x.double(memory_format=f),
    lambda x, f: x.to(memory_format=f), lambda x, f: x.to(x.dtype, memory_format=f),
    lambda x, f: x.transpose(1, 3).contiguous(memory_format=f),
], ids=range(7))
def test_memory_format_conversions(fmt, convert):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    outs = []
    for lib in (torch, ndgrad):
        try:
            out = convert(lib.tensor(x), getattr(lib, fmt))
        except RuntimeError as e:  # contiguous(preserve_format) is an error in torch
            outs.append(type(e))
            continue
        outs.append((out.shape, out.stride(), out.is_contiguous(),
                     out.is_contiguous(memory_format=lib.channels_last), out.numpy().tolist()))
    n, t = outs[1], outs[0]
    assert n == t


def test_memory_format_gradients_and_errors():
    check_op([(2, 3, 4, 5)], lambda lib, x: (x.contiguous(memory_format=lib.channels_last)
                                             * 2).sum(1))
    check_op([(2, 3, 4, 5)], lambda lib, x: x.clone(memory_format=lib.channels_last).exp())
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last"):
            lib.zeros(2, 3).contiguous(memory_format=lib.channels_last)
        y = lib.zeros(2, 3, 4, 5, 6).contiguous(memory_format=lib.channels_last_3d)
        assert y.is_contiguous(memory_format=lib.channels_last_3d)
    assert repr(ndgrad.channels_last) == "ndgrad.channels_last"
    assert isinstance(ndgrad.preserve_format, ndgrad.memory_format)


# -- 0-d inputs ----------------------------------------------------------------------------------
ZERO_D = [
    lambda lib, x: x.std(), lambda lib, x: x.var(), lambda lib, x: x.std(0),
    lambda lib, x: x.var(unbiased=False), lambda lib, x: x.std(correction=0),
    lambda lib, x: x.nonzero(), lambda lib, x: x.nonzero(as_tuple=True),
    lambda lib, x: x.index_add(0, lib.tensor([0]), x * 2),
    lambda lib, x: x.index_fill(0, lib.tensor([0]), 5.0),
    lambda lib, x: x.index_fill(0, lib.tensor(0), 5.0),
    lambda lib, x: x.gather(0, lib.tensor(0)), lambda lib, x: x.gather(0, lib.tensor([0, 0])),
    lambda lib, x: x.scatter(0, lib.tensor(0), x * 3),
    lambda lib, x: x.scatter_add(0, lib.tensor(0), x * 3),
    lambda lib, x: x.index_select(0, lib.tensor([0])), lambda lib, x: x.sum(0, keepdim=True),
    lambda lib, x: x.argmax(0, keepdim=True), lambda lib, x: x.max(0), lambda lib, x: x.topk(1),
    lambda lib, x: x.sort(), lambda lib, x: x.flip(0), lambda lib, x: x.cumsum(0),
    lambda lib, x: x.logsumexp(0), lambda lib, x: x.softmax(0), lambda lib, x: x.unsqueeze(-1),
    lambda lib, x: x.squeeze(0), lambda lib, x: x.kthvalue(1), lambda lib, x: x.roll(1),
    lambda lib, x: x.prod(0), lambda lib, x: x.norm(dim=0), lambda lib, x: x.mean(0),
    lambda lib, x: x.median(0), lambda lib, x: x.median(), lambda lib, x: x.mode(),
    lambda lib, x: x.cummax(0), lambda lib, x: x.cummin(-1), lambda lib, x: x.nansum(0),
    lambda lib, x: x.nanmean(), lambda lib, x: x.take(lib.tensor([0, 0])),
    lambda lib, x: x.take_along_dim(lib.tensor(0)), lambda lib, x: x.quantile(0.5),
    lambda lib, x: x.logcumsumexp(0), lambda lib, x: x.aminmax(), lambda lib, x: x.msort()
    if x.ndim else x.clone(), lambda lib, x: x.repeat_interleave(2),
    lambda lib, x: x.detach().unique(), lambda lib, x: lib.atleast_2d(x),
    lambda lib, x: x.ravel(),
    lambda lib, x: x.unfold(0, 1, 1), lambda lib, x: x.count_nonzero(),
    lambda lib, x: lib.std_mean(x), lambda lib, x: x.index_copy(0, lib.tensor([0]), x * 2),
    lambda lib, x: x.put(lib.tensor([0]), x * 3), lambda lib, x: x.argwhere(),
    lambda lib, x: x.new_zeros(()), lambda lib, x: x.diff(dim=0) if x.ndim else x,
]


@pytest.mark.parametrize("fn", ZERO_D, ids=range(len(ZERO_D)))
def test_0d_inputs(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # std of one element: torch warns, and so do we
        check_op([()], fn)
        check_op([np.array(0.0)], fn)


def test_0d_errors_match_torch():
    for fn, exc in [(lambda lib, x: x.unbind(0), IndexError),
                    (lambda lib, x: x.split(1), RuntimeError),
                    (lambda lib, x: x.chunk(1), RuntimeError),
                    (lambda lib, x: x.roll(1, 0), IndexError),
                    (lambda lib, x: x.select(0, 0), IndexError),
                    (lambda lib, x: x.tensor_split(2), RuntimeError),
                    (lambda lib, x: x.take_along_dim(lib.tensor(0), 0), IndexError)]:
        for lib in (torch, ndgrad):
            with pytest.raises(exc):
                fn(lib, lib.tensor(1.5))


# -- new_* -----------------------------------------------------------------------------------
NEW_CASES = [
    lambda x: x.new_zeros(2, 3), lambda x: x.new_zeros((2, 3)), lambda x: x.new_zeros([4]),
    lambda x: x.new_ones(3, dtype=torch.int64 if isinstance(x, torch.Tensor) else ndgrad.int64),
    lambda x: x.new_full((2, 2), 7.5), lambda x: x.new_full([3], 2),
    lambda x: x.new_empty(0, 2).shape, lambda x: x.new_empty((2,)).dtype,
    lambda x: x.new_tensor([1, 2, 3]), lambda x: x.new_tensor([[1.5], [2.0]]),
    lambda x: x.new_tensor(3), lambda x: x.new_tensor([True, False]),
    lambda x: x.new_zeros(2, dtype=torch.float32 if isinstance(x, torch.Tensor)
                          else ndgrad.float32, requires_grad=True),
    lambda x: x.new_ones(()),
    lambda x: x.new_tensor([1, 2], dtype=torch.float64 if isinstance(x, torch.Tensor)
                           else ndgrad.float64),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("fn", NEW_CASES, ids=range(len(NEW_CASES)))
def test_new_tensors(fn, dtype):
    t = fn(torch.zeros(2, dtype=getattr(torch, dtype)))
    n = fn(ndgrad.zeros(2, dtype=getattr(ndgrad, dtype)))
    if isinstance(t, torch.Tensor):
        assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
        assert n.requires_grad == t.requires_grad
        assert_close(n, t, t.detach().numpy().dtype if t.dtype.is_floating_point else np.float64)
    elif isinstance(t, torch.dtype):
        assert str(n).split(".")[1] == str(t).split(".")[1]
    else:
        assert tuple(n) == tuple(t)


def test_new_tensor_is_a_copy_and_cpu_only():
    data = np.arange(3.0)
    x = ndgrad.zeros(1)
    y = x.new_tensor(data)
    data[0] = 9.0
    assert y[0].item() == 0.0 and y.dtype == ndgrad.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        x.new_zeros(2, device="cuda")


# -- where with scalars --------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda lib, c, x: lib.where(c, 1.0, 0.0), lambda lib, c, x: lib.where(c, 1, 0),
    lambda lib, c, x: lib.where(c, x, 0), lambda lib, c, x: lib.where(c, 2, x),
    lambda lib, c, x: lib.where(c, x, 2.5), lambda lib, c, x: lib.where(c, True, False),
    lambda lib, c, x: lib.where(c, x.long(), 2.5), lambda lib, c, x: lib.where(c, 1, 2.5),
    lambda lib, c, x: x.where(c, 1), lambda lib, c, x: lib.where(c, np.float64(1.0), x),
], ids=range(10))
def test_where_with_scalars(fn):
    for lib in (torch, ndgrad):
        out = fn(lib, lib.tensor([True, False, True]), lib.tensor([1.0, 2.0, 3.0]))
        if lib is torch:
            expected = out
    assert_close(out, expected, expected.numpy().dtype)
    check_op([np.array([True, False, True]), (3,)], lambda lib, c, x: lib.where(c, x, 0.5))
    check_op([np.array([True, False, True]), (3,)], lambda lib, c, x: lib.where(c, -1, x))
