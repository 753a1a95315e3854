"""Fetching one batch (or one sample) from a dataset, in the main process or in a worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ndgrad.utils.data.collate import default_collate


class _MapFetcher:
    """Items by index: ``dataset[i]``, or ``dataset.__getitems__(indices)`` for a batch.

    With the default collate, a dataset that has ``_get_batch`` (TensorDataset, a Subset of
    one, MNIST without transforms) builds the batch with one fancy-index of its arrays.
    """

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any],
                 drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        get_batch = getattr(dataset, "_get_batch", None)
        self._get_batch = get_batch if collate_fn is default_collate else None

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self._get_batch is not None:
            indices = np.asarray(index)
            if indices.dtype.kind in "iu":  # anything else fails item by item, as in torch
                batch = self._get_batch(indices.astype(np.int64, copy=False))
                if batch is not None:
                    return batch
        if isinstance(index, np.ndarray):
            index = index.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        items = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(items)


class _IterableFetcher:
    """The next sample, or the next ``len(index)`` samples collated, of one pass over an
    IterableDataset; raises StopIteration when it runs out (or when ``drop_last`` drops the
    short last batch)."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any],
                 drop_last: bool) -> None:
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.stream: Iterator[Any] = iter(dataset)
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.stream))
        items = []
        for _ in index:
            try:
                items.append(next(self.stream))
            except StopIteration:
                self.ended = True
                break
        if not items or (self.drop_last and len(items) < len(index)):
            raise StopIteration
        return self.collate_fn(items)


def make_fetcher(iterable: bool, dataset: Any, auto_collation: bool,
                 collate_fn: Callable[[Any], Any], drop_last: bool) -> Any:
    kind = _IterableFetcher if iterable else _MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)
