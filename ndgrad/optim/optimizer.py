"""Optimizer: the base class of every optimizer, as torch.optim.Optimizer.

Parameters live in ``param_groups`` (dicts holding ``params`` and the hyperparameters, which an
lr scheduler may change between steps); per-parameter state (momentum buffers, moving averages)
lives in ``state``, keyed by the parameter itself. ``state_dict()`` replaces parameters by
integer ids, in PyTorch's format, so a checkpoint does not depend on object identity.

Updates run in NumPy directly on ``p._data``: no graph, no new tensors. Temporaries go into
scratch arrays reused across parameters and steps (``_scratch``, the size of the largest
parameter), so Adam's several temporaries are allocated once. SGD's plain update
``p -= lr * buf`` has just one temporary, which it allocates as it goes: a persistent scratch
array would stay in memory for the whole run, and at step time it is the only large temporary.
"""

from __future__ import annotations

import functools
import warnings
from collections import defaultdict
from collections.abc import Callable
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

from ndgrad import _dtype
from ndgrad.autograd.grad_mode import enable_grad
from ndgrad.tensor import Tensor
from ndgrad.utils.hooks import RemovableHandle, add_hook


class _RequiredParameter:
    """Marks a hyperparameter that every param group must set (e.g. a required lr)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

StateDict = dict[str, Any]


def _with_hooks(step: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a subclass's ``step`` so that registered step pre/post hooks run around it."""

    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        # no hooks, or a subclass's step calling super().step(): run the step alone
        if not (self._step_pre_hooks or self._step_post_hooks) or self._in_hooked_step:
            return step(self, *args, **kwargs)
        full = (self, *args)  # as torch, the hooks' args start with the optimizer itself
        for hook in list(self._step_pre_hooks.values()):
            result = hook(self, full, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step.__qualname__} must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
                full, kwargs = tuple(result[0]), result[1]
        self._in_hooked_step = True
        try:
            out = step(*full, **kwargs)
        finally:
            self._in_hooked_step = False
        for hook in list(self._step_post_hooks.values()):
            hook(self, full, kwargs)
        return out

    wrapper._hooked = True  # type: ignore[attr-defined]
    return wrapper


class Optimizer:
    """Base class: holds param groups and state; subclasses implement ``step``."""

    _in_hooked_step = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_hooks(step)  # type: ignore[method-assign]

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._step_pre_hooks: dict[int, Any] = {}
        self._step_post_hooks: dict[int, Any] = {}
        self._scratch: dict[Any, np.ndarray] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got ndgrad.{type(params).__name__}")
        self.state: defaultdict[Tensor, Any] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # -- pickling / repr ---------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_step_pre_hooks", {})
        self.__dict__.setdefault("_step_post_hooks", {})
        self.__dict__.setdefault("_scratch", {})

    def __repr__(self) -> str:
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # -- param groups ------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):  # from named_parameters()
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(param).__module__}.{type(param).__name__}")
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        existing: set[int] = set()
        for group in self.param_groups:
            existing.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not existing.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's ``.grad`` (or zero it in place with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g._data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update the parameters once from their ``.grad``; subclasses implement it."""
        raise NotImplementedError

    def _closure(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def register_step_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` before each step."""
        handle = RemovableHandle(self._step_pre_hooks)
        self._step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` after each step."""
        handle = RemovableHandle(self._step_post_hooks)
        self._step_post_hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook: Callable[..., Any],
                                     prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer)`` before ``state_dict()`` packs the state."""
        return self._add_hook("_optimizer_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable[..., Any],
                                      prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer, state_dict)`` on what ``state_dict()`` returns; a returned
        dict replaces it."""
        return self._add_hook("_optimizer_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any],
                                          prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer, state_dict)`` before ``load_state_dict`` loads it; a returned
        dict is loaded instead (to rename or convert old checkpoints)."""
        return self._add_hook("_optimizer_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any],
                                           prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer)`` after ``load_state_dict`` has loaded."""
        return self._add_hook("_optimizer_load_state_dict_post_hooks", hook, prepend)

    def _add_hook(self, name: str, hook: Callable[..., Any], prepend: bool) -> RemovableHandle:
        return add_hook(self.__dict__.setdefault(name, {}), hook, prepend)

    def _hooks(self, name: str) -> list[Callable[..., Any]]:
        return list(self.__dict__.get(name, {}).values())

    # -- scratch space -----------------------------------------------------------------------
    def _tmp(self, like: np.ndarray, slot: int) -> np.ndarray:
        """A scratch array shaped like ``like``, reused across parameters and steps (one flat
        buffer per dtype and slot, so a step allocates nothing)."""
        key = (like.shape, like.dtype, slot)
        view = self._scratch.get(key)
        if view is None:
            flat_key = (like.dtype, slot)
            flat = self._scratch.get(flat_key)
            if flat is None or flat.size < like.size:
                flat = np.empty(max(like.size, 1), like.dtype)
                # views of the old buffer stay valid (they keep it alive); only new ones move
                self._scratch[flat_key] = flat
            view = flat[:like.size].reshape(like.shape)
            self._scratch[key] = view
        return view

    def _effective_grad(self, p: Tensor, grad: np.ndarray, weight_decay: float | np.ndarray,
                        maximize: bool) -> np.ndarray:
        """grad (negated with maximize) + weight_decay * p, in scratch slot 0 when changed."""
        if weight_decay != 0:
            tmp = self._tmp(grad, 0)
            np.multiply(p._data, weight_decay, out=tmp)
            if maximize:
                np.subtract(tmp, grad, out=tmp)
            else:
                np.add(tmp, grad, out=tmp)
            return tmp
        if maximize:
            tmp = self._tmp(grad, 0)
            np.negative(grad, out=tmp)
            return tmp
        return grad

    def _apply_update(self, arr: np.ndarray, value: float, t1: np.ndarray,
                      denom: np.ndarray) -> None:
        """arr -= value * t1 / denom, in PyTorch's addcdiv order ((value * t1) / denom), with
        the quotient in scratch slot 2."""
        num = self._tmp(arr, 2)
        np.multiply(t1, value, out=num)
        np.divide(num, denom, out=num)
        np.subtract(arr, num, out=arr)

    # -- state_dict --------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """``{'state': {param_id: {...}}, 'param_groups': [{..., 'params': [ids]}]}``, with ids
        numbering the parameters in group order, as PyTorch's."""
        for hook in self._hooks("_optimizer_state_dict_pre_hooks"):
            hook(self)
        param_mappings: dict[int, int] = {}
        start_index = 0

        def pack_group(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        result: StateDict = {"state": packed_state, "param_groups": param_groups}
        for hook in self._hooks("_optimizer_state_dict_post_hooks"):
            changed = hook(self, result)
            if changed is not None:
                result = changed
        return result

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Load ``state_dict()`` output: hyperparameters per group and a copy of each
        parameter's state (cast to the parameter's dtype, except ``step``)."""
        state_dict = dict(state_dict)
        for hook in self._hooks("_optimizer_load_state_dict_pre_hooks"):
            changed = hook(self, state_dict)
            if changed is not None:
                state_dict = changed
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param: Tensor, value: Any, key: Any = None) -> Any:
            if isinstance(value, Tensor) or isinstance(value, np.ndarray) or (
                    hasattr(value, "__array__") and hasattr(value, "detach")):
                arr = value._data if isinstance(value, Tensor) else np.asarray(
                    value.detach() if hasattr(value, "detach") else value)
                if key != "step" and param._data.dtype.kind == "f" and arr.dtype.kind == "f":
                    arr = arr.astype(param._data.dtype)
                return Tensor._make(np.array(arr, copy=True))  # owned and writable
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict[Any, Any] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            if key in id_map:
                param = id_map[key]
                state[param] = cast(param, v)
            else:
                state[key] = v

        def update_group(group: dict[str, Any], new_group: dict[str, Any]) -> dict[str, Any]:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for hook in self._hooks("_optimizer_load_state_dict_post_hooks"):
            hook(self)


def _check_lr(lr: Any) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_nonnegative(name: str, value: Any) -> None:
    """PyTorch's "Invalid <name> value" check (written ``not 0.0 <= value``: nan fails too)."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name} value: {value}")


def _check_betas(betas: Any) -> None:
    """PyTorch's check that each beta is in [0, 1)."""
    for i, beta in enumerate(betas[:2]):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def _check_fused(fused: bool | None, foreach: bool | None, differentiable: bool) -> None:
    """PyTorch's checks on ``fused`` (accepted: ndgrad has one CPU implementation, which is
    what the flag would choose between)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _no_differentiable(differentiable: bool) -> None:
    if differentiable:
        raise NotImplementedError("differentiable=True (autograd through the optimizer step) is "
                                  "not supported by ndgrad's optimizers")


def _lerp_(x: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """x += weight * (end - x), in place, using PyTorch's two formulas for accuracy."""
    np.subtract(end, x, out=tmp)
    if abs(weight) < 0.5:
        np.multiply(tmp, weight, out=tmp)
        np.add(x, tmp, out=x)
    else:  # end - (end - x) * (1 - weight)
        np.multiply(tmp, 1 - weight, out=tmp)
        np.subtract(end, tmp, out=x)


def _ema_sq_(avg: np.ndarray, g: np.ndarray, beta: float, tmp: np.ndarray) -> None:
    """avg = beta * avg + (1 - beta) * g^2, in place, in PyTorch's mul_ + addcmul_ order."""
    np.multiply(avg, beta, out=avg)
    np.multiply(g, 1 - beta, out=tmp)  # (value * g) * g, as addcmul
    np.multiply(tmp, g, out=tmp)
    np.add(avg, tmp, out=avg)


def _new_step() -> Tensor:
    # PyTorch keeps ``step`` as a float tensor (float64 when that is the default dtype)
    return Tensor._make(np.zeros((), _dtype.default_float()))


def _params_with_grad(group: dict[str, Any]) -> list[tuple[Tensor, np.ndarray]]:
    """(parameter, gradient array) for the group's parameters that have a gradient."""
    return [(p, p._grad._data) for p in group["params"] if p._grad is not None]


def _hyper(dtype: np.dtype, *values: float) -> tuple[np.ndarray, ...]:
    """Hyperparameters as 0-d arrays of a parameter's dtype. NumPy multiplies by a 0-d array
    faster than by a Python float (no scalar conversion on every call), with the same result:
    the float is cast to the array's dtype either way."""
    return tuple([np.array(v, dtype) for v in values])
