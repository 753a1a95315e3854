"""Datasets as in torch.utils.data: Dataset, IterableDataset, TensorDataset, StackDataset,
ConcatDataset, ChainDataset, Subset and random_split.

A dataset may also define ``_get_batch(indices)``: given an int64 array of indices it returns
the already-collated batch (what ``default_collate`` would build from those items), or None when
it cannot. DataLoader uses it with the default collate so that a batch is one fancy-indexing of
whole arrays instead of a Python loop over items. A subclass that overrides ``__getitem__`` or
``__getitems__`` (to augment, say) must be asked item by item: ``_items_are_plain`` checks that.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any, Generic, TypeVar

import numpy as np

from ndgrad import random as _random
from ndgrad.tensor import Tensor
from ndgrad.utils.data.sampler import _check_generator

T_co = TypeVar("T_co", covariant=True)


def _items_are_plain(dataset: object, cls: type) -> bool:
    """True if ``dataset`` gets its items the way ``cls`` does (no overriding subclass)."""
    kind = type(dataset)
    return all(getattr(kind, name, None) is getattr(cls, name, None)
               for name in ("__getitem__", "__getitems__"))


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and usually ``__len__``."""

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset that is a stream: subclasses define ``__iter__`` (no indexing, no sampler)."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Item ``i`` is ``tuple(t[i] for t in tensors)``; all tensors share their first dim."""

    tensors: tuple[Tensor, ...]

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset expects Tensors, got {type(t).__name__}")
        n = tensors[0].shape[0] if tensors[0].ndim else None
        if n is None or any(t.ndim == 0 or t.shape[0] != n for t in tensors):
            raise ValueError(f"Size mismatch between tensors: every tensor needs the same first "
                             f"dimension, got shapes {[list(t.shape) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices: np.ndarray) -> list[Tensor] | None:
        if not _items_are_plain(self, TensorDataset):
            return None
        # A list, like default_collate of tuples; data only, detached as collate's copy is.
        return [Tensor._make(t._data[indices]) for t in self.tensors]


class StackDataset(Dataset[Any]):
    """Several datasets of one length side by side: item ``i`` is the tuple (positional
    datasets) or dict (keyword datasets) of their items ``i``."""

    datasets: tuple[Dataset[Any], ...] | dict[str, Dataset[Any]]

    def __init__(self, *args: Dataset[Any], **kwargs: Dataset[Any]) -> None:
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = list(args or kwargs.values())
        self._length = len(parts[0])  # type: ignore[arg-type]
        if any(len(d) != self._length for d in parts):  # type: ignore[arg-type]
            raise ValueError("Size mismatch between datasets")
        self.datasets = args or kwargs

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices: list[int]) -> list[Any]:
        named = isinstance(self.datasets, dict)
        parts = list(self.datasets.values() if isinstance(self.datasets, dict) else self.datasets)
        columns = []
        for d in parts:
            getitems = getattr(d, "__getitems__", None)
            column = getitems(indices) if callable(getitems) else [d[i] for i in indices]
            if len(column) != len(indices):
                raise ValueError(f"Nested dataset's output size mismatch. Expected "
                                 f"{len(indices)}, got {len(column)}")
            columns.append(column)
        if named:
            return [dict(zip(self.datasets, row)) for row in zip(*columns)]
        return [tuple(row) for row in zip(*columns)]

    def __len__(self) -> int:
        return self._length


class Subset(Dataset[T_co]):
    """The items of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._index_array: np.ndarray | None = None
        kind = type(self)
        if kind.__getitem__ is not Subset.__getitem__ and \
                kind.__getitems__ is Subset.__getitems__:  # DataLoader would bypass __getitem__
            raise NotImplementedError(
                f"{kind.__name__} overrides __getitem__ but not __getitems__. When subclassing "
                f"Subset and overriding __getitem__, you must also override __getitems__ to "
                f"ensure DataLoader works correctly with your custom logic. A simple "
                f"implementation:\n\ndef __getitems__(self, indices):\n    return "
                f"[self.__getitem__(idx) for idx in indices]")

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]  # type: ignore[index]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[T_co]:
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def _get_batch(self, indices: np.ndarray) -> Any:
        get = getattr(self.dataset, "_get_batch", None)
        if get is None or not _items_are_plain(self, Subset):
            return None
        if self._index_array is None:
            self._index_array = np.asarray(self.indices, dtype=np.int64)
        return get(self._index_array[indices])


class ConcatDataset(Dataset[T_co]):
    """Several datasets one after another."""

    def __init__(self, datasets: Sequence[Dataset[Any]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))  # type: ignore

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset[Any]):
    """Several IterableDatasets, one stream after another (chained as they are iterated)."""

    def __init__(self, datasets: Iterable[Dataset[Any]]) -> None:
        self.datasets = datasets

    def _parts(self) -> Iterator[IterableDataset[Any]]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got "
                                f"{type(d).__name__}")
            yield d

    def __iter__(self) -> Iterator[Any]:
        for d in self._parts():
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self._parts())  # type: ignore[arg-type, misc]


def random_split(dataset: Dataset[T_co], lengths: Sequence[int | float],
                 generator: np.random.Generator | None = None) -> list[Subset[T_co]]:
    """Split into non-overlapping random subsets of the given lengths (or fractions summing to 1).

    Fractions are floored, then the remainder is handed out one item at a time from the first
    subset on, as in torch. ``generator`` defaults to the global one (see ndgrad.manual_seed).
    """
    n = len(dataset)  # type: ignore[arg-type]
    sizes: list[Any] = list(lengths)
    if math.isclose(sum(sizes), 1) and sum(sizes) <= 1:
        for i, frac in enumerate(sizes):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts = [math.floor(n * frac) for frac in sizes]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                              f"dataset.", stacklevel=2)
        sizes = counts
    for s in sizes:
        if not isinstance(s, int | np.integer) or s < 0:
            raise ValueError(f"random_split lengths must be non-negative integers or fractions "
                             f"summing to 1, got {list(lengths)}")
    if sum(sizes) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    _check_generator(generator)
    rng = generator if generator is not None else _random.default_generator()
    perm = rng.permutation(n).tolist()
    return [Subset(dataset, perm[end - size:end])
            for end, size in zip(accumulate(sizes), sizes)]
