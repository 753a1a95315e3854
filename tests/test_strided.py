"""as_strided, resize_, set_ and storages against torch: values, gradients (and double backward)
through as_strided geometries (overlapping, zero strides, offsets, views of views), writes
through as_strided views, in-place ops on them, storage identities, and the errors where ndgrad
refuses on purpose (ndgrad/tensor/storage.py says why)."""

from __future__ import annotations

import importlib
import re
import warnings

import numpy as np
import pytest
import torch
from helpers import check_op

import ndgrad

# (input shape, fn): every fn runs on torch and on ndgrad, and is differentiated twice
AS_STRIDED = [
    ((9,), lambda x: x.as_strided((3, 3), (3, 1))),
    ((9,), lambda x: x.as_strided((2, 2), (1, 2), 1)),
    ((10,), lambda x: x.as_strided((4, 3), (2, 1))),  # overlapping windows: gradients add up
    ((6,), lambda x: x.as_strided((3, 4), (0, 1), 2)),  # a zero stride
    ((5,), lambda x: x.as_strided((), (), 3)),
    ((5,), lambda x: x.as_strided((0, 3), (1, 1), 2)),
    ((4, 5), lambda x: x[1:].as_strided((2, 2), (5, 1), 0)),  # offsets count from the storage
    ((10,), lambda x: x[2:6].as_strided((3,), (1,), 0)),  # reaches outside the view: grad 0
    ((10,), lambda x: (x * 2)[2:6].as_strided((3,), (2,))),  # default offset: the view's
    ((4, 5), lambda x: x.t().as_strided((3, 2), (1, 5))),
    ((2, 3, 4), lambda x: x.permute(2, 0, 1).as_strided((4, 6), (1, 4))),
    ((3,), lambda x: x.expand(2, 3).as_strided((3,), (1,), 0)),  # an overlapping input
    ((3,), lambda x: x.expand(4, 3).as_strided((2, 3), (0, 1))),
    ((6,), lambda x: x.as_strided((3, 2), (2, 1)).as_strided((2,), (1,), 4)),
    ((9,), lambda x: x.as_strided((3, 3), (1, 1)).clone()),
]


@pytest.mark.parametrize("shape, fn", AS_STRIDED)
def test_as_strided_values_and_gradients(shape, fn):
    check_op([shape], fn)


def test_functions_and_copy():
    check_op([(9,)], lambda lib, x: lib.as_strided(x, (2, 2), (1, 2), 1))
    check_op([(9,)], lambda lib, x: lib.as_strided_copy(x, (2, 2), (1, 2), 1))
    y = ndgrad.as_strided_copy(ndgrad.arange(4.0), (2,), (1,))
    assert y._base is None and not np.shares_memory(y._data, ndgrad.arange(4.0)._data)


def test_is_a_view_both_ways():
    for lib in (torch, ndgrad):
        x = lib.arange(9.0)
        w = x.as_strided((2, 2), (1, 4), 1)
        w[0, 1] = 100.0  # writes through the view reach the base
        x[2] = -2.0  # and the other way
        assert x.tolist() == [0, 1, 2, 3, 4, 100, 6, 7, 8][:2] + [-2, 3, 4, 100, 6, 7, 8]
        assert w.tolist() == [[1, 100], [-2, 6]]
        assert w.storage_offset() == 1 and w.stride() == (1, 4)
        assert w._base is x
    v = ndgrad.arange(9.0)[3:]
    w = v.as_strided((2,), (1,), 0)  # a view's as_strided reaches all of its base
    assert w._base is v._base and w.tolist() == [0, 1]


# in-place ops through as_strided views of a non-leaf: gradients as torch's
def _mul_through_view(x):
    y = x.clone()
    v = y.as_strided((2, 2), (1, 3), 1)
    v.mul_(v.detach() + 2)
    return y


def _chain_of_inplace(x):
    y = x * 1.5
    v = y.as_strided((3,), (2,), 0)
    v.add_(1).mul_(x[:3])
    return y, v


def _view_of_the_view(x):
    y = x.clone()
    v = y[1:, 1:].as_strided((2, 2), (4, 1), 5)
    v[0].div_(3)
    return y, v * 1


def _base_changed_after(x):  # the view's history is rebuilt from the base's
    y = x.clone()
    v = y[2:].as_strided((2,), (2,), 1)
    y.mul_(x)
    return v * 2


def _as_strided_inplace(x):
    y = x.clone()
    y.as_strided_((2, 2), (1, 2), 1)
    return y * y


def _as_strided_inplace_of_view(x):
    y = x.clone()
    v = y[1:]
    v.as_strided_((3,), (2,), 2)
    v.sin_()
    return y, v


def _channels_last_base(lib, x):  # a base not laid out row-major
    y = (x * 1).contiguous(memory_format=lib.channels_last)
    v = y.as_strided((2, 3), (1, 2), 1)
    v.mul_(v.detach() + 1)
    return y, v


@pytest.mark.parametrize("fn, shape", [
    (_mul_through_view, (3, 3)), (_chain_of_inplace, (7,)), (_view_of_the_view, (4, 4)),
    (_base_changed_after, (8,)), (_as_strided_inplace, (6,)),
    (_as_strided_inplace_of_view, (8,)), (_channels_last_base, (1, 2, 2, 3))])
def test_inplace_through_as_strided_views(fn, shape):
    check_op([shape], fn)


def test_as_strided_inplace_geometry():
    for lib in (torch, ndgrad):
        c = lib.arange(9.0) * 1
        c.as_strided_((2, 2), (1, 3), 1)
        assert c.tolist() == [[1, 4], [2, 5]] and c.storage_offset() == 1
        assert c.as_strided((3,), (1,), 0).tolist() == [0, 1, 2]  # the storage stays whole
        x = lib.arange(9.0)
        v = x[1:]
        v.as_strided_((2,), (2,), 3)
        assert v.tolist() == [3, 5] and v._base is x and v.storage_offset() == 3
        leaf = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            leaf.as_strided_((2,), (1,))
        with lib.no_grad():
            leaf.as_strided_((2,), (1,), 1)
        (leaf * 2).sum().backward()
        assert leaf.is_leaf and leaf.grad.tolist() == [2, 2]


def test_as_strided_scatter():
    # torch's gradient with respect to x is wrong (tests/opinfo_skips.py): src's only
    check_op([(3, 3), (2, 2)], lambda lib, x, s: lib.as_strided_scatter(x, s, (2, 2), (1, 2), 1),
             requires_grad=[False, True])
    check_op([(3, 3), (2,)], lambda x, s: x.as_strided_scatter(s, (2,), (3,)),
             requires_grad=[False, True])
    x = ndgrad.randn(3, 3, dtype=ndgrad.float64, requires_grad=True)
    s = ndgrad.randn(2, 2, dtype=ndgrad.float64, requires_grad=True)

    def f(a, b):
        return ndgrad.as_strided_scatter(a, b, (2, 2), (1, 2), 1)

    assert ndgrad.autograd.gradcheck(f, (x, s)) and ndgrad.autograd.gradgradcheck(f, (x, s))
    g, = ndgrad.autograd.grad(f(x, s), x, ndgrad.ones(3, 3, dtype=ndgrad.float64))
    assert g.tolist() == [[1, 0, 0], [0, 0, 1], [1, 1, 1]]  # zero where src went
    # positions are those of torch's clone, laid out as x (here transposed)
    for lib in (torch, ndgrad):
        out = lib.as_strided_scatter(lib.arange(6.0).view(2, 3).t(), lib.tensor([10.0, 20.0]),
                                     (2,), (1,), 0)
        assert out.tolist() == [[10, 3], [20, 4], [2, 5]]
    with pytest.raises(RuntimeError, match="requiring a storage size of 1604 are out of bounds "
                                           "for storage of size 64"):
        ndgrad.as_strided_scatter(ndgrad.zeros(4, 4), ndgrad.zeros(2, 2), (2, 2), (200, 200))


def _raises_like_torch(fn, match):
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match=match):
            fn(lib)


def test_as_strided_errors():
    _raises_like_torch(lambda lib: lib.arange(9.0).as_strided((3, 3), (3, 1), 1), re.escape(
        "setStorage: sizes [3, 3], strides [3, 1], storage offset 1, and itemsize 4 requiring "
        "a storage size of 40 are out of bounds for storage of size 36"))
    _raises_like_torch(lambda lib: lib.arange(9.0)[5:].as_strided((5,), (1,)), "out of bounds")
    _raises_like_torch(lambda lib: lib.zeros(3).as_strided((3,), (-1,), 2),
                       re.escape("Negative strides are not supported at the moment, got "
                                 "strides: [-1]"))
    _raises_like_torch(lambda lib: lib.zeros(3).as_strided((3,), (1,), -1),
                       "invalid storage offset -1")
    _raises_like_torch(lambda lib: lib.zeros(3).as_strided((3,), (1, 1)),
                       "mismatch in length of strides and shape")
    for lib in (torch, ndgrad):  # nothing to read: any offset
        assert lib.zeros(3).as_strided((0, 2), (1, 1), 100).shape == (0, 2)


def test_view_over_gaps_refuses_a_recorded_inplace_op():
    """A base that is a strided window of a NumPy array has gaps in its storage: an
    as_strided view may read them, but autograd cannot place an in-place write there."""
    base = ndgrad.from_numpy(np.arange(12.0).reshape(3, 4)[:, :2])
    assert base.as_strided((3,), (1,), 1).tolist() == [1, 2, 3]  # as torch's from_numpy
    v = base.as_strided((3,), (1,), 1)
    with pytest.raises(RuntimeError, match="not elements of its base"):
        v.mul_(ndgrad.ones(3, dtype=ndgrad.float64, requires_grad=True))


def test_storages():
    for lib in (torch, ndgrad):
        x = lib.arange(6.0)
        views = [x[1:], x.view(2, 3).t(), x.as_strided((2,), (2,), 1), x.detach()]
        ptr = x.untyped_storage().data_ptr()
        assert all(v.untyped_storage().data_ptr() == ptr for v in views)
        assert x.untyped_storage() == x[2:].untyped_storage()
        assert hash(x.untyped_storage()) == hash(x[2:].untyped_storage())
        assert x.clone().untyped_storage().data_ptr() != ptr
        assert x[1:].untyped_storage().nbytes() == 24 and x[1:].storage_offset() == 1
        assert lib.is_storage(x.untyped_storage()) and not lib.is_storage(x)
        assert x[1:].is_set_to(x[1:]) and not x[1:].is_set_to(x) and x.is_set_to(x.detach())
        u = lib.arange(2.0).untyped_storage()
        assert (u.size(), len(u), u.nbytes(), u.element_size()) == (8, 8, 8, 1)
        assert u.tolist() == [0, 0, 0, 0, 0, 0, 128, 63] and u[7] == 63
        assert u[4:8].tolist() == [0, 0, 128, 63] and u[4:8].data_ptr() == u.data_ptr() + 4
        with pytest.raises(IndexError, match="index 8 out of range for storage of size 8"):
            u[8]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = lib.arange(4).storage()
        assert (s.size(), len(s), s.element_size(), s.nbytes()) == (4, 4, 8, 32)
        assert s.dtype == lib.int64 and s[1] == 1 and s[-1] == 3 and s.tolist() == [0, 1, 2, 3]
        assert s.untyped().data_ptr() == s.data_ptr() and str(s.device) == "cpu"
        s[0] = 7  # shares the tensor's memory
        with pytest.raises(RuntimeError, match="slices are only supported"):
            s[1:2]
    t = ndgrad.arange(3.0)
    t.untyped_storage()[0:4] = 0xFF  # the bytes of element 0
    assert np.isnan(t[0].item())


def test_typed_storage_warns_as_torch(monkeypatch):
    st = importlib.import_module("ndgrad.tensor.storage")  # (ndgrad.tensor is the function)
    monkeypatch.setattr(st, "_warned", False)
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        ndgrad.zeros(2).storage()


def test_resize():
    for lib in (torch, ndgrad):
        x = lib.arange(6.0)
        x.resize_(2, 2)  # the first elements, row-major
        assert x.tolist() == [[0, 1], [2, 3]] and x._version == 1
        x.resize_(3, 3)  # grows: the kept elements stay (torch leaves the rest uninitialised)
        assert x.view(-1)[:4].tolist() == [0, 1, 2, 3] and x.shape == (3, 3)
        x.resize_(3, 3)
        assert x._version == 2  # no change, no bump
        b = lib.arange(9.0)
        v = b[2:4]
        v.resize_(2, 2)  # a view keeps its place in its base's storage
        assert v.tolist() == [[2, 3], [4, 5]] and v._base is b and v.storage_offset() == 2
        v[0, 0] = 100.0
        assert b[2] == 100
        e = lib.empty(0)
        e.resize_(4).fill_(1.0)
        e.resize_(8)
        assert e[:4].tolist() == [1, 1, 1, 1]
        assert lib.zeros(3).resize_as_(lib.zeros(2, 2)).shape == (2, 2)
        assert lib.zeros(2).resize_((1, 2)).shape == (1, 2)
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            lib.zeros(2, requires_grad=True).resize_(3)
        with lib.no_grad(), pytest.raises(RuntimeError, match="cannot resize variables"):
            lib.zeros(2, requires_grad=True).resize_(1)
        held = np.zeros(3)
        with pytest.raises(RuntimeError, match="Trying to resize storage that is not resizable"):
            lib.from_numpy(held).resize_(5)  # its memory is the NumPy array's
    assert ndgrad.resize_as_(ndgrad.zeros(4), ndgrad.zeros(2)).shape == (2,)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        ndgrad.zeros(2).resize_(2, -1)


def test_resize_refused_where_numpy_memory_cannot_follow():
    """torch reallocates a storage for every tensor that shares it; a NumPy array cannot grow
    under the arrays that view it, so ndgrad refuses rather than split them apart."""
    b = ndgrad.arange(9.0)
    v = b[2:4]
    with pytest.raises(RuntimeError, match="storage of a view"):
        v.resize_(10)
    y = ndgrad.zeros(3)
    w = y.view(3, 1)
    with pytest.raises(RuntimeError, match="not resizable: other arrays"):
        y.resize_(5)
    with pytest.raises(RuntimeError, match="whose memory other tensors view"):
        y.resize_(2)  # a base's layout cannot change under its views
    del w
    y.resize_(5)  # nothing views it any more
    d = ndgrad.zeros(3)
    alias = d.detach()
    with pytest.raises(RuntimeError, match="not resizable"):
        d.resize_(4)
    assert alias.shape == (3,)


def test_set():
    for lib in (torch, ndgrad):
        s = lib.arange(5.0)
        z = lib.zeros(2)
        z.set_(s[1:])
        assert z.tolist() == [1, 2, 3, 4] and z.storage_offset() == 1 and z.is_set_to(s[1:])
        assert z.untyped_storage().data_ptr() == s.untyped_storage().data_ptr()
        z[0] = 50.0
        assert s[1] == 50
        z2 = lib.zeros(1)
        z2.set_(s.untyped_storage(), 2, (2,), (2,))
        assert z2.tolist() == [2, 4]
        z3 = lib.zeros(1)
        z3.set_(s, 1, (2,), (1,))
        assert z3.tolist() == [50, 2]
        z4 = lib.zeros(3)
        z4.set_()
        assert z4.shape == (0,) and z4.untyped_storage().nbytes() == 0
        with pytest.raises(RuntimeError, match="Could not set tensor of type float to a tensor "
                                               "of type double"):
            lib.zeros(1, dtype=lib.float64).set_(s)
        g = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            g.set_(lib.zeros(2))
        with lib.no_grad():
            zz = lib.zeros(2)
            zz.set_(g)
        assert not zz.requires_grad and zz.is_leaf
    # torch records a node whose backward is not implemented; ndgrad refuses at once
    with pytest.raises(RuntimeError, match="does not record set_"):
        ndgrad.zeros(2).set_(ndgrad.ones(2, requires_grad=True))
    x = ndgrad.zeros(6)
    v = x[:2]
    with pytest.raises(RuntimeError, match="whose memory other tensors view"):
        x.set_(ndgrad.ones(2))
    assert v.shape == (2,)


# (make the tensors from one base ``b`` of 24 elements): each list is deep-copied at once
DEEPCOPIES = [
    lambda b: [b[3:7]],  # a view alone: its offset, and the whole storage copied
    lambda b: [b[2:9:2], b],  # a view before its base: both share the copied storage
    lambda b: [b, b.view(4, 6)[1:, ::2].t(), b[5:]],
    lambda b: [b.view(2, 3, 4).permute(2, 0, 1)[1], b.as_strided((3, 3), (1, 5), 4)],
    lambda b: [b[:0], b],  # an empty view
    lambda b: [b.view(4, 6).t().contiguous()[2:]],  # a view of another base
]


@pytest.mark.parametrize("make", DEEPCOPIES)
def test_deepcopy_keeps_views_in_one_copied_storage(make):
    import copy
    out = {}
    for lib in (torch, ndgrad):
        orig = make(lib.arange(24.0))
        new = copy.deepcopy(orig)
        for t in new:  # the copy's memory is its own
            assert t.untyped_storage().data_ptr() != orig[0].untyped_storage().data_ptr()
        for i, t in enumerate(new):  # a write through one copy shows in every copy sharing
            if t.numel():  # its storage, and not in the originals
                t[(0,) * t.dim()] = -1.0 - i
        out[lib] = [(t.tolist(), t.storage_offset(), t.stride(), len(t.untyped_storage()),
                     [t.untyped_storage().data_ptr() == u.untyped_storage().data_ptr()
                      for u in new]) for t in new] + [[t.tolist() for t in orig]]
    assert out[ndgrad] == out[torch]


def test_deepcopy_of_a_leaf_copies_grad_and_attributes_not_history():
    import copy
    for lib in (torch, ndgrad):
        p = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        p.grad = lib.tensor([4.0, 5.0, 6.0])
        p.note = {"step": [1]}
        q = copy.deepcopy(p)
        assert q.requires_grad and q.is_leaf and q.note == {"step": [1]}
        assert q.note is not p.note and q.grad.tolist() == [4.0, 5.0, 6.0]
        (q * q).sum().backward()  # q is a leaf of its own: its gradient adds to its .grad
        assert q.grad.tolist() == [6.0, 9.0, 12.0] and p.grad.tolist() == [4.0, 5.0, 6.0]
        with pytest.raises(RuntimeError, match="graph leaves"):
            copy.deepcopy(p * 2)
