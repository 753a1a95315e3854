"""Tensor: a NumPy array plus what autograd needs (requires_grad, grad, grad_fn).

The class is assembled from parts that mirror ``ndgrad/ops``: ``conversion.py`` (attributes,
dtype and device changes), ``elementwise.py`` (operators with type promotion, math, in-place
forms), ``reduce.py``, ``shape.py``, ``index.py``, ``sort.py``, ``linalg.py``, ``random.py`` and
``special.py``.
This file is the core: the constructor, the autograd attributes (requires_grad, grad, grad_fn,
hooks, backward, detach), Python's protocols (len, iter, bool, int, format) and repr. Methods are
one line when they call a primitive (``ndgrad/ops``) and a few lines when they are composites built
from other methods: a composite needs no backward code, autograd derives it.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._device import check_device
from ndgrad._tensor_str import tensor_repr
from ndgrad.autograd import engine
from ndgrad.autograd.engine import backward, run_backward
from ndgrad.autograd.function import set_tensor_class
from ndgrad.autograd.grad_mode import state as _grad_state
from ndgrad.autograd.inplace import inplace, refresh_view
from ndgrad.tensor.base import Size, _bool, _float, _int
from ndgrad.tensor.complex import ComplexMixin
from ndgrad.tensor.conversion import ConversionMixin, as_array
from ndgrad.tensor.elementwise import ElementwiseMixin
from ndgrad.tensor.index import IndexMixin
from ndgrad.tensor.inplace import InplaceMixin
from ndgrad.tensor.linalg import LinalgMixin
from ndgrad.tensor.logic import LogicMixin
from ndgrad.tensor.random import RandomMixin
from ndgrad.tensor.reduce import ReduceMixin
from ndgrad.tensor.shape import ShapeMixin
from ndgrad.tensor.sort import SortMixin
from ndgrad.tensor.sparse import SparseMixin
from ndgrad.tensor.special import SpecialMixin
from ndgrad.tensor.spectral import SpectralMixin
from ndgrad.utils.hooks import RemovableHandle

_new = object.__new__


class Tensor(ConversionMixin, ElementwiseMixin, LogicMixin, InplaceMixin, ReduceMixin, ShapeMixin,
             IndexMixin, SortMixin, LinalgMixin, RandomMixin, SpecialMixin, ComplexMixin,
             SpectralMixin, SparseMixin):
    """An n-dimensional array that records the ops applied to it, for reverse-mode autograd."""

    def __init__(self, *args: Any, dtype: Any = None, device: Any = None,
                 requires_grad: _bool = False) -> None:
        """torch.Tensor's constructor: ``Tensor(data)`` copies lists and arrays as the default
        float dtype (``Tensor([1, 2])`` is float32, unlike ``tensor``), ``Tensor(t)`` shares
        ``t``'s data, ``Tensor(2, 3)`` and ``Tensor(Size)`` make a (zero-filled) tensor of that
        size, ``Tensor()`` an empty one. ``dtype``/``requires_grad`` are ndgrad extensions."""
        nd = _dtype.to_np(dtype) if dtype is not None else _dtype.default_float()
        check_device(device)  # raises for anything but the CPU
        if len(args) == 1 and isinstance(args[0], Tensor):
            src = args[0]
            # a new array object over the same memory: saved inputs are told apart by identity
            self._data = src._data.view() if dtype is None else src._data.astype(nd)
            if dtype is None:  # an alias: in-place changes bump one version
                if src._vc is None:
                    src._vc = [0]
                self._vc = src._vc
        elif not args or isinstance(args[0], Size) and len(args) == 1 or all(
                isinstance(a, builtins.int | np.integer) and not isinstance(a, builtins.bool)
                for a in args):
            shape = tuple(args[0]) if args and isinstance(args[0], Size) else (
                tuple(builtins.int(a) for a in args) if args else (0,))
            self._data = np.zeros(shape, nd)
        elif len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
            self._data = np.array(as_array(args[0], nd), copy=True)
        else:
            raise TypeError(f"Tensor() takes data (a list or an ndarray), another Tensor or "
                            f"sizes (ints), got ({', '.join(type(a).__name__ for a in args)}); "
                            f"for a scalar use ndgrad.tensor(value)")
        if requires_grad:
            self.requires_grad = True
        if _grad_state.inference:
            self._inference = True

    @staticmethod
    def _make(arr: np.ndarray) -> Tensor:
        """Wrap an array without copying: the fast path for results. NumPy gives scalars for
        0-d results; a tensor always holds an ndarray (it can be written into)."""
        t = _new(Tensor)
        t._data = arr if type(arr) is np.ndarray else np.asarray(arr)
        if _grad_state.inference:  # made in inference_mode (is_inference)
            t._inference = True
        return t

    # -- autograd attributes ----------------------------------------------------------------
    @property
    def grad_fn(self) -> Any:
        """The node that made this tensor; None for leaves. A view whose base changed in place
        since gets its history rebuilt from the base's first (ndgrad/autograd/inplace.py)."""
        if self._base is not None and self._view_version != self._vc[0]:  # type: ignore[index]
            refresh_view(self)
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, fn: Any) -> None:
        self._grad_fn = fn

    @property
    def output_nr(self) -> int:
        """Which output of ``grad_fn`` this tensor is (0 for leaves)."""
        return self._output_nr

    def _refresh_view(self) -> None:
        refresh_view(self)

    @property
    def requires_grad(self) -> _bool:
        """A view requires grad when its base does, as in torch (even one made under no_grad,
        whose history is none)."""
        return self._requires_grad or self._base is not None and self._base._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: _bool) -> None:
        if self.grad_fn is not None:
            if value:
                return
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(f"only Tensors of floating point and complex dtype can require "
                               f"gradients (got {self.dtype})")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: _bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"grad of type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size: expected "
                                   f"{list(self.shape)}, got {list(value.shape)}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype {value.dtype} to "
                                   f"a tensor of dtype {self.dtype}: they must match")
        self._grad = value

    @property
    def is_leaf(self) -> _bool:
        return self.grad_fn is None

    def is_inference(self) -> _bool:
        """Whether this tensor was made inside ``inference_mode()`` (or is a view of one that
        was), as torch's inference tensors. ndgrad marks them only: it does not forbid using
        them in autograd or changing them in place outside inference_mode, as torch does."""
        return self._inference

    @property
    def _version(self) -> _int:
        return self._vc[0] if self._vc is not None else 0

    def _bump_version(self) -> None:
        if self._vc is None:
            self._vc = [0]
        self._vc[0] += 1

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self) -> _bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
            engine.leaf_hooks_used = True  # backward now runs hooked leaves as soon as ready
        else:
            node = self.grad_fn
            if node._pre_hooks is None:
                node._pre_hooks = {}
            hooks = node._pre_hooks.setdefault(self._output_nr, {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]
                                           ) -> RemovableHandle:
        """Call ``hook(self)`` after a backward has added this leaf's gradient to ``.grad``
        (it may read and change ``.grad``; autograd.grad, which fills no ``.grad``, skips it)."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = {}
        engine.leaf_hooks_used = True  # backward now runs hooked leaves as soon as ready
        handle = RemovableHandle(self._post_accumulate_hooks)
        self._post_accumulate_hooks[handle.id] = hook
        return handle

    def backward(self, gradient: Tensor | None = None, retain_graph: _bool | None = None,
                 create_graph: _bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ndgrad.autograd)."""
        if inputs is None:  # the usual call goes straight to the engine
            if retain_graph is None:
                retain_graph = create_graph
            run_backward((self,), (gradient,), retain_graph, create_graph)
        else:
            backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """The same data (shared memory and version), cut off from the graph. Its array is a
        new object (``view()``): backward tells saved inputs apart by array identity."""
        t = Tensor._make(self._data.view())
        if self._vc is None:
            self._vc = [0]
        t._vc = self._vc
        if t._inference is not self._inference:  # a view: an inference tensor if self is
            t._inference = self._inference
        return t

    def detach_(self) -> Tensor:
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn, self._requires_grad = None, False
        return self

    @property
    def data(self) -> Tensor:
        """The same storage as a tensor that does not require grad (PyTorch's ``.data``), in a
        new array object, as ``detach``."""
        return Tensor._make(self._data.view())

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data.view() if isinstance(value, Tensor) else as_array(value)

    def __len__(self) -> _int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> _bool:
        if self._data.size != 1:
            many = "no values" if self._data.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {many} is ambiguous")
        return builtins.bool(self._data.item())

    def is_nonzero(self) -> _bool:
        """Whether a one-element tensor is not zero (``bool(t)``, which raises otherwise)."""
        return self.__bool__()

    def __float__(self) -> _float:
        return builtins.float(self.item())

    def __int__(self) -> _int:
        return builtins.int(self.item())

    def __index__(self) -> _int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return builtins.int(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __repr__(self) -> str:
        if self._sparse_dim is not None:
            return self._sparse_repr()
        return tensor_repr(self._data, str(self.dtype), _dtype.default_float(), self.grad_fn,
                           self._requires_grad)

    def _inplace(self, compute: Callable[[], Tensor], ufunc: Any = None, arg: Any = None,
                 reads: tuple[Any, ...] | None = None, disjoint: bool = False,
                 overlap_ok: bool = False) -> Tensor:
        """Overwrite self with ``compute()`` (see ndgrad/autograd/inplace.py)."""
        return inplace(self, compute, ufunc, arg, reads, disjoint, overlap_ok)


set_tensor_class(Tensor)
