"""torch.distributed's coalesced collectives, which torch deprecates (a FutureWarning on every
call) but still ships: one reduction or gather for a whole list of tensors.

Each packs the list into one flat array (the tensors must share a dtype), runs a single MPI
collective on it and unpacks the result into the tensors. Unlike torch, which leaves the shapes
unchecked, the ranks' shapes are compared first, as every collective of ndgrad's does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad.distributed.collectives import (
    ReduceOp,
    Work,
    _array,
    _average,
    _check_same,
    _group,
    _mpi_op,
    _write_back,
)
from ndgrad.distributed.process_group import ProcessGroup, _mpi
from ndgrad.tensor import Tensor

_DEPRECATED = ("`ndgrad.distributed.{}` will be deprecated. If you must use it, please revisit "
               "our documentation later at "
               "https://pytorch.org/docs/main/distributed.html#collective-functions")


def _tensor_list(tensors: Any, fn: str, arg: str) -> list[Tensor]:
    """``tensors`` as a list of Tensors of one dtype (torch's checks and messages)."""
    if not isinstance(tensors, list | tuple) or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{fn}: Invalid function argument. Expected parameter `{arg}` of type "
                        f"List[ndgrad.Tensor] but got {type(tensors).__name__}")
    dtypes = [t.dtype for t in tensors]
    for d in dtypes[1:]:
        if d != dtypes[0]:
            raise ValueError(f"{fn}: Invalid usage of tensors with different dtypes. Found "
                             f"{dtypes[0]} and {d}")
    return list(tensors)


def _flat(arrays: Sequence[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """The arrays' elements, one after another, in one new contiguous array."""
    if not arrays:
        return np.empty(0, dtype)
    return np.concatenate([a.reshape(-1) for a in arrays])


def _unpack(flat: np.ndarray, tensors: Sequence[Tensor]) -> None:
    """Write ``flat``'s consecutive pieces into ``tensors`` (and bump their versions)."""
    start = 0
    for t in tensors:
        n = t._data.size
        _write_back(t, flat[start:start + n])
        start += n


def _shapes(arrays: Sequence[np.ndarray]) -> str:
    return str([list(a.shape) for a in arrays])


def _finish(work: Work, async_op: bool) -> Any:
    """torch's coalesced calls give a Future of the tensors with ``async_op=True``."""
    if async_op:
        return work.get_future()
    work.wait()
    return None


def all_reduce_coalesced(tensors: Tensor | list[Tensor], op: ReduceOp = ReduceOp.SUM,
                         group: ProcessGroup | None = None, async_op: bool = False) -> Any:
    """``all_reduce`` each tensor of ``tensors`` (in place, every rank the same list of shapes
    and one dtype) with one MPI reduction. Deprecated in torch: warns FutureWarning."""
    fn = "all_reduce_coalesced"
    warnings.warn(_DEPRECATED.format(fn), FutureWarning, stacklevel=2)
    tensors = _tensor_list([tensors] if isinstance(tensors, Tensor) else tensors, fn, "tensor")
    pg = _group(group, fn)
    if pg is None:
        return None
    arrays = [_array(t, fn, "tensors", write=True) for t in tensors]
    dtype = arrays[0].dtype if arrays else np.dtype(np.float32)
    mpi_op = _mpi_op(op, dtype, fn)
    flat = _flat(arrays, dtype)
    _check_same(pg, fn, f"op={op.name}, shapes {_shapes(arrays)}", flat)
    request = pg.comm.Iallreduce(_mpi().IN_PLACE, flat, mpi_op)

    def finish() -> None:
        _average(flat, op, pg.size())
        _unpack(flat, tensors)
    return _finish(Work([request], finish, tensors), async_op)


def all_gather_coalesced(output_tensor_lists: list[list[Tensor]],
                         input_tensor_list: list[Tensor], group: ProcessGroup | None = None,
                         async_op: bool = False) -> Any:
    """``output_tensor_lists[r][i]`` receives rank r's ``input_tensor_list[i]``, on every rank,
    with one MPI gather. Deprecated in torch: warns FutureWarning."""
    fn = "all_gather_coalesced"
    warnings.warn(_DEPRECATED.format(fn), FutureWarning, stacklevel=2)
    pg = _group(group, fn)
    if pg is None:
        return None
    inputs = _tensor_list(input_tensor_list, fn, "input_tensor_list")
    if not isinstance(output_tensor_lists, list):
        raise TypeError("Invalid function argument: output_tensor_lists should be a list")
    outputs = [_tensor_list(out, fn, "output_tensor_lists") for out in output_tensor_lists]
    ins = [_array(t, fn, "input_tensor_list") for t in inputs]
    if len(outputs) != pg.size():
        raise ValueError(f"{fn}: output_tensor_lists must hold one list per rank "
                         f"({pg.size()}), got {len(outputs)}")
    for r, out in enumerate(outputs):
        outs = [_array(t, fn, "output_tensor_lists", write=True) for t in out]
        if [(a.shape, a.dtype) for a in outs] != [(a.shape, a.dtype) for a in ins]:
            raise ValueError(f"{fn}: output_tensor_lists[{r}] holds shapes {_shapes(outs)} "
                             f"{outs[0].dtype if outs else ''}, but input_tensor_list holds "
                             f"{_shapes(ins)} {ins[0].dtype if ins else ''}; they must match")
    dtype = ins[0].dtype if ins else np.dtype(np.float32)
    flat = _flat(ins, dtype)
    _check_same(pg, fn, f"shapes {_shapes(ins)}", flat)
    recv = np.empty((pg.size(), flat.size), dtype)  # (world, elements of every input)
    request = pg.comm.Iallgather(flat, recv)

    def finish() -> None:
        for out, part in zip(outputs, recv):
            _unpack(part, out)
    return _finish(Work([request], finish, [t for out in outputs for t in out]), async_op)
