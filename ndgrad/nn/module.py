"""Module: the base class of every layer and model, as torch.nn.Module.

A Module keeps three ordered registries filled by ``__setattr__``: ``_parameters`` (Parameters),
``_buffers`` (Tensors that are state but not learned, e.g. BatchNorm's running mean) and
``_modules`` (child Modules). Everything else (parameters(), state_dict(), train(), repr) walks
these registries in definition order, so names and order match PyTorch's.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad._device import check_device
from ndgrad.nn.hooks import (
    ModuleHooksMixin,
    _call_with_hooks,
    _global_buffer_registration_hooks,
    _global_call_hooks,
    _global_module_registration_hooks,
    _global_parameter_registration_hooks,
    _registration_hooks,
)
from ndgrad.nn.parameter import Buffer, Parameter
from ndgrad.tensor import Tensor


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match."""

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s: str, num_spaces: int) -> str:
    """Indent every line but the first (nested module reprs), leaving blank lines empty."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    rest = [(num_spaces * " ") + line if line.strip() else "" for line in lines]
    return first + "\n" + "\n".join(rest)


def _typename(value: Any) -> str:
    if isinstance(value, Tensor):
        return "ndgrad." + type(value).__name__
    module = type(value).__module__
    name = type(value).__qualname__
    return name if module in ("builtins", "__main__") else f"{module}.{name}"


class Module(ModuleHooksMixin):
    """Base class for all neural network modules; subclasses define ``forward``.

    Assigning a Parameter, a Module or (through ``register_buffer``) a Tensor as an attribute
    registers it, so that ``parameters()``, ``state_dict()``, ``train()`` and ``to()`` see it.
    """

    training: bool
    # values may be None (e.g. a Linear without bias): Any keeps call sites unchecked
    _parameters: dict[str, Any]
    _buffers: dict[str, Any]
    _non_persistent_buffers_set: set[str]
    _modules: dict[str, Any]
    _forward_hooks: dict[int, Callable[..., Any]]
    _forward_pre_hooks: dict[int, Callable[..., Any]]
    # backward hooks, in the instance's own dicts once one is registered (shared empty ones
    # until then, never written): full ones (register_full_backward_hook) or, not both, old-style
    # ones on the output's grad_fn (register_backward_hook)
    _backward_hooks: dict[int, Callable[..., Any]] = {}
    _backward_pre_hooks: dict[int, Callable[..., Any]] = {}
    _is_full_backward_hook: bool | None = None
    _version = 1
    call_super_init = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments "
                            f"{args or ''}{kwargs or ''}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = {}
        d["_forward_pre_hooks"] = {}

    def forward(self, *input: Any) -> Any:
        """Compute the output; every subclass overrides this."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The fast path, with no hooks, reads the instance's dict: each self.attribute costs
        # a slow lookup, as Module defines __getattr__ (Identity's call: 340 -> 315 ns). A
        # backward hook dict (even emptied) or a global hook takes the slow path.
        d = self.__dict__
        try:
            hooked = (d["_forward_hooks"] or d["_forward_pre_hooks"] or "_backward_hooks" in d
                      or "_backward_pre_hooks" in d or _global_call_hooks)
        except KeyError:  # Module.__init__ did not run: the slow path says what is missing
            hooked = True
        if not hooked:
            return self.forward(*args, **kwargs)
        return _call_with_hooks(self, args, kwargs)

    # -- registration ------------------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. a missing bias) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            f"(ndgrad.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as a "
                             f"function of another Tensor, compute the value in the forward() "
                             f"method.")
        if param is not None:
            param = _registration_hooks(_global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not learned (e.g. running statistics); ``persistent=False`` keeps it
        out of ``state_dict()``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(ndgrad Tensor or None required)")
        if isinstance(tensor, Buffer):  # the hooks see a Tensor, as torch's
            tensor = Tensor._make(tensor._data.view())  # its own array object, as detach
        tensor = _registration_hooks(_global_buffer_registration_hooks, self, name, tensor)
        if isinstance(tensor, Buffer | Parameter):
            tensor = Tensor._make(tensor._data.view())
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (``self.name = module`` does the same)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._check_name(name, "module")
        self._modules[name] = _registration_hooks(_global_module_registration_hooks, self, name,
                                                  module)

    register_module = add_module

    @staticmethod
    def _check_name(name: str, kind: str) -> None:
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path such as ``"features.0"``."""
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path such as ``"bn.running_mean"``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._buffers:
            if not hasattr(mod, name):
                raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]  # type: ignore[no-any-return]

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Put ``module`` at a dotted path such as ``"features.0"`` (its parent must exist;
        with ``strict``, so must the module it replaces)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        parent_path, _, name = target.rpartition(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, d, self._buffers, self._modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(ndgrad.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        else:
            modules = d.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                self._remove_from(name, d, self._parameters, self._buffers)
                modules[name] = _registration_hooks(_global_module_registration_hooks, self,
                                                    name, value)
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{_typename(value)}' as child module "
                                    f"'{name}' (ndgrad.nn.Module or None expected)")
                modules[name] = _registration_hooks(_global_module_registration_hooks, self,
                                                    name, value)
            else:
                buffers = d.get("_buffers")
                if isinstance(value, Buffer) or (buffers is not None and name in buffers):
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                        f"(ndgrad.nn.Buffer, ndgrad.Tensor or None expected)")
                    persistent = (value.persistent if isinstance(value, Buffer)
                                  else name not in self._non_persistent_buffers_set)
                    if isinstance(value, Buffer):
                        self._remove_from(name, d, self._parameters, self._modules)
                    self.register_buffer(name, value, persistent)
                else:
                    object.__setattr__(self, name, value)

    def _remove_from(self, name: str, *dicts: dict[str, Any]) -> None:
        for d in dicts:
            if name in d:
                del d[name]
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the registries are not in __dict__ itself.
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_buffers"]:
                return d["_buffers"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        attrs = list(dir(type(self))) + list(self.__dict__)
        attrs += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(a for a in set(attrs) if not a[0].isdigit())

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_forward_hooks", {})
        self.__dict__.setdefault("_forward_pre_hooks", {})
        self.__dict__.setdefault("_non_persistent_buffers_set", set())

    # -- iteration ---------------------------------------------------------------------------
    def _named_members(self, get_members: Callable[[Module], Any], prefix: str = "",
                       recurse: bool = True, remove_duplicate: bool = True
                       ) -> Iterator[tuple[str, Any]]:
        memo: set[int] = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter of this module (and its descendants), each shared one once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in definition order; a tied parameter counts once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct children, each module once."""
        memo: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and all descendants, depth first, with dotted names ('' for self)."""
        if memo is None:
            memo = set()
        # Explicit stack (children pushed in reverse) gives the same pre-order as recursion.
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            kids = [(name + ("." if name else "") + k, m)
                    for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(kids))

    # -- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics) recursively."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero in place, with ``set_to_none=False``) every parameter's ``.grad``."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g._data[...] = 0

    # -- functions over the module tree ------------------------------------------------------
    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and on self, e.g. for init."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_arrays(self, fn: Callable[[np.ndarray], np.ndarray]) -> Module:
        """Replace each parameter's and buffer's array with ``fn(array)``, keeping the objects
        (so an optimizer built before still holds the same Parameters)."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is None:
                    continue
                p._data = fn(p._data)
                if p._grad is not None:
                    p._grad._data = fn(p._grad._data)
            for b in m._buffers.values():
                if b is not None:
                    b._data = fn(b._data)
        return self

    def to_empty(self, *, device: Any, recurse: bool = True) -> Module:
        """Give every parameter and buffer new, uninitialized memory of its shape and dtype
        (the same Parameter objects), as torch after building a model on another device; then
        load or initialize them."""
        check_device(device)
        for m in self.modules() if recurse else [self]:
            for p in m._parameters.values():
                if p is not None:
                    p._data = np.empty_like(p._data)
                    if p._grad is not None:
                        p._grad._data = np.empty_like(p._grad._data)
            for b in m._buffers.values():
                if b is not None:
                    b._data = np.empty_like(b._data)
        return self

    def get_extra_state(self) -> Any:
        """Override (with ``set_extra_state``) to keep more than tensors in ``state_dict()``:
        what it returns is saved under ``"_extra_state"``."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called: override get_extra_state and set_extra_state together.")

    def set_extra_state(self, state: Any) -> None:
        """Restore what ``get_extra_state`` returned, from a loaded state_dict."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called: override get_extra_state and set_extra_state together.")

    def _has_extra_state(self) -> bool:
        return type(self).get_extra_state is not Module.get_extra_state

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """torch's in-place ``model.compile(...)`` (arguments as ``ndgrad.compile``'s): ndgrad
        has no compiler, so the module stays as it is, and its state_dict keys keep no
        ``_orig_mod.`` prefix, as with torch's in-place form."""
        from ndgrad._runtime import compile as compile_
        compile_(lambda: None, *args, **kwargs)  # the arguments are checked as compile's

    def share_memory(self) -> Module:
        """Move every parameter (with its ``.grad``) and buffer into shared memory, in place (the
        same Parameter objects, so optimizers keep working): processes started afterwards then
        train this one model (Hogwild). As torch's ``_apply(lambda t: t.share_memory_())``."""
        from ndgrad.multiprocessing._shm import share_tensors

        tensors: list[Tensor] = []
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    tensors.append(p)
                    if p._grad is not None:
                        tensors.append(p._grad)
            tensors.extend(b for b in m._buffers.values() if b is not None)
        share_tensors(tensors)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)`` casts floating point parameters and buffers; ``to('cpu')`` is a no-op
        (ndgrad runs on the CPU only)."""
        from ndgrad.tensor import to_args_dtype

        target = to_args_dtype(args, kwargs)
        if target is None:
            return self
        nd = _dtype.to_np(target)
        if nd.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                            f"desired dtype={target}")
        return self._apply_arrays(lambda a: a.astype(nd) if a.dtype.kind == "f" else a)

    def cpu(self) -> Module:
        return self

    def cuda(self, device: Any = None) -> Module:
        """Raises: there is no CUDA device (ndgrad runs on the CPU only)."""
        check_device("cuda" if device is None or isinstance(device, int) else device)
        return self

    def float(self) -> Module:
        return self.to(_dtype.float32)

    def double(self) -> Module:
        return self.to(_dtype.float64)

    def half(self) -> Module:
        return self.to(_dtype.float16)

    def type(self, dst_type: Any) -> Module:
        return self.to(dst_type)

    # -- state_dict --------------------------------------------------------------------------
    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str,
                            keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if self._has_extra_state():
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Tensor]:
        """An ordered dict of every parameter and persistent buffer, by dotted name, as detached
        tensors sharing memory with the module (PyTorch's keys, e.g. ``0.weight``,
        ``bn.running_mean``, ``bn.num_batches_tracked``)."""
        if args:  # PyTorch's deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        # pre-order: a module's own entries, then each child's, as PyTorch; a module's post
        # hooks run once its children's entries are in (the entry marked "post")
        stack: list[tuple[str, Module, bool]] = [(prefix, self, False)]
        while stack:
            pre, module, post = stack.pop()
            hooks = module.__dict__.get("_state_dict_hooks")
            if post:
                for hook in list(hooks.values()):  # type: ignore[union-attr]
                    if hook(module, destination, pre, {"version": module._version}) is not None:
                        raise RuntimeError("state_dict post-hook must return None")
                continue
            for hook in list(module.__dict__.get("_state_dict_pre_hooks", {}).values()):
                hook(module, pre, keep_vars)
            module._save_to_state_dict(destination, pre, keep_vars)
            if hooks:
                stack.append((pre, module, True))
            kids = [(pre + name + ".", m, False) for name, m in module._modules.items()
                    if m is not None]
            stack.extend(reversed(kids))
        return destination

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str], assign: bool = False) -> None:
        """Copy this module's own entries (not its children's) from ``state_dict``; with
        ``assign``, take the checkpoint's arrays instead (new Parameter objects)."""
        local_state = {k: v for k, v in self._parameters.items() if v is not None}
        for k, v in self._buffers.items():
            if v is not None and k not in self._non_persistent_buffers_set:
                local_state[k] = v
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                arr = value._data
            elif isinstance(value, np.ndarray | np.generic) or (hasattr(value, "__array__")
                                                                 and hasattr(value, "shape")):
                arr = np.asarray(value.detach() if hasattr(value, "detach") else value)
            else:
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  f'ndgrad.Tensor or Tensor-like object from checkpoint but '
                                  f'received {type(value)}')
                continue
            if param._data.ndim == 0 and arr.shape == (1,):
                arr = arr[0]
            if arr.shape != param._data.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{_size(arr.shape)} from checkpoint, the shape in current "
                                  f"model is {_size(param._data.shape)}.")
                continue
            if assign:
                if name in self._parameters:
                    self._parameters[name] = Parameter(Tensor._make(arr), param.requires_grad)
                else:
                    self._buffers[name] = Tensor._make(arr)
                continue
            try:
                np.copyto(param._data, arr, casting="unsafe")
            except Exception as ex:  # e.g. a read-only array
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions '
                                  f'in the model are {_size(param._data.shape)} and whose '
                                  f'dimensions in the checkpoint are {_size(arr.shape)}, an '
                                  f'exception occurred : {ex.args}.')
                continue
            param._bump_version()
        extra = prefix + "_extra_state"
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra in state_dict:
                self.set_extra_state(state_dict[extra])
            elif strict:
                missing_keys.append(extra)
        elif strict and extra in state_dict:
            unexpected_keys.append(extra)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra:
                    input_name = key[len(prefix):].split(".", 1)
                    if len(input_name) > 1:
                        if input_name[0] not in self._modules:
                            unexpected_keys.append(key)
                    elif input_name[0] not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module's arrays, in place
        (with ``assign=True``, use the checkpoint's arrays as the new parameters and buffers).

        With ``strict=True`` the keys must match ``state_dict()``'s exactly; otherwise, and on
        any shape mismatch, a RuntimeError lists every problem at once, as PyTorch's does.
        Returns ``(missing_keys, unexpected_keys)``."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        state_dict = OrderedDict(state_dict)  # BatchNorm may add entries; keep the caller's intact
        missing_keys: list[str] = []
        unexpected_keys: list[str] = []
        error_msgs: list[str] = []
        stack: list[tuple[str, Module]] = [("", self)]
        loaded: list[Module] = []
        while stack:
            pre, module = stack.pop()
            loaded.append(module)
            # pre-hooks edit the shared dict before it is split, so renamed keys reach children
            for hook in list(module.__dict__.get("_load_state_dict_pre_hooks", {}).values()):
                hook(state_dict, pre, {}, strict, missing_keys, unexpected_keys, error_msgs)
            child_sd = {k: v for k, v in state_dict.items() if k.startswith(pre)} if pre \
                else state_dict
            module._load_from_state_dict(child_sd, pre, True, missing_keys, unexpected_keys,
                                         error_msgs, assign)
            kids = [(pre + name + ".", m) for name, m in module._modules.items() if m is not None]
            stack.extend(reversed(kids))
        keys = _IncompatibleKeys(missing_keys, unexpected_keys)
        for module in reversed(loaded):  # children before their parents, as torch
            for hook in list(module.__dict__.get("_load_state_dict_post_hooks", {}).values()):
                if hook(module, keys) is not None:
                    raise RuntimeError("load_state_dict post-hook must return None")
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        return keys

    # -- repr --------------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The one-line description inside ``Name(...)``; layers override it."""
        return ""

    def __repr__(self) -> str:
        extra_lines = []
        extra_repr = self.extra_repr()
        if extra_repr:
            extra_lines = extra_repr.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            mod_str = _addindent(repr(module), 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = extra_lines + child_lines
        main_str = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main_str += extra_lines[0]
            else:
                main_str += "\n  " + "\n  ".join(lines) + "\n"
        return main_str + ")"


def _size(shape: tuple[int, ...]) -> str:
    from ndgrad.tensor import Size

    return repr(Size(shape))
