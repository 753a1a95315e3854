"""ndgrad.func: torch.func's function transforms on ndgrad's reverse-mode autograd.

    from ndgrad.func import grad, vmap, functional_call
    dloss = grad(loss_fn)(params, x)                      # gradient as a function
    per_example = vmap(grad(loss_fn), in_dims=(None, 0))(params, xs)

What differs from torch.func, and why:
- ``jvp`` and ``jacfwd`` get their forward products by the double-backward trick (differentiate
  the linear map u -> u^T J at u = 0) on the whole function, which gives the same numbers as
  forward mode at the cost of a second backward pass. (ndgrad.autograd.forward_ad is forward
  mode proper, op by op.)
- ``vmap`` runs the function once per example and stacks the results. Its results are the
  ones torch's vmap gives (that is vmap's definition), and it composes with grad, vjp and
  jacrev both ways; but it is a loop, not a batching transform, so it is no faster than one.
- Transforms nest by recording with create_graph (grad(grad(f)) works): their results stay
  connected to the graph of tensors the function closes over, as torch.func's do.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import ndgrad
from ndgrad import random
from ndgrad.autograd import engine
from ndgrad.autograd.function import AccumulateGrad
from ndgrad.autograd.grad_mode import enable_grad
from ndgrad.tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "linearize", "replace_all_batch_norm_modules_", "stack_module_state", "vjp", "vmap"]


# -- pytrees: tensors in (nested) tuples, lists and dicts -----------------------------------------
def _flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of tree (depth first) and a spec to rebuild it."""
    if isinstance(tree, tuple | list):
        leaves: list[Any] = []
        specs = []
        for item in tree:
            sub, spec = _flatten(item)
            leaves += sub
            specs.append((len(sub), spec))
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves = []
        keyed = []
        for k, item in tree.items():
            sub, spec = _flatten(item)
            leaves += sub
            keyed.append((k, len(sub), spec))
        return leaves, (dict, keyed)
    return [tree], None


def _unflatten(leaves: list[Any], spec: Any) -> Any:
    if spec is None:
        return leaves[0]
    kind, specs = spec
    out, i = [], 0
    if kind is dict:
        d = {}
        for k, n, sub in specs:
            d[k] = _unflatten(leaves[i:i + n], sub)
            i += n
        return d
    for n, sub in specs:
        out.append(_unflatten(leaves[i:i + n], sub))
        i += n
    return tuple(out) if kind is tuple else out


def _argnums(argnums: Any, num_args: int) -> tuple[int, ...]:
    """argnums as a tuple of non-negative ints, with torch.func's errors."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else argnums
    if not isinstance(nums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if not nums:
        raise RuntimeError("argnums must be non-empty")
    out = []
    for n in nums:
        if not isinstance(n, int):
            raise RuntimeError(f"argnum must be int, got: {type(n)}")
        if not -num_args <= n < num_args:
            raise RuntimeError(f"Got argnum={n}, but only {num_args} positional inputs")
        out.append(n % num_args)
    if len(set(out)) != len(out):
        raise RuntimeError(f"argnums must be unique, got {argnums}")
    return tuple(out)


def _track(t: Any) -> Any:
    """A tensor to differentiate with respect to: an alias of t if t already records (so
    gradients reach t's own graph), else a fresh leaf."""
    if not isinstance(t, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(t)}")
    return t.view_as(t) if t.requires_grad else t.detach().requires_grad_()


def _reaches_outside(t: Tensor, own: set[int]) -> bool:
    """Whether t's graph reaches a leaf that requires grad other than the ``own`` (ids of) the
    transform made: a tensor from outside, whose graph the result must stay in."""
    if t.grad_fn is None:
        return t.requires_grad and id(t) not in own
    stack, seen = [t.grad_fn], {id(t.grad_fn)}
    while stack:
        for edge in stack.pop()._edges:
            if edge is None or id(edge.node) in seen:
                continue
            seen.add(id(edge.node))
            if isinstance(edge.node, AccumulateGrad):
                if id(edge.node.variable) not in own:
                    return True
            else:
                stack.append(edge.node)
    return False


def _release(tree: Any, own: list[Any]) -> Any:
    """The transform's results, detached from the leaves it made for its inputs unless they
    depend on a tensor from outside (an input or a closed-over tensor that requires grad, or
    an enclosing transform's input): as torch.func's results, which require grad only then."""
    ids = {id(t) for t in own}
    leaves, spec = _flatten(tree)
    return _unflatten([t.detach() if isinstance(t, Tensor) and t.requires_grad
                       and not _reaches_outside(t, ids) else t for t in leaves], spec)


def _zeros_like(t: Tensor) -> Tensor:
    return t._make(np.zeros(t._data.shape, t._data.dtype))


def _grads(outputs: list[Any], inputs: list[Any], grad_outputs: list[Any] | None = None,
           retain_graph: bool = True) -> list[Any]:
    """d outputs / d inputs, recorded (so transforms nest), zeros where unconnected."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs or [None] * len(outputs))
             if o.requires_grad]
    if not pairs:
        return [_zeros_like(t) for t in inputs]
    res = engine.grad([o for o, _ in pairs], inputs, [g for _, g in pairs],
                      retain_graph=retain_graph, create_graph=True, allow_unused=True)
    return [_zeros_like(t) if g is None else g for g, t in zip(res, inputs)]


def _prepare(args: tuple[Any, ...], argnums: Any) -> tuple[list[Any], list[Any], list[Any],
                                                            tuple[int, ...]]:
    """args with the differentiated ones replaced by tracked copies; per argnum, its
    tracked leaves and its spec."""
    nums = _argnums(argnums, len(args))
    new_args = list(args)
    leaves_per_arg, specs = [], []
    for n in nums:
        leaves, spec = _flatten(args[n])
        tracked = [_track(t) for t in leaves]
        new_args[n] = _unflatten(tracked, spec)
        leaves_per_arg.append(tracked)
        specs.append(spec)
    return new_args, leaves_per_arg, specs, nums


# -- grad, vjp, jvp --------------------------------------------------------------------------------
def grad_and_value(func: Callable[..., Any], argnums: Any = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """A function returning (gradient of func with respect to the argnums args, func's
    value); func must return a scalar Tensor (or (scalar, aux) with has_aux)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with enable_grad():
            new_args, leaves, specs, nums = _prepare(args, argnums)
            output = func(*new_args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                output, aux = output
            if not isinstance(output, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {output.dim()} dims. Maybe "
                                   f"you wanted to use the vjp or jacrev APIs instead?")
            flat = [t for group in leaves for t in group]
            grads = _grads([output], flat)
        out, i = [], 0
        for group, spec in zip(leaves, specs):
            out.append(_unflatten(grads[i:i + len(group)], spec))
            i += len(group)
        result = _release(out[0] if isinstance(argnums, int) else tuple(out), flat)
        output, aux = _release((output, aux), flat)
        return (result, (output, aux)) if has_aux else (result, output)

    return wrapper


def grad(func: Callable[..., Any], argnums: Any = 0, has_aux: bool = False) -> Callable[..., Any]:
    """A function computing the gradient of func (a scalar function) with respect to its
    argnums arguments (tensors or pytrees of them): ``grad(f)(x)`` is df/dx at x."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = grad_and_value(func, argnums, has_aux)(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """(func(*primals), vjp_fn[, aux]): vjp_fn(cotangents) gives the cotangents pulled back
    to each primal (a tuple, one per primal), and can be called many times."""
    with enable_grad():
        leaves, specs = [], []
        tracked_args = []
        for p in primals:
            flat, spec = _flatten(p)
            tracked = [_track(t) for t in flat]
            leaves.append(tracked)
            specs.append(spec)
            tracked_args.append(_unflatten(tracked, spec))
        output = func(*tracked_args)
        aux = None
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: "
                                   "(output, aux) if has_aux is True")
            output, aux = output
    out_leaves, out_spec = _flatten(output)
    for o in out_leaves:
        if not isinstance(o, Tensor) or o._data.dtype.kind != "f":
            raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point or "
                               f"complex Tensors, got Tensor with dtype {getattr(o, 'dtype', o)}")
    flat_primals = [t for group in leaves for t in group]

    def vjp_fn(cotangents: Any) -> tuple[Any, ...]:
        cot_leaves, cot_spec = _flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree "
                               "structure of outputs to the function.")
        with enable_grad():
            grads = _grads(out_leaves, flat_primals, cot_leaves)
        res, i = [], 0
        for group, spec in zip(leaves, specs):
            res.append(_unflatten(grads[i:i + len(group)], spec))
            i += len(group)
        return _release(tuple(res), flat_primals)

    output, aux = _release((output, aux), flat_primals)
    return (output, vjp_fn, aux) if has_aux else (output, vjp_fn)


def jvp(func: Callable[..., Any], primals: Any, tangents: Any, *, strict: bool = False,
        has_aux: bool = False) -> tuple[Any, ...]:
    """(func(*primals), J tangents[, aux]), by the double-backward trick (see the module
    docstring)."""
    if not isinstance(primals, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it "
                           "should be valid to call f(*primals).")
    p_leaves, p_spec = _flatten(primals)
    t_leaves, t_spec = _flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"jvp(f, primals, tangents): Expected primals and tangents to have "
                           f"the same python structure. For example, if primals is a tuple of 3 "
                           f"tensors, tangents also must be. Got primals with structure "
                           f"{p_spec} and tangents with structure {t_spec}")
    with enable_grad():
        tracked = [_track(t) for t in p_leaves]
        output = func(*_unflatten(tracked, p_spec))
        aux = None
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError("jvp(f, primals, tangents): output of function f should be a "
                                   "tuple: (output, aux) if has_aux is True")
            output, aux = output
        out_leaves, out_spec = _flatten(output)
        # u -> u^T J at u = 0 (recorded), then its derivative in u applied to the tangents
        us = [_zeros_like(o).requires_grad_() for o in out_leaves]
        pulled = _grads(out_leaves, tracked, us)
        if strict and not any(g.requires_grad for g in pulled):
            raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is "
                               "independent of the inputs. This is not allowed with strict=True.")
        jv = _grads(pulled, us, list(t_leaves))
    result = _release((output, _unflatten(jv, out_spec)), tracked + us)
    return (*result, _release(aux, tracked)) if has_aux else result


# -- Jacobians and Hessians -----------------------------------------------------------------------
def jacrev(func: Callable[..., Any], argnums: Any = 0, *, has_aux: bool = False,
           chunk_size: int | None = None,
           _preallocate_and_copy: bool = False) -> Callable[..., Any]:
    """A function computing the Jacobian of func with respect to the argnums arguments, by
    reverse mode (one backward pass per output element): for each output a tensor of shape
    output.shape + input.shape (nested as the outputs and argnums are)."""
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with enable_grad():
            new_args, leaves, specs, nums = _prepare(args, argnums)
            output = func(*new_args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError("jacrev(f, ...)(*args): output of function f should be a "
                                       "tuple: (output, aux) if has_aux is True")
                output, aux = output
            out_leaves, out_spec = _flatten(output)
            flat_in = [t for group in leaves for t in group]
            per_output = []
            for out in out_leaves:
                if not isinstance(out, Tensor):
                    raise RuntimeError(f"jacrev: Expected output of f to be a Tensor or Tensors,"
                                       f" got {type(out)} as an output")
                rows: list[list[Any]] = [[] for _ in flat_in]
                flat_out = out.reshape(-1)
                for k in range(out.numel()):
                    for j, g in enumerate(_grads([flat_out[k]], flat_in)):
                        rows[j].append(g)
                jacs = [ndgrad.stack(r).reshape(*out.shape, *t.shape) if r
                        else t._make(np.zeros((*out.shape, *t.shape), t._data.dtype))
                        for r, t in zip(rows, flat_in)]
                groups, i = [], 0
                for group, spec in zip(leaves, specs):
                    groups.append(_unflatten(jacs[i:i + len(group)], spec))
                    i += len(group)
                per_output.append(groups[0] if isinstance(argnums, int) else tuple(groups))
        result = _release(_unflatten(per_output, out_spec), flat_in)
        return (result, _release(aux, flat_in)) if has_aux else result

    return wrapper


def jacfwd(func: Callable[..., Any], argnums: Any = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable[..., Any]:
    """The Jacobian as jacrev computes it (not by forward mode: the numbers are the same, the
    cost is one backward pass per output element)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func: Callable[..., Any], argnums: Any = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function: the Jacobian of its gradient."""
    return jacfwd(jacrev(func, argnums), argnums)


# -- vmap ---------------------------------------------------------------------------------------
def _in_dims_for(in_dims: Any, args: tuple[Any, ...]) -> list[Any]:
    """One in_dim (an int or None) per leaf of args."""
    if isinstance(in_dims, int) or in_dims is None:
        return [in_dims] * len(_flatten(args)[0])
    if not isinstance(in_dims, tuple) or len(in_dims) != len(args):
        raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                         f"compatible with the structure of `inputs`. in_dims has structure "
                         f"{in_dims} but inputs has {len(args)} elements.")
    dims: list[Any] = []
    for d, a in zip(in_dims, args):
        n = len(_flatten(a)[0])
        if isinstance(d, int) or d is None:
            dims += [d] * n
        else:
            sub = _flatten(d)[0]
            if len(sub) != n:
                raise ValueError(f"vmap: in_dims {d} does not match its input's structure")
            dims += sub
    return dims


def vmap(func: Callable[..., Any], in_dims: Any = 0, out_dims: Any = 0,
         randomness: str = "error", *, chunk_size: int | None = None) -> Callable[..., Any]:
    """func mapped over a dim of its inputs (``in_dims``: an int for all, None for inputs
    that are shared, or one per argument), results stacked along ``out_dims``.

    It runs func once per example (see the module docstring): the same results as torch's
    vmap. ``randomness='same'`` draws the same random numbers for every example (the
    generator is reset before each), 'different' and 'error' let them differ."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        leaves, spec = _flatten(args)
        dims = _in_dims_for(in_dims, args)
        sizes = set()
        for leaf, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} "
                                 f"for an input but the input is of type {type(leaf)}. We "
                                 f"cannot vmap over non-Tensor arguments, please use None as "
                                 f"the respective in_dim")
            if not -leaf.dim() <= d < max(leaf.dim(), 1):
                raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} "
                                 f"for some input, but that input is a Tensor of dimensionality "
                                 f"{leaf.dim()} so expected in_dim to satisfy "
                                 f"-{leaf.dim()} <= in_dim < {leaf.dim()}.")
            sizes.add(leaf.shape[d])
        if not sizes:
            raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): at least one input "
                             f"must be batched (in_dims not all None)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sorted(sizes)} for the mapped dimension")
        (n,) = sizes
        results = []
        with _same_randomness(randomness == "same") as reset:
            for i in range(n):
                reset()
                example = [leaf[(slice(None),) * (d % leaf.dim()) + (i,)] if d is not None
                           else leaf for leaf, d in zip(leaves, dims)]
                results.append(func(*_unflatten(example, spec), **kwargs))
        out_leaves = [_flatten(r)[0] for r in results]
        out_spec = _flatten(results[0])[1]
        odims = ([out_dims] * len(out_leaves[0]) if isinstance(out_dims, int)
                 else _flatten(out_dims)[0])
        stacked = []
        for k, d in enumerate(odims):
            column = [r[k] for r in out_leaves]
            if not all(isinstance(c, Tensor) for c in column):
                raise ValueError(f"vmap: `{func.__name__}` must only return Tensors, got type "
                                 f"{type(column[0])}. Did you mean to set out_dims= to None for "
                                 f"output?")
            stacked.append(ndgrad.stack(column, d if d is not None else 0))
        return _unflatten(stacked, out_spec)

    return wrapper


@contextlib.contextmanager
def _same_randomness(same: bool) -> Iterator[Callable[[], None]]:
    """A reset() that, if same, puts the default generator back to where it was at the start."""
    gen = random.default_generator()
    state = gen.bit_generator.state

    def reset() -> None:
        if same:
            gen.bit_generator.state = state

    yield reset


# -- functional_call ------------------------------------------------------------------------------
def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None,
                    kwargs: Any = None, *, tie_weights: bool = True, strict: bool = False) -> Any:
    """module(*args, **kwargs) with its parameters and buffers replaced, for this call only,
    by the tensors of the given dict(s) (keys as in state_dict()): a module as a pure
    function of its weights, for grad, vmap and jacrev."""
    dicts = (parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, list | tuple)
             else [parameter_and_buffer_dicts])
    merged: dict[str, Any] = {}
    for d in dicts:
        for k, v in d.items():
            if k in merged:
                raise ValueError(f"{k} appeared in multiple dictionaries; behavior of "
                                 f"functional call is ambiguous")
            merged[k] = v
    if strict:
        expected = {n for n, _ in module.named_parameters()} | {n for n, _ in
                                                                module.named_buffers()}
        missing, unexpected = sorted(expected - set(merged)), sorted(set(merged) - expected)
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                               + "\n\t".join([f"Unexpected key(s): {', '.join(unexpected)}."]
                                             * bool(unexpected)
                                             + [f"Missing key(s): {', '.join(missing)}."]
                                             * bool(missing)))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    saved = []
    try:
        for name, value in merged.items():
            owner, attr = _owner(module, name)
            table = "_parameters" if attr in owner._parameters else "_buffers"
            if attr not in owner._parameters and attr not in owner._buffers:
                raise AttributeError(f"{type(owner).__name__} has no parameter or buffer named "
                                     f"'{attr}' (from '{name}')")
            saved.append((owner, table, attr, getattr(owner, table)[attr]))
            getattr(owner, table)[attr] = value
        return module(*args, **(kwargs or {}))
    finally:
        for owner, table, attr, old in reversed(saved):
            getattr(owner, table)[attr] = old


def _owner(module: Any, name: str) -> tuple[Any, str]:
    *path, attr = name.split(".")
    for part in path:
        module = module._modules[part]
    return module, attr


# -- stack_module_state -----------------------------------------------------------------------
def stack_module_state(models: Any) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The parameters and the buffers of same-class ``models``, each stacked along a new
    leading dim: ``(params, buffers)``, dicts by name, for ``vmap`` over
    ``functional_call`` (model ensembling). The stacked parameters are new leaves, detached
    from the models', that require grad."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    if len({type(m) for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(named: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        out = {}
        for name in named[0]:
            tensors = [n[name] for n in named]
            needs = {t.requires_grad for t in tensors}
            if len(needs) > 1:
                raise RuntimeError(f"Expected {name} from each model to have the same "
                                   f".requires_grad")
            out[name] = ndgrad.stack([t.detach() for t in tensors])
            if needs == {True}:
                out[name].requires_grad_()
        return out
    return (stacked([dict(m.named_parameters()) for m in models]),
            stacked([dict(m.named_buffers()) for m in models]))


# -- linearize, replace_all_batch_norm_modules_ -----------------------------------------------
def linearize(func: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is the Jacobian-vector product of
    func at ``primals`` (each call runs ``jvp`` again; torch compiles the linear map once)."""
    output = func(*primals)

    def jvp_fn(*tangents: Any) -> Any:
        return jvp(func, primals, tangents)[1]
    return output, jvp_fn


def replace_all_batch_norm_modules_(root: Any) -> Any:
    """In place: every BatchNorm in ``root`` stops tracking running statistics (they become
    None), so that it normalizes by each batch's own statistics, as under vmap."""
    from ndgrad.nn.modules.batchnorm import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
