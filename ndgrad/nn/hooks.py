"""Module hooks: their registration (ModuleHooksMixin, a base of Module), the hooks common to
all modules (``register_module_*``, torch.nn.modules.module's) and the machinery of full
backward hooks, as torch.nn.Module's.

Forward hooks and pre-hooks run in ``Module.__call__``, which takes the slow path,
``call_with_hooks``, only when the module or the global registries hold one (global hooks run
first, as in torch). Full backward hooks pass the module's
tensor inputs and outputs through an identity Function, ``BackwardHookFunction``, whose graph
nodes get node hooks: the one on the outputs sees the gradients with respect to them first
(and runs the backward pre-hooks), the one on the inputs, last, the gradients with respect to
the inputs, which is when the user's hooks run (``_ModuleBackwardHook``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ndgrad.autograd import Function, is_grad_enabled
from ndgrad.tensor import Tensor
from ndgrad.utils.hooks import RemovableHandle, add_hook

if TYPE_CHECKING:
    from ndgrad.nn.module import Module


class ModuleHooksMixin:
    """The ``register_*hook`` methods of Module (its hooks live in the instance's dicts)."""

    _forward_hooks: dict[int, Callable[..., Any]]
    _forward_pre_hooks: dict[int, Callable[..., Any]]
    _is_full_backward_hook: bool | None

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every forward (``hook(module, args,
        kwargs, output)`` ``with_kwargs``); a non-None result replaces the output.
        ``always_call``: also when forward raises (with output None). ``prepend``: before the
        hooks registered already."""
        handle = add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self.__dict__.setdefault("_forward_hooks_with_kwargs", set()).add(handle.id)
        if always_call:
            self.__dict__.setdefault("_forward_hooks_always_call", set()).add(handle.id)
        return handle

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward; a non-None result replaces args.
        ``with_kwargs``: ``hook(module, args, kwargs)``, which may return ``(args, kwargs)``."""
        handle = add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self.__dict__.setdefault("_forward_pre_hooks_with_kwargs", set()).add(handle.id)
        return handle

    def register_full_backward_hook(self, hook: Callable[..., Any],
                                    prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` each time the gradients with respect
        to the module's positional inputs have been computed (None for inputs that are not
        tensors or need none); a returned tuple replaces grad_input. As in torch, forward then
        receives a view of each tensor input, and the caller a view of each output, which may
        not be changed in place."""
        return self._add_backward_hook("_backward_hooks", hook, prepend, full=True)

    def register_full_backward_pre_hook(self, hook: Callable[..., Any],
                                        prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` each time the gradients with respect to the
        module's outputs have been computed; a returned tuple replaces grad_output."""
        return self._add_backward_hook("_backward_pre_hooks", hook, prepend, full=None)

    def register_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """torch's deprecated form: ``hook(module, grad_input, grad_output)`` on the grad_fn of
        the module's first output only, so grad_input are the gradients of that last op's
        inputs (which are the module's only if forward is one op); use
        register_full_backward_hook."""
        return self._add_backward_hook("_backward_hooks", hook, False, full=False)

    def _add_backward_hook(self, name: str, hook: Callable[..., Any], prepend: bool,
                           full: bool | None) -> RemovableHandle:
        if full is not None:
            if self._is_full_backward_hook is (not full):
                raise RuntimeError("Cannot use both regular backward hooks and full backward "
                                   "hooks on a single Module. Please use only one of them.")
            self.__dict__["_is_full_backward_hook"] = full
        return add_hook(self.__dict__.setdefault(name, {}), hook, prepend)

    def _register_load_state_dict_pre_hook(self, hook: Callable[..., Any],
                                           with_module: bool = False) -> RemovableHandle:
        """Call ``hook(state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` (``module`` first ``with_module``) before this module
        loads its entries, e.g. to rename old checkpoint keys in ``state_dict``."""
        hooks = self.__dict__.setdefault("_load_state_dict_pre_hooks", {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = functools.partial(hook, self) if with_module else hook
        return handle

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before this module loads its entries."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, prefix, keep_vars)`` before ``state_dict()`` saves the module."""
        return add_hook(self.__dict__.setdefault("_state_dict_pre_hooks", {}), hook, False)

    def register_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata)`` once ``state_dict()`` has
        saved the module and its children; it may edit ``state_dict`` in place."""
        return add_hook(self.__dict__.setdefault("_state_dict_hooks", {}), hook, False)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, incompatible_keys)`` after ``load_state_dict`` loaded the module
        and its children; it may remove keys from ``incompatible_keys.missing_keys`` and
        ``.unexpected_keys`` before the strict check."""
        return add_hook(self.__dict__.setdefault("_load_state_dict_post_hooks", {}), hook,
                         False)


# -- hooks common to all modules (torch.nn.modules.module's register_module_*) ----------------
# Registration hooks: ``hook(module, name, value)`` before a parameter, buffer or submodule is
# registered; a non-None result is registered instead.
_global_buffer_registration_hooks: dict[int, Callable[..., Any]] = {}
_global_module_registration_hooks: dict[int, Callable[..., Any]] = {}
_global_parameter_registration_hooks: dict[int, Callable[..., Any]] = {}
# Call hooks, run before each module's own. Their options are ids in the two dicts of options.
_global_forward_pre_hooks: dict[int, Callable[..., Any]] = {}
_global_forward_hooks: dict[int, Callable[..., Any]] = {}
_global_forward_hooks_always_called: dict[int, bool] = {}
_global_forward_hooks_with_kwargs: dict[int, bool] = {}
_global_backward_pre_hooks: dict[int, Callable[..., Any]] = {}
_global_backward_hooks: dict[int, Callable[..., Any]] = {}
_global_is_full_backward_hook: bool | None = None
# The id of every call hook above: Module.__call__ checks this one dict (one global lookup) to
# keep its no-hook fast path as fast as before global hooks existed.
_global_call_hooks: dict[int, bool] = {}


def _add_global(hooks: dict[int, Callable[..., Any]], hook: Callable[..., Any],
                *options: dict[int, bool], call: bool = True) -> RemovableHandle:
    """Register a global hook; ``options``: the dicts its id may enter (emptied with it)."""
    handle = RemovableHandle(hooks, extra_dict=[*options, _global_call_hooks] if call else None)
    hooks[handle.id] = hook
    if call:
        _global_call_hooks[handle.id] = True
    return handle


def register_module_buffer_registration_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Call ``hook(module, name, buffer)`` each time any module registers a buffer; a non-None
    result is registered instead."""
    return _add_global(_global_buffer_registration_hooks, hook, call=False)


def register_module_module_registration_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Call ``hook(module, name, submodule)`` each time any module registers a submodule
    (``add_module`` or an assignment); a non-None result is registered instead."""
    return _add_global(_global_module_registration_hooks, hook, call=False)


def register_module_parameter_registration_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Call ``hook(module, name, param)`` each time any module registers a parameter (not a None
    placeholder); a non-None result is registered instead."""
    return _add_global(_global_parameter_registration_hooks, hook, call=False)


def register_module_forward_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Call ``hook(module, args)`` before every module's forward, before the module's own
    pre-hooks; a non-None result replaces args (a non-tuple is wrapped in one)."""
    return _add_global(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook: Callable[..., Any], *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """Call ``hook(module, args, output)`` (``hook(module, args, kwargs, output)``
    ``with_kwargs``) after every module's forward, before the module's own forward hooks; a
    non-None result replaces the output. ``always_call``: also when the call raises (then, as
    in torch, as ``hook(module, args, output)`` with output None if forward did not return)."""
    handle = _add_global(_global_forward_hooks, hook, _global_forward_hooks_always_called,
                         _global_forward_hooks_with_kwargs)
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def _set_global_full(full: bool) -> None:
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is (not full):
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as a "
                           "global Module hook. Please use only one of them.")
    _global_is_full_backward_hook = full


def register_module_full_backward_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Call ``hook(module, grad_output)`` for every module, as its own
    ``register_full_backward_pre_hook`` would, before the module's own backward pre-hooks."""
    return _add_global(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """Call ``hook(module, grad_input, grad_output)`` for every module, as its own
    ``register_full_backward_hook`` would, before the module's own backward hooks."""
    _set_global_full(True)
    return _add_global(_global_backward_hooks, hook)


def register_module_backward_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """torch's deprecated form of ``register_module_full_backward_hook``: the hooks go on the
    grad_fn of each module's first output (see ``Module.register_backward_hook``)."""
    _set_global_full(False)
    return _add_global(_global_backward_hooks, hook)


def _registration_hooks(hooks: dict[int, Callable[..., Any]], module: Module, name: str,
                        value: Any) -> Any:
    """``value`` after the global registration hooks ``hooks`` have seen (and replaced) it."""
    for hook in list(hooks.values()):
        result = hook(module, name, value)
        if result is not None:
            value = result
    return value


def _call_with_hooks(module: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``module(*args, **kwargs)`` with the global hooks and then the module's own, as torch's
    ``Module._call_impl``: forward pre-hooks, backward hooks' set-up, forward, forward hooks.
    If any step raises, the ``always_call`` forward hooks that have not run yet run then."""
    d = module.__dict__
    pre_with_kwargs = d.get("_forward_pre_hooks_with_kwargs", ())
    with_kwargs = d.get("_forward_hooks_with_kwargs", ())
    always_call = d.get("_forward_hooks_always_call", ())
    called: set[int] = set()  # the always_call hooks that have run
    out = None
    try:
        for key, hook in (*_global_forward_pre_hooks.items(),
                          *module._forward_pre_hooks.items()):
            if key in pre_with_kwargs:
                result = hook(module, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
                continue
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        full: list[Callable[..., Any]] = []  # full backward hooks, then old-style ones
        old: list[Callable[..., Any]] = []
        if _global_backward_hooks:
            (full if _global_is_full_backward_hook else old).extend(
                _global_backward_hooks.values())
        if module._backward_hooks:
            (full if module._is_full_backward_hook else old).extend(
                module._backward_hooks.values())
        pre = [*_global_backward_pre_hooks.values(), *module._backward_pre_hooks.values()]
        backward_hook = None
        if (full or pre) and is_grad_enabled():
            backward_hook = _ModuleBackwardHook(module, full, pre)
            args = backward_hook.setup_inputs(args)
        out = module.forward(*args, **kwargs)
        for key, hook in (*_global_forward_hooks.items(), *module._forward_hooks.items()):
            if key in always_call or key in _global_forward_hooks_always_called:
                called.add(key)
            if key in with_kwargs or key in _global_forward_hooks_with_kwargs:
                result = hook(module, args, kwargs, out)
            else:
                result = hook(module, args, out)
            if result is not None:
                out = result
        if backward_hook is not None:
            out = backward_hook.setup_outputs(out)
        if old:
            first = next(_tensors(out), None)  # torch's old style: hooks on that grad_fn
            if first is not None and first.grad_fn is not None:
                for hook in old:
                    first.grad_fn.register_hook(functools.partial(hook, module))
        return out
    except Exception:
        for key, hook in list(_global_forward_hooks.items()):
            if key in _global_forward_hooks_always_called and key not in called:
                _silenced(hook, (module, args, out), "global module")  # as torch: no kwargs
        for key, hook in list(module._forward_hooks.items()):
            if key in always_call and key not in called:
                _silenced(hook, (module, args, kwargs, out) if key in with_kwargs
                          else (module, args, out), "module")
        raise


def _silenced(hook: Callable[..., Any], args: tuple[Any, ...], kind: str) -> None:
    """Run an always_call forward hook while an error propagates: its own error only warns."""
    try:
        hook(*args)
    except Exception as e:
        warnings.warn(f"{kind} forward hook with ``always_call=True`` raised an exception that "
                      f"was silenced as another error was raised in forward: {e!s}",
                      stacklevel=3)


def _tensors(obj: Any) -> Iterator[Tensor]:
    """The tensors in a forward's output, first found first (nested tuples, lists, dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, list | tuple):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


class BackwardHookFunction(Function):
    """The identity on the tensors it is given: a graph node for a module's backward hooks."""

    @staticmethod
    def forward(ctx: Any, *args: Any) -> Any:
        ctx.mark_non_differentiable(*[a for a in args if not a.requires_grad])
        return args

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        return grads


class _ModuleBackwardHook:
    """One forward's full backward hooks, as torch's BackwardHook: the module's tensor inputs
    and outputs each pass through a ``BackwardHookFunction``. The node on the outputs sees the
    gradients with respect to them (and runs the pre-hooks), the one on the inputs, last, the
    gradients with respect to the inputs, when the user's hooks run."""

    def __init__(self, module: Module, hooks: list[Callable[..., Any]],
                 pre_hooks: list[Callable[..., Any]]) -> None:
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs: tuple[Any, ...] | None = None
        self.n_inputs = self.n_outputs = 0
        self.input_index: list[int] | None = None
        self.output_index: list[int] | None = None

    @staticmethod
    def _wrap(values: tuple[Any, ...], hook: Callable[..., Any]
              ) -> tuple[tuple[Any, ...], list[int] | None]:
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
        if not any(values[i].requires_grad for i in index):
            return values, None
        new = BackwardHookFunction.apply(*[values[i] for i in index])
        next(t.grad_fn for t in new if t.grad_fn is not None).register_hook(hook)
        out = list(values)
        for i, t in zip(index, new, strict=True):
            out[i] = t
        return tuple(out), index

    @staticmethod
    def _pack(index: list[int], values: tuple[Any, ...], n: int) -> tuple[Any, ...]:
        full: list[Any] = [None] * n
        for i, v in zip(index, values, strict=True):
            full[i] = v
        return tuple(full)

    def setup_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        self.n_inputs = len(args)
        args, self.input_index = self._wrap(args, self._input_hook)
        return args

    def setup_outputs(self, out: Any) -> Any:
        values = out if isinstance(out, tuple) else (out,)
        self.n_outputs = len(values)
        values, self.output_index = self._wrap(values, self._output_hook)
        return values if isinstance(out, tuple) else values[0]

    def _output_hook(self, _: Any, grad_output: tuple[Any, ...]) -> tuple[Any, ...]:
        assert self.output_index is not None
        self.grad_outputs = self._pack(self.output_index, grad_output, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            new = new if isinstance(new, tuple) else (new,)
            if len(new) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(new)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = new
        result = tuple(self.grad_outputs[i] for i in self.output_index)
        if self.input_index is None:  # no input needs a gradient: the hooks run now
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients. "
                              "See the docs of nn.Module.register_full_backward_hook.",
                              stacklevel=2)
            nothing = (None,) * self.n_inputs
            for hook in self.hooks:
                res = hook(self.module, nothing, self.grad_outputs)
                if res is not None and not (isinstance(res, tuple)
                                            and all(g is None for g in res)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return result

    def _input_hook(self, grad_input: tuple[Any, ...], _: Any) -> tuple[Any, ...] | None:
        if self.grad_outputs is None:  # the outputs took no part in this backward
            return None
        assert self.input_index is not None
        res = self._pack(self.input_index, grad_input, self.n_inputs)
        for hook in self.hooks:
            new = hook(self.module, res, self.grad_outputs)
            if new is None:
                continue
            new = new if isinstance(new, tuple) else (new,)
            if len(new) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(new)}, but expected {len(res)}")
            res = new
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_index)
