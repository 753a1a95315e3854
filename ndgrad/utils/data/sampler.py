"""Samplers: which dataset indices a DataLoader visits, and in what order, as in torch.

Every built-in sampler draws lazily: iterating starts at once and holds at most one chunk of
indices (a permutation of the dataset, or ``_CHUNK`` draws with replacement), so the endless
loader ``RandomSampler(ds, replacement=True, num_samples=int(1e10))`` costs what a short one
does. The chunks are int64 arrays (``_index_chunks()``, a private protocol any sampler may
offer), from which BatchSampler cuts batches without a Python loop per index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from ndgrad import random as _random
from ndgrad.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)

_CHUNK = 1 << 16  # indices drawn per call when sampling with replacement (512 KiB of int64)


def _check_generator(generator: Any) -> None:
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be an ndgrad.Generator or a numpy.random.Generator, "
                        f"got {type(generator).__name__}")


def _pass_rng(generator: Any) -> np.random.Generator:
    """The generator one pass draws from: ``generator`` itself, else (as torch does) a fresh one
    seeded by one draw from the global generator, so that lazy draws made between training steps
    do not shift the model's random stream."""
    if generator is not None:
        return generator
    return np.random.default_rng(int(_random.default_generator().integers(2**63)))


class Sampler(Generic[T_co]):
    """Base class: iterating a sampler yields dataset indices (or, for BatchSampler, lists)."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError


class _ChunkedSampler(Sampler[int]):
    """A sampler whose pass is a stream of int64 arrays; iterating it yields their items."""

    def _index_chunks(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[int]:
        for chunk in self._index_chunks():
            yield from chunk.tolist()


class SequentialSampler(_ChunkedSampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _index_chunks(self) -> Iterator[np.ndarray]:
        n = len(self.data_source)
        for start in range(0, n, _CHUNK):
            yield np.arange(start, min(start + _CHUNK, n), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_ChunkedSampler):
    """A random permutation per pass; or ``num_samples`` indices: whole permutations then part of
    one more, or (``replacement=True``) independent uniform draws."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")
        _check_generator(generator)

    @property
    def num_samples(self) -> int:
        # the dataset may grow or shrink between passes, as in torch
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_chunks(self) -> Iterator[np.ndarray]:
        n, total, rng = len(self.data_source), self.num_samples, _pass_rng(self.generator)
        if self.replacement:
            for start in range(0, total, _CHUNK):
                yield rng.integers(0, n, min(_CHUNK, total - start), dtype=np.int64)
            return
        for _ in range(total // n):
            yield rng.permutation(n)
        if total % n:
            yield rng.permutation(n)[:total % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_ChunkedSampler):
    """The given indices in a new random order each pass."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        _check_generator(generator)
        self.indices = indices
        self.generator = generator

    def _index_chunks(self) -> Iterator[np.ndarray]:
        perm = _pass_rng(self.generator).permutation(len(self.indices))
        yield np.asarray(self.indices)[perm]  # any keys, not only ints: tolist() gives them back

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_ChunkedSampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``.

    With ``replacement=False`` each index is drawn at most once: each draw is proportional to
    the weights of the indices not drawn yet, as torch.multinomial does.
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        _check_generator(generator)
        w = np.asarray(weights.numpy() if isinstance(weights, Tensor) else weights, np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights must be finite and non-negative (torch.multinomial: "
                             "probability tensor contains either `inf`, `nan` or element < 0)")
        if not w.sum() > 0:
            raise ValueError("weights must not all be zero (torch.multinomial: invalid "
                             "multinomial distribution (sum of probabilities <= 0))")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"cannot draw {num_samples} samples without replacement from "
                             f"{np.count_nonzero(w)} indices of non-zero weight")
        self.weights, self.num_samples = w, num_samples
        self.replacement, self.generator = replacement, generator

    def _index_chunks(self) -> Iterator[np.ndarray]:
        rng = _pass_rng(self.generator)
        p = self.weights / self.weights.sum()
        if not self.replacement:  # at most len(weights) indices: one array
            yield rng.choice(len(p), self.num_samples, replace=False, p=p).astype(np.int64)
            return
        # inverse-CDF sampling: u in [0, 1) lands in index i's interval [cdf[i-1], cdf[i]),
        # which is empty for a zero weight
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        for start in range(0, self.num_samples, _CHUNK):
            u = rng.random(min(_CHUNK, self.num_samples - start))
            yield np.searchsorted(cdf, u, side="right").astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups another sampler's indices into lists of ``batch_size``."""

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def _index_batches(self) -> Iterator[Any]:
        """One pass's batches; int64 arrays cut from the sampler's chunks when it has them
        (the DataLoader's fast path), else the lists ``__iter__`` gives."""
        chunks = getattr(self.sampler, "_index_chunks", None)
        if chunks is None or (isinstance(self.sampler, _ChunkedSampler)
                              and not _iter_is_builtin(self.sampler)):
            yield from self
            return
        size = self.batch_size
        pending: list[np.ndarray] = []  # the start of a batch that spans two chunks
        have = 0
        for chunk in chunks():
            start = 0
            if have:
                pending.append(chunk[:size - have])
                start = len(pending[-1])
                have += start
                if have < size:
                    continue
                yield np.concatenate(pending)
                pending, have = [], 0
            stop = start + (len(chunk) - start) // size * size
            for i in range(start, stop, size):
                yield chunk[i:i + size]
            if stop < len(chunk):
                pending, have = [chunk[stop:]], len(chunk) - stop
        if have and not self.drop_last:
            yield np.concatenate(pending)

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _iter_is_builtin(sampler: _ChunkedSampler) -> bool:
    """True unless a subclass overrides ``__iter__``: then its own order must be used."""
    for cls in type(sampler).__mro__:
        if "__iter__" in vars(cls):
            return cls.__module__ == __name__
    return False
