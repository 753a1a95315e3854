"""default_collate and default_convert: how a DataLoader turns samples into batches, as torch.

The rules follow torch's table: Tensors and NumPy arrays are stacked along a new first dim,
Python floats become float64 and ints int64 Tensors, NumPy scalars keep their dtype, strings and
bytes stay a list, and mappings, namedtuples and sequences are collated field by field (a tuple
sample gives a list of batches, for backward compatibility, as in torch).
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ndgrad.tensor import Tensor, stack
from ndgrad.tensor.creation import as_tensor, tensor

_COLLATE_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                "lists; found {}")
_STR_OR_OBJECT = re.compile(r"[SaUO]")  # NumPy dtype codes that cannot become a Tensor


def _collate_tensors(batch: Sequence[Tensor]) -> Tensor:
    if any(t.requires_grad for t in batch) or any(t.dtype != batch[0].dtype for t in batch):
        return stack(list(batch))  # keeps the graph / promotes dtypes, as torch.stack does
    shape = batch[0].shape
    for i, t in enumerate(batch):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    return Tensor._make(np.stack([t._data for t in batch]))


def _rebuild(elem: Any, fields: Any) -> Any:
    """A container like ``elem`` holding ``fields`` (a dict or list): a copy of a mutable one,
    else its type called on them, else the plain dict/list (as torch falls back)."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            mapping = copy.copy(elem)  # keeps an OrderedDict's or defaultdict's kind
            mapping.update(fields)
            return mapping
        if isinstance(elem, collections.abc.MutableSequence):
            sequence = copy.copy(elem)
            for i, value in enumerate(fields):
                sequence[i] = value
            return sequence
        return type(elem)(fields)
    except TypeError:
        return fields


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch, recursing into dicts, namedtuples and sequences."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _collate_tensors(batch)
    if isinstance(elem, np.ndarray):
        if _STR_OR_OBJECT.search(elem.dtype.str) is not None:
            raise TypeError(_COLLATE_ERR.format(elem.dtype))
        return _collate_tensors([as_tensor(b) for b in batch])
    if isinstance(elem, np.bool_ | np.number | np.object_):
        return as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype="float64")
    if isinstance(elem, int):  # bool too: [True, False] gives a bool Tensor, [True, 2] int64
        return tensor(batch)
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _rebuild(elem, fields)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # torch returns a list here, for backward compatibility
        return _rebuild(elem, columns)
    raise TypeError(_COLLATE_ERR.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays and scalars into Tensors, recursively (the collate of batch_size=None);
    arrays of strings or objects and everything else are left as they are."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _STR_OR_OBJECT.search(data.dtype.str) else as_tensor(data)
    if isinstance(data, np.bool_ | np.number):
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        return _rebuild(data, fields)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        items = [default_convert(d) for d in data]
        return _rebuild(data, items)
    return data
