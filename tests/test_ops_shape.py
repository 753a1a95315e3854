"""Shape ops against PyTorch: views, permutations, expansion, joins and splits, triangles."""

import contextlib
import math

import numpy as np
import pytest
import torch
from helpers import check_op

import ndgrad

# (input shape, lambda) pairs: one line per case, teenygrad style.
SHAPE_CASES = [
    # reshape / view
    ((2, 3, 4), lambda x: x.reshape(6, 4)),
    ((2, 3, 4), lambda x: x.reshape(-1)),
    ((2, 3, 4), lambda x: x.reshape((4, -1))),
    ((2, 3, 4), lambda x: x.reshape([2, 12])),
    ((), lambda x: x.reshape(1, 1)),
    ((1,), lambda x: x.reshape(())),
    ((0, 3), lambda x: x.reshape(3, 0)),
    ((0, 3), lambda x: x.reshape(-1, 3, 2)),
    ((2, 3, 4), lambda x: x.view(4, 6)),
    ((2, 3, 4), lambda x: x.view(-1, 2)),
    ((2, 3, 4), lambda x: x.view(2, 3, 4)),
    ((2, 3), lambda x: x.view_as(torch.zeros(3, 2)) if isinstance(x, torch.Tensor)
     else x.view_as(ndgrad.zeros(3, 2))),
    # flatten / unflatten
    ((2, 3, 4), lambda x: x.flatten()),
    ((2, 3, 4), lambda x: x.flatten(1)),
    ((2, 3, 4, 5), lambda x: x.flatten(1, 2)),
    ((2, 3, 4, 5), lambda x: x.flatten(-3, -2)),
    ((), lambda x: x.flatten()),
    ((2, 0, 3), lambda x: x.flatten(0, 1)),
    ((2, 12), lambda x: x.unflatten(1, (3, 4))),
    ((2, 12), lambda x: x.unflatten(-1, (3, -1))),
    ((6, 2), lambda x: x.unflatten(0, [2, 3])),
    # squeeze / unsqueeze
    ((1, 3, 1, 4), lambda x: x.squeeze()),
    ((1, 3, 1, 4), lambda x: x.squeeze(0)),
    ((1, 3, 1, 4), lambda x: x.squeeze(-2)),
    ((1, 3, 1, 4), lambda x: x.squeeze(1)),  # size 3: unchanged
    ((1, 3, 1, 4), lambda x: x.squeeze((0, 2))),
    ((1, 3, 1, 4), lambda x: x.squeeze((0, 1, -1))),
    ((), lambda x: x.squeeze()),
    ((), lambda x: x.squeeze(0)),
    ((1,), lambda x: x.squeeze()),
    ((1, 0, 1), lambda x: x.squeeze()),
    ((3, 4), lambda x: x.unsqueeze(0)),
    ((3, 4), lambda x: x.unsqueeze(2)),
    ((3, 4), lambda x: x.unsqueeze(-1)),
    ((3, 4), lambda x: x.unsqueeze(-3)),
    ((), lambda x: x.unsqueeze(0)),
    ((), lambda x: x.unsqueeze(-1)),
    # permute / transpose
    ((2, 3, 4), lambda x: x.permute(2, 0, 1)),
    ((2, 3, 4), lambda x: x.permute((1, 2, 0))),
    ((2, 3, 4), lambda x: x.permute(-1, -3, -2)),
    ((), lambda x: x.permute(())),
    ((2, 3, 4), lambda x: x.transpose(0, 2)),
    ((2, 3, 4), lambda x: x.transpose(-1, -2)),
    ((2, 3, 4), lambda x: x.transpose(1, 1)),
    ((2, 3, 4), lambda x: x.swapaxes(0, 1)),
    ((), lambda x: x.transpose(0, -1)),
    ((3, 4), lambda x: x.t()),
    ((4,), lambda x: x.t()),
    ((), lambda x: x.t()),
    ((3, 4), lambda x: x.T),
    ((2, 3, 4), lambda x: x.mT),
    ((3, 4), lambda x: x.mT),
    ((2, 3, 4), lambda x: x.movedim(0, 2)),
    ((2, 3, 4), lambda x: x.movedim(-1, 0)),
    ((2, 3, 4, 5), lambda x: x.movedim((0, 1), (2, 3))),
    ((2, 3, 4, 5), lambda x: x.movedim((3, 0), (0, 1))),
    ((2, 3, 4, 5), lambda x: x.moveaxis((-1, 1), (1, -1))),
    ((), lambda x: x.movedim(0, -1)),
    ((2, 3, 4), lambda x: x.movedim([], [])),
    # expand / broadcast_to
    ((3, 1), lambda x: x.expand(3, 4)),
    ((3, 1), lambda x: x.expand(2, 3, 4)),
    ((3, 1), lambda x: x.expand(-1, 4)),
    ((3, 1), lambda x: x.expand(2, -1, -1)),
    ((3, 1), lambda x: x.expand((5, 3, 2))),
    ((), lambda x: x.expand(2, 3)),
    ((1,), lambda x: x.expand(0)),
    ((1, 4), lambda x: x.expand(3, 4)),
    ((3, 4), lambda x: x.expand(3, 4)),
    ((3, 1), lambda x: x.expand_as(torch.zeros(2, 3, 5)) if isinstance(x, torch.Tensor)
     else x.expand_as(ndgrad.zeros(2, 3, 5))),
    ((3, 1), lambda x: x.broadcast_to(2, 3, 3)),
    ((3, 1), lambda x: x.broadcast_to((3, 6))),
    # repeat / tile
    ((2, 3), lambda x: x.repeat(2, 3)),
    ((2, 3), lambda x: x.repeat(2, 1, 2)),
    ((2, 3), lambda x: x.repeat((1, 1))),
    ((3,), lambda x: x.repeat(0)),
    ((), lambda x: x.repeat(3)),
    ((), lambda x: x.repeat(2, 3)),
    ((2, 3), lambda x: x.tile(2)),
    ((2, 3), lambda x: x.tile((2, 1, 2))),
    ((2, 3), lambda x: x.tile(())),
    ((0, 3), lambda x: x.repeat(2, 2)),
    # flip / roll
    ((2, 3, 4), lambda x: x.flip(0)),
    ((2, 3, 4), lambda x: x.flip(-1, 0)),
    ((2, 3, 4), lambda x: x.flip((1, 2))),
    ((2, 3, 4), lambda x: x.flip([])),
    ((), lambda x: x.flip(0)),
    ((3, 4), lambda x: x.fliplr()),
    ((3, 4), lambda x: x.flipud()),
    ((2, 3, 4), lambda x: x.roll(1, 0)),
    ((2, 3, 4), lambda x: x.roll(-2, -1)),
    ((2, 3, 4), lambda x: x.roll(5, 2)),
    ((2, 3, 4), lambda x: x.roll((1, 2), (0, 2))),
    ((2, 3, 4), lambda x: x.roll(3)),
    ((2, 3, 4), lambda x: x.roll(-7)),
    ((2, 3, 4), lambda x: x.roll((1, -1), (1, 1))),
    ((), lambda x: x.roll(1)),
    ((0, 3), lambda x: x.roll(1, 1)),
    # narrow / diagonal
    ((5, 4), lambda x: x.narrow(0, 1, 3)),
    ((5, 4), lambda x: x.narrow(-1, 0, 0)),
    ((5, 4), lambda x: x.narrow(1, -2, 2)),
    ((4, 4), lambda x: x.diagonal()),
    ((3, 5), lambda x: x.diagonal(1)),
    ((3, 5), lambda x: x.diagonal(-1)),
    ((3, 5), lambda x: x.diagonal(4)),
    ((3, 5), lambda x: x.diagonal(9)),
    ((3, 5), lambda x: x.diagonal(-5)),
    ((2, 3, 4), lambda x: x.diagonal(0, 1, 2)),
    ((2, 3, 4), lambda x: x.diagonal(1, 2, 0)),
    ((2, 3, 4), lambda x: x.diagonal(-1, -1, -3)),
    # tril / triu
    ((4, 5), lambda x: x.tril()),
    ((4, 5), lambda x: x.tril(1)),
    ((4, 5), lambda x: x.tril(-2)),
    ((4, 5), lambda x: x.tril(10)),
    ((2, 3, 4), lambda x: x.tril(-1)),
    ((4, 5), lambda x: x.triu()),
    ((4, 5), lambda x: x.triu(2)),
    ((4, 5), lambda x: x.triu(-1)),
    ((2, 3, 4), lambda x: x.triu(1)),
    ((0, 3), lambda x: x.triu()),
    # contiguous after a permutation, then a view
    ((2, 3, 4), lambda x: x.permute(2, 0, 1).contiguous().view(-1)),
    ((2, 3, 4), lambda x: x.transpose(0, 1).reshape(3, 8)),
]


@pytest.mark.parametrize("case", range(len(SHAPE_CASES)))
def test_shape_op(case):
    shape, fn = SHAPE_CASES[case]
    check_op([shape], fn)


@pytest.mark.parametrize("case", [
    (lambda lib, x: lib.reshape(x, (3, 4)), (2, 6)),
    (lambda lib, x: lib.flatten(x, 1), (2, 3, 4)),
    (lambda lib, x: lib.squeeze(x, 1), (2, 1, 4)),
    (lambda lib, x: lib.unsqueeze(x, 1), (2, 4)),
    (lambda lib, x: lib.permute(x, (1, 0)), (2, 4)),
    (lambda lib, x: lib.transpose(x, 0, 1), (2, 4)),
    (lambda lib, x: lib.t(x), (2, 4)),
    (lambda lib, x: lib.broadcast_to(x, (3, 2, 4)), (2, 4)),
    (lambda lib, x: lib.tile(x, (2,)), (2, 4)),
    (lambda lib, x: lib.flip(x, (0,)), (2, 4)),
    (lambda lib, x: lib.roll(x, 1, 0), (2, 4)),
    (lambda lib, x: lib.narrow(x, 1, 1, 2), (2, 4)),
    (lambda lib, x: lib.movedim(x, 0, 1), (2, 4)),
    (lambda lib, x: lib.tril(x, -1), (3, 4)),
    (lambda lib, x: lib.triu(x, 1), (3, 4)),
    (lambda lib, x: lib.diagonal(x, 0), (3, 4)),
    (lambda lib, x: lib.split(x, 2, 1), (3, 5)),
    (lambda lib, x: lib.chunk(x, 2, 1), (3, 5)),
    (lambda lib, x: lib.unbind(x, 1), (3, 5)),
])
def test_module_functions(case):
    fn, shape = case
    check_op([shape], fn)


# -- cat / stack -----------------------------------------------------------------------------
@pytest.mark.parametrize("shapes,dim", [
    ([(2, 3), (4, 3)], 0),
    ([(2, 3), (2, 5), (2, 1)], 1),
    ([(2, 3), (2, 5)], -1),
    ([(2, 3, 4), (2, 1, 4)], -2),
    ([(2, 3)], 0),
    ([(0, 3), (2, 3)], 0),
    ([(2, 0), (2, 3)], 1),
    ([(3,), (0,), (2,)], 0),
    ([(2, 3), (0,)], 0),  # legacy: 1-D empty tensors are skipped
])
def test_cat(shapes, dim):
    check_op(shapes, lambda lib, *xs: lib.cat(xs, dim))
    check_op(shapes, lambda lib, *xs: lib.cat(list(xs), dim=dim))
    check_op(shapes, lambda lib, *xs: lib.concat(xs, dim=dim))


def test_cat_mixed_dtypes():
    for ta, tb in [(torch.float32, torch.float64), (torch.int64, torch.float32),
                   (torch.int32, torch.int64), (torch.bool, torch.int64),
                   (torch.uint8, torch.float64)]:
        a, b = torch.arange(6).reshape(2, 3).to(ta), torch.ones(1, 3).to(tb)
        na = ndgrad.tensor(a.numpy())
        nb = ndgrad.tensor(b.numpy())
        out = ndgrad.cat([na, nb])
        assert str(out.dtype) == str(torch.cat([a, b]).dtype).replace("torch", "ndgrad")
        np.testing.assert_array_equal(out.numpy(), torch.cat([a, b]).numpy())
    # gradient flows back through the cast, in each operand's own dtype
    x32 = torch.randn(2, 3, requires_grad=True)
    x64 = torch.randn(1, 3, dtype=torch.float64, requires_grad=True)
    n32 = ndgrad.tensor(x32.detach().numpy(), requires_grad=True)
    n64 = ndgrad.tensor(x64.detach().numpy(), requires_grad=True)
    (torch.cat([x32, x64]) * torch.arange(9.).reshape(3, 3)).sum().backward()
    (ndgrad.cat([n32, n64]) * ndgrad.arange(9.).reshape(3, 3)).sum().backward()
    assert n32.grad.dtype == ndgrad.float32 and n64.grad.dtype == ndgrad.float64
    np.testing.assert_allclose(n32.grad.numpy(), x32.grad.numpy())
    np.testing.assert_allclose(n64.grad.numpy(), x64.grad.numpy())


@pytest.mark.parametrize("shapes,dim", [
    ([(2, 3), (2, 3)], 0),
    ([(2, 3), (2, 3), (2, 3)], 1),
    ([(2, 3), (2, 3)], 2),
    ([(2, 3), (2, 3)], -1),
    ([(2, 3), (2, 3)], -3),
    ([(), ()], 0),
    ([(0, 2), (0, 2)], 1),
    ([(4,)], 0),
])
def test_stack(shapes, dim):
    check_op(shapes, lambda lib, *xs: lib.stack(xs, dim))
    check_op(shapes, lambda lib, *xs: lib.stack(list(xs), dim=dim))


def test_stack_mixed_dtypes():
    a, b = torch.tensor([1, 2]), torch.tensor([0.5, 1.5])
    out = ndgrad.stack([ndgrad.tensor([1, 2]), ndgrad.tensor([0.5, 1.5])])
    assert out.dtype == ndgrad.float32 and torch.stack([a, b]).dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), torch.stack([a, b]).numpy())


# -- split / chunk / unbind ------------------------------------------------------------------
@pytest.mark.parametrize("shape,args", [
    ((7, 3), (2,)),
    ((7, 3), (3, 0)),
    ((7, 3), (7,)),
    ((7, 3), (10,)),
    ((7, 3), (1, 1)),
    ((7, 3), ((2, 5),)),
    ((7, 3), ([2, 0, 5], 0)),
    ((7, 3), ([1, 2], -1)),
    ((0, 3), (2,)),
])
def test_split(shape, args):
    check_op([shape], lambda x: x.split(*args))
    check_op([shape], lambda lib, x: lib.split(x, *args))


@pytest.mark.parametrize("shape,chunks,dim", [
    ((7, 3), 3, 0), ((6, 3), 3, 0), ((5, 3), 2, 1), ((5, 3), 4, -1), ((2, 3), 5, 0),
    ((5,), 1, 0), ((0, 3), 2, 0), ((5, 6), 4, 1),
])
def test_chunk(shape, chunks, dim):
    check_op([shape], lambda x: x.chunk(chunks, dim))


@pytest.mark.parametrize("shape,dim", [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1),
                                       ((0, 2), 1), ((4,), 0)])
def test_unbind(shape, dim):
    check_op([shape], lambda x: x.unbind(dim))


def test_split_outputs_used_partially():
    # only some outputs get a gradient: the others count as zero
    check_op([(6, 2)], lambda x: x.split(2)[1] * 3)
    check_op([(6, 2)], lambda x: x.unbind(0)[4].exp())
    check_op([(6, 2)], lambda x: x.chunk(3)[0] + x.chunk(3)[2])


def test_split_pieces_share_one_node_and_stay_views():
    # as torch's SplitBackward: one node for all pieces, whose backward joins their gradients
    # (a piece without one counts as zeros); the pieces are views of the root base
    x = ndgrad.arange(24.0).reshape(2, 12).requires_grad_()
    y = x * 1
    pieces = y[:, 2:].split([3, 2, 5], dim=1)
    assert len({id(p.grad_fn) for p in pieces}) == 1
    assert pieces[0].grad_fn.name() == "SplitBackward"
    assert [p._output_nr for p in pieces] == [0, 1, 2]
    assert all(p._base is y for p in pieces)
    np.testing.assert_array_equal(pieces[1].detach().numpy(), y.detach().numpy()[:, 5:7])
    assert np.shares_memory(pieces[1]._data, y._data) and pieces[1]._vc is y._vc
    # GPT's pattern: one projection split into q, k, v, each viewed and transposed
    check_op([(2, 3, 12)], lambda x: [p.reshape(2, 3, 2, 2).transpose(1, 2) * (i + 1)
                                      for i, p in enumerate(x.split(4, dim=2))])
    check_op([(2, 3, 12)], lambda x: x.split(4, dim=-1)[2].sin())  # only the last piece


# -- edge shapes: 0-d, size 0, size 1 --------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (0,), (1,), (1, 1), (2, 0, 3), (1, 3, 1)])
def test_edge_shapes(shape):
    check_op([shape], lambda x: x.reshape(-1).flatten())
    check_op([shape], lambda x: x.unsqueeze(0).squeeze(0))
    check_op([shape], lambda x: x.flip(tuple(range(x.ndim))))
    check_op([shape], lambda x: x.permute(tuple(reversed(range(x.ndim)))))
    check_op([shape], lambda x: x.expand((2,) + tuple(x.shape)))
    check_op([shape], lambda x: x.repeat((2,) * max(x.ndim, 1)))
    check_op([shape], lambda x: x.roll(1))


# -- views share memory and version with their base ------------------------------------------
def test_views_share_memory():
    x = ndgrad.arange(12.0)
    for v in (x.view(3, 4), x.reshape(2, 6), x.view(3, 4).t(), x.view(3, 4)[1],
              x.view(3, 4).permute(1, 0), x.unsqueeze(0), x[None].expand(2, 12), x.narrow(0, 2, 3),
              x.view(3, 4).diagonal()):
        assert np.shares_memory(v.numpy(), x.numpy())
    y = x.view(3, 4)
    y[0, 0] = 100.0
    assert x[0].item() == 100.0
    assert x._version == y._version == 1


# -- errors with PyTorch's messages ----------------------------------------------------------
def _raises_like(fn, exc, match):
    """ndgrad raises ``exc`` matching ``match``, and so does torch (same type)."""
    with pytest.raises(exc, match=match):
        fn(torch)
    with pytest.raises(exc, match=match):
        fn(ndgrad)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda lib: lib.zeros(2, 3).reshape(4, 2), RuntimeError, r"shape '\[4, 2\]' is invalid"),
    (lambda lib: lib.zeros(2, 3).view(-1, -1), RuntimeError, "only one dimension can be inferred"),
    (lambda lib: lib.zeros(2, 3).t().view(6), RuntimeError, "view size is not compatible"),
    (lambda lib: lib.zeros(2, 3).squeeze(2), IndexError, "Dimension out of range"),
    (lambda lib: lib.zeros(2, 3).unsqueeze(3), IndexError, "Dimension out of range"),
    (lambda lib: lib.zeros(2, 3).unsqueeze(-4), IndexError, "Dimension out of range"),
    (lambda lib: lib.zeros(2, 3).permute(0), RuntimeError, "number of dimensions"),
    (lambda lib: lib.zeros(2, 3).permute(0, 0), RuntimeError, "duplicate dims are not allowed"),
    (lambda lib: lib.zeros(2, 3).transpose(0, 2), IndexError, "Dimension out of range"),
    (lambda lib: lib.zeros(2, 3, 4).t(), RuntimeError, "expects a tensor with <= 2 dimensions"),
    (lambda lib: lib.zeros(3).mT, RuntimeError, "only supported on matrices"),
    (lambda lib: lib.zeros(2, 3).expand(2, 4), RuntimeError, "must match the existing size"),
    (lambda lib: lib.zeros(2, 3).expand(3), RuntimeError, "number of sizes provided"),
    (lambda lib: lib.zeros(2, 3).expand(-1, 2, 3), RuntimeError,
     "isn't allowed in a leading, non-existing dimension 0"),
    (lambda lib: lib.zeros(2, 3).repeat(2), RuntimeError, "can not be smaller"),
    (lambda lib: lib.zeros(2, 3).flip(2), IndexError, "Dimension out of range"),
    (lambda lib: lib.zeros(2, 3).flip(0, 0), RuntimeError, "multiple times"),
    (lambda lib: lib.zeros(2, 3).roll((1, 2), 0), RuntimeError, "shifts and dimensions must align"),
    (lambda lib: lib.cat([lib.zeros(2, 3), lib.zeros(2, 4)]), RuntimeError,
     "Sizes of tensors must match except in dimension 0"),
    (lambda lib: lib.cat([lib.zeros(2, 3), lib.zeros(2, 3, 1)]), RuntimeError,
     "must have same number of dimensions"),
    (lambda lib: lib.cat([]), ValueError, "expected a non-empty list of Tensors"),
    (lambda lib: lib.cat([lib.zeros(2)], 1), IndexError, "Dimension out of range"),
    (lambda lib: lib.cat([lib.zeros(())]), RuntimeError, "zero-dimensional"),
    (lambda lib: lib.stack([lib.zeros(2), lib.zeros(3)]), RuntimeError,
     "stack expects each tensor to be equal size"),
    (lambda lib: lib.stack([]), RuntimeError, "stack expects a non-empty TensorList"),
    (lambda lib: lib.stack([lib.zeros(2)], 2), IndexError, "Dimension out of range"),
    (lambda lib: lib.zeros(5).split([2, 2]), RuntimeError, "split_with_sizes expects"),
    (lambda lib: lib.zeros(5).split(-1), RuntimeError, "split expects split_size be non-negative"),
    (lambda lib: lib.zeros(5).chunk(0), RuntimeError,
     "chunk expects `chunks` to be greater than 0"),
    (lambda lib: lib.zeros(5).narrow(0, 3, 3), RuntimeError,
     r"start \(3\) \+ length \(3\) exceeds dimension size \(5\)"),
    (lambda lib: lib.zeros(5).narrow(0, 6, 0), IndexError, "start out of range"),
    (lambda lib: lib.zeros(5).split(0), RuntimeError, "split_size can only be 0"),
    (lambda lib: lib.zeros(5).diagonal(), IndexError, "Dimension out of range"),
    (lambda lib: lib.zeros(2, 3).movedim((0, 0), (0, 1)), RuntimeError,
     r"movedim: repeated dim in `source` \(\[0, 0\]\)"),
    (lambda lib: lib.zeros(5).tril(), RuntimeError, "at least 2 dimensions"),
    (lambda lib: lib.zeros(5).triu(), RuntimeError, "at least 2 dimensions"),
    (lambda lib: lib.zeros(2, 3).unflatten(1, (2, 2)), RuntimeError,
     "don't multiply up to the size of dim 1"),
    (lambda lib: lib.zeros(2, 3).movedim((0, 1), (0,)), RuntimeError, "movedim: Invalid source"),
    (lambda lib: lib.zeros(2, 3).diagonal(0, 0, 0), RuntimeError,
     "diagonal dimensions cannot be identical 0, 0"),
    (lambda lib: lib.zeros(2, 3).flatten(1, 0), RuntimeError, "start_dim cannot come after"),
])
def test_errors(fn, exc, match):
    _raises_like(fn, exc, match)


@pytest.mark.parametrize("shape,warning", [
    ((), "Tensor.T is deprecated on 0-D tensors"),
    ((3,), "The use of `x.T` on tensors of dimension other than 2"),
    ((3, 4), None),
    ((2, 3, 4), "The use of `x.T` on tensors of dimension other than 2"),
])
def test_T_reverses_dims_and_warns_as_torch(shape, warning):
    """x.T reverses the dims; on anything but a matrix torch warns that this is deprecated, and
    so does ndgrad, with torch's message (compared by hand: torch gives each warning only once
    per process)."""
    import warnings

    x = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = ndgrad.tensor(x).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(out.numpy(), torch.tensor(x).T.numpy())
    said = [str(w.message) for w in caught]
    if warning is None:
        assert said == []
    else:
        assert len(said) == 1 and said[0].startswith(warning), said


@pytest.mark.parametrize("grad", ["none", "some", "all", "no_grad"])
def test_ops_with_a_thousand_inputs(grad):
    """An op may take any number of inputs: a table sized 64 once broke cat of 64 tensors that
    did not need grad."""
    xs = [ndgrad.ones(2) * i for i in range(1000)]
    for i, x in enumerate(xs):
        if grad == "all" or grad in ("some", "no_grad") and i % 7 == 0:
            x.requires_grad_()
    ctx = ndgrad.no_grad() if grad == "no_grad" else contextlib.nullcontext()
    with ctx:
        c = ndgrad.cat(xs)
        s = ndgrad.stack(xs, 1)
        b = ndgrad.broadcast_tensors(*xs)
    assert c.shape == (2000,) and s.shape == (2, 1000) and len(b) == 1000
    assert c[1998].item() == 999 and s[1, 500].item() == 500
    recorded = grad in ("some", "all")
    assert c.requires_grad == recorded and s.requires_grad == recorded
    if recorded:
        (c.sum() + (s * 2).sum()).backward()
        for x in xs:
            if x.requires_grad:
                assert x.grad.tolist() == [3.0, 3.0]


# -- rearranging: flip(dims=), rot90, roll, unfold, repeat_interleave, diagonals ----------------
MORE_CASES = [
    ((2, 3, 4), lambda x: x.flip(dims=(0, 2))),
    ((2, 3, 4), lambda x: x.flip(dims=[-1])),
    ((2, 3), lambda x: x.flip(1)),
    ((3, 4), lambda x: x.rot90()),
    ((3, 4), lambda x: x.rot90(2)),
    ((3, 4), lambda x: x.rot90(-1)),
    ((2, 3, 4), lambda x: x.rot90(3, (2, 0))),
    ((2, 3, 4), lambda x: x.rot90(4, [1, 2])),
    ((5,), lambda x: x.roll(7)),
    ((5,), lambda x: x.roll(-12, 0)),
    ((2, 3), lambda x: x.roll((1, -4), (0, 1))),
    ((2, 3), lambda x: x.roll((1, 1), (1, 1))),  # the same dim twice: shifts add
    ((0, 3), lambda x: x.roll(2, 0)),
    ((), lambda x: x.roll(3)),
    ((7,), lambda x: x.unfold(0, 3, 1)),  # overlapping windows: gradients add up
    ((7,), lambda x: x.unfold(0, 2, 3)),  # gaps between windows: zero gradient there
    ((3, 6, 2), lambda x: x.unfold(1, 4, 2)),
    ((3, 6, 2), lambda x: x.unfold(-1, 2, 1)),
    ((4, 5), lambda x: x.unfold(0, 4, 4)),
    ((4, 5), lambda x: x.unfold(1, 0, 1)),
    ((), lambda x: x.unfold(0, 1, 1)),
    ((2, 3), lambda x: x.repeat_interleave(2)),
    ((2, 3), lambda x: x.repeat_interleave(3, dim=1)),
    ((2, 3), lambda x: x.repeat_interleave(0, 0)),
    ((), lambda x: x.repeat_interleave(2)),
    ((4,), lambda x: x.diag()),
    ((4,), lambda x: x.diag(2)),
    ((3, 5), lambda x: x.diag(-1)),
    ((3, 5), lambda x: x.diag(3)),
    ((2, 3), lambda x: x.diag_embed()),
    ((2, 3), lambda x: x.diag_embed(1, 0, 2)),
    ((2, 3), lambda x: x.diag_embed(-2, dim1=-1, dim2=0)),
    ((3,), lambda x: x.diag_embed()),
    ((2, 3), lambda x: x.diagflat()),
    ((2, 3), lambda x: x.diagflat(-2)),
    ((4, 4), lambda x: x.trace()),
    ((3, 5), lambda x: x.trace()),
    ((3, 4), lambda x: x.H),
    ((2, 3, 4), lambda x: x.mH),
    ((2, 3, 4), lambda x: x.adjoint()),
    ((2, 3, 4), lambda x: x.ravel()),
    ((2, 3, 4), lambda x: x.transpose(0, 2).ravel()),
    ((5, 4), lambda x: x.narrow_copy(0, 1, 3)),
    ((2, 3), lambda x: x.kron(x)),
    ((2, 3), lambda x: x.kron(x[0])),
    ((3,), lambda x: x.cross(x.roll(1), dim=0)),
    ((4, 3), lambda x: x.cross(x.flip(0) * 2, dim=-1)),
    ((3, 4), lambda x: x.cross(x[:, :1].expand(3, 4) + 1, dim=0)),
]


@pytest.mark.parametrize("case", MORE_CASES, ids=range(len(MORE_CASES)))
def test_more_shape_ops(case):
    shape, fn = case
    check_op([shape], fn)


@pytest.mark.parametrize("fn", [
    lambda lib, x, y: lib.kron(x, y), lambda lib, x, y: lib.cross(x, y, dim=1),
    lambda lib, x, y: lib.diagonal_scatter(x, y[0, :2, :3], 1, 1, 2),
    lambda lib, x, y: lib.diagonal_scatter(x, y[0, :, :2], dim1=0, dim2=2),
    lambda lib, x, y: x.diagonal_scatter(y[0, :, 1:3] * 2, -1, 2, 0),
], ids=range(5))
def test_two_tensor_shape_ops(fn):
    check_op([(2, 3, 4), (1, 3, 4)], fn)


def test_repeat_interleave_tensor_repeats():
    reps = np.array([2, 0, 3])
    check_op([(3, 2), reps], lambda lib, x, r: x.repeat_interleave(r, dim=0))
    check_op([(2, 3), reps], lambda lib, x, r: lib.repeat_interleave(x, r, 1, output_size=5))
    check_op([(3,), np.array(2)], lambda lib, x, r: x.repeat_interleave(r))
    check_op([(3,), np.array([2])], lambda lib, x, r: x.repeat_interleave(r))  # one for all
    t, n = (lib.repeat_interleave(lib.tensor(reps)) for lib in (torch, ndgrad))
    np.testing.assert_array_equal(n.numpy(), t.numpy())
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="repeats must have the same size as input"):
            lib.zeros(2, 4).repeat_interleave(lib.tensor([1, 2, 3]), dim=1)
        with pytest.raises(RuntimeError, match="Repeats must be non-negative"):
            lib.zeros(2).repeat_interleave(-1)
        with pytest.raises(RuntimeError, match="repeats can not be negative"):
            lib.zeros(2).repeat_interleave(lib.tensor([1, -1]))


def test_unfold_is_a_view_and_errors():
    x = ndgrad.arange(6.0)
    w = x.unfold(0, 2, 2)
    assert w._base is not None and np.shares_memory(w.numpy(), x.numpy())
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 6"):
            lib.arange(6.0).unfold(0, 7, 1)
        with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
            lib.arange(6.0).unfold(0, 2, 0)


@pytest.mark.filterwarnings("ignore:Using torch.cross without specifying the dim")
def test_diagonal_scatter_and_diag_errors():
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="expected src to have a size equal to the slice"):
            lib.diagonal_scatter(lib.zeros(3, 3), lib.zeros(2))
        with pytest.raises(RuntimeError, match=r"diag\(\): Supports 1D or 2D tensors. Got 3D"):
            lib.zeros(2, 2, 2).diag()
        with pytest.raises(RuntimeError, match="trace: expected a matrix"):
            lib.zeros(3).trace()
        with pytest.raises(RuntimeError, match="tensor.H is only supported on matrices"):
            _ = lib.zeros(3).H
        with pytest.raises(RuntimeError, match="expected rotation dims to be different"):
            lib.zeros(2, 2).rot90(1, (1, 1))
        with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
            lib.zeros(2, 2).roll((1, 2))
        with pytest.raises(RuntimeError, match="dimension of size 3|must have length 3"):
            lib.zeros(2, 2).cross(lib.zeros(2, 2))
        with pytest.raises(RuntimeError, match="must have length 3"):
            lib.zeros(3, 2).cross(lib.zeros(3, 2), dim=1)
    t, n = (lib.tensor(2.0).roll(1) for lib in (torch, ndgrad))
    assert n.item() == t.item()
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        ndgrad.zeros(2, 3).cross(ndgrad.zeros(2, 3))


# -- splitting --------------------------------------------------------------------------------
SPLIT_CASES = [
    ((5,), lambda lib, x: x.tensor_split(3)),
    ((5, 2), lambda lib, x: x.tensor_split([1, 3])),
    ((5, 2), lambda lib, x: x.tensor_split((-2,))),
    ((5, 2), lambda lib, x: x.tensor_split([3, 1])),  # decreasing: an empty piece
    ((5, 2), lambda lib, x: x.tensor_split([7, 9])),  # past the end: clamped
    ((5, 2), lambda lib, x: x.tensor_split([-7])),
    ((2, 5), lambda lib, x: x.tensor_split(lib.tensor([1, 4]), dim=1)),
    ((2, 5), lambda lib, x: lib.tensor_split(x, lib.tensor(2), 1)),  # 0-d: sections
    ((2, 6), lambda lib, x: lib.hsplit(x, 3)),
    ((6,), lambda lib, x: x.hsplit([2, 3])),
    ((4, 2), lambda lib, x: lib.vsplit(x, [1, 3])),
    ((2, 2, 4), lambda lib, x: x.dsplit(2)),
    ((5, 2), lambda lib, x: x.split_with_sizes([2, 3])),
    ((5, 2), lambda lib, x: lib.unsafe_split(x, 2)),
    ((5, 2), lambda lib, x: x.unsafe_chunk(2, 1)),
    ((6,), lambda lib, x: x.chunk(4)),
    ((0,), lambda lib, x: x.chunk(3)),
]


@pytest.mark.parametrize("case", SPLIT_CASES, ids=range(len(SPLIT_CASES)))
def test_splits(case):
    shape, fn = case
    check_op([shape], fn)


@pytest.mark.parametrize("fn,match", [
    (lambda lib: lib.tensor(1.0).tensor_split(1), "at least a 1-dimensional tensor"),
    (lambda lib: lib.zeros(5).tensor_split(0), "number of sections must be larger than 0"),
    (lambda lib: lib.zeros(5).tensor_split(lib.tensor([1.0])), "to have dtype of long"),
    (lambda lib: lib.zeros(5).tensor_split(lib.tensor([[1]])), "zero-dimensional or one-dim"),
    (lambda lib: lib.hsplit(lib.zeros(5), 3), "not divisible by the split_size 3"),
    (lambda lib: lib.vsplit(lib.zeros(5), 1), "requires a tensor with at least 2 dimension"),
    (lambda lib: lib.dsplit(lib.zeros(2, 2), 2), "requires a tensor with at least 3 dimension"),
    (lambda lib: lib.tensor(1.0).split(1), "split expects at least a 1-dimensional tensor"),
    (lambda lib: lib.tensor(1.0).chunk(1), "chunk expects at least a 1-dimensional tensor"),
    (lambda lib: lib.zeros(3).chunk(0), "greater than 0, got: 0"),
    (lambda lib: lib.zeros(5).split_with_sizes([2, 2]), "to sum exactly to 5"),
])
def test_split_errors(fn, match):
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match=match):
            fn(lib)
    with pytest.raises(IndexError, match="Dimension specified as 0 but tensor has no dim"):
        ndgrad.tensor(1.0).unbind(0)


# -- in-place view ops and triangles ------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x: (x * 1).squeeze_(), lambda x: (x * 1).squeeze_(1),
    lambda x: (x * 1).squeeze_((1, 3)), lambda x: (x * 1).unsqueeze_(0),
    lambda x: (x[0, :, :, 0] * 1).t_(), lambda x: (x * 1).transpose_(0, 2),
    lambda x: (x * 1).swapdims_(-1, 0), lambda x: (x[:, 0] * 1).tril_(),
    lambda x: (x[:, 0] * 1).triu_(-1),
], ids=range(9))
def test_inplace_view_ops(fn):
    check_op([(3, 1, 4, 1)], fn)


def test_inplace_view_ops_on_leaves():
    x = ndgrad.zeros(3, 1)
    assert x.squeeze_() is x and x.shape == (3,)
    assert x.unsqueeze_(0).shape == (1, 3) and x.t_().shape == (3, 1)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            lib.zeros(3, 1, requires_grad=True).squeeze_()
