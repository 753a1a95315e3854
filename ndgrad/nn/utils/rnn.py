"""Variable-length sequences for recurrent layers, as torch.nn.utils.rnn.

A batch of sequences of different lengths is either padded, (T, B, *) with filler past each
sequence's end, or packed: the rows of a ``PackedSequence`` hold, time step by time step, the
elements of the sequences still running at that step (longest sequences first), and
``batch_sizes[t]`` says how many there are. RNN, LSTM and GRU take packed input and never
compute on the filler. Every function here is differentiable in the sequences' values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from ndgrad import _dtype
from ndgrad.tensor import Tensor, cat, stack
from ndgrad.tensor.creation import full

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence_(NamedTuple):  # noqa: N801 - torch's name
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """The packed form of a batch of sequences: ``data`` (sum of lengths, *) time-major,
    ``batch_sizes`` (int64, one per time step), and the permutation that sorted the batch by
    length (``sorted_indices``) with its inverse (``unsorted_indices``), or None if it came
    sorted. Made by ``pack_padded_sequence`` / ``pack_sequence``, not by hand."""

    def __new__(cls, data: Any, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), ...)
            if not (isinstance(data, list | tuple) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The data converted as ``Tensor.to`` does; batch sizes and permutations unchanged."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self) -> PackedSequence:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> PackedSequence:
        return type(self)(self.data.cuda(*args, **kwargs), self.batch_sizes,
                          self.sorted_indices, self.unsorted_indices)

    def pin_memory(self) -> PackedSequence:
        return self  # CPU memory only: nothing to pin

    def double(self) -> PackedSequence:
        return self.to(dtype=_dtype.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=_dtype.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=_dtype.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=_dtype.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=_dtype.int32)

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse permutation: ``out[permutation[i]] = i``."""
    if permutation is None:
        return None
    p = permutation._data
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return Tensor._make(out)


def _lengths_array(lengths: Any) -> np.ndarray:
    if isinstance(lengths, Tensor):
        return lengths._data.astype(np.int64).reshape(-1)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _packed_rows(lengths: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """For lengths sorted longest first: batch_sizes (one per step) and, for each packed row,
    its position t * batch + b in a time-major padded batch."""
    steps = np.arange(int(lengths[0]) if lengths.size else 0)
    batch_sizes = (lengths[None, :] > steps[:, None]).sum(1).astype(np.int64)
    rows = np.concatenate([t * batch + np.arange(n) for t, n in zip(steps, batch_sizes,
                                                                   strict=True)]
                          or [np.zeros(0, np.int64)])
    return batch_sizes, rows.astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch, (T, B, *) or (B, T, *) with ``batch_first``, given each sequence's
    length. With ``enforce_sorted=False`` the batch is sorted by length first (and the
    permutation kept, so RNN outputs and ``pad_packed_sequence`` come back in input order)."""
    lens = _lengths_array(lengths)
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = Tensor._make(order.astype(np.int64))
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    elif lens.size > 1 and np.any(lens[1:] > lens[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if lens.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={batch})")
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if lens.size and lens.max() > steps:
        raise RuntimeError(f"a length of {int(lens.max())} is longer than the padded "
                           f"sequences ({steps} steps)")
    batch_sizes, rows = _packed_rows(lens, batch)
    data = input.reshape(steps * batch, *input.shape[2:])[rows]
    return PackedSequence(data, Tensor._make(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: the padded batch (``total_length`` steps if given, else
    the longest length) and the int64 lengths, both in the original batch order."""
    data, bs = sequence.data, sequence.batch_sizes._data.astype(np.int64)
    steps = bs.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    batch = int(bs[0]) if bs.size else 0
    lengths = (bs[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    _, rows = _packed_rows(lengths, batch)
    # every padded position takes a packed row, or the filler row appended after them
    n = data.shape[0]
    source = np.full(steps * batch, n, dtype=np.int64)
    source[rows] = np.arange(n)
    filler = full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    padded = cat([data, filler])[source].reshape(steps, batch, *data.shape[1:])
    if batch_first:
        padded = padded.transpose(0, 1)
    out_lengths = Tensor._make(lengths)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        out_lengths = Tensor._make(lengths[sequence.unsorted_indices._data])
    return padded, out_lengths


def pad_sequence(sequences: Any, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into (max L, B, *) (or (B, max L, *) with
    ``batch_first``), filling with ``padding_value`` after each (or before: ``"left"``)."""
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg "
                           f"of type: {type(sequences)}")
    seqs = tuple(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    trailing = tuple(seqs[0].shape[1:])
    for k, s in enumerate(seqs):
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must have the same trailing "
                               f"dims: sequence 0 has shape {list(seqs[0].shape)}, sequence "
                               f"{k} has {list(s.shape)}")
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        short = longest - s.shape[0]
        if short:
            filler = full((short, *trailing), padding_value, dtype=s.dtype)
            s = cat([s, filler] if padding_side == "right" else [filler, s])
        padded.append(s)
    return stack(padded, dim=0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences, each cut to its length."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = _lengths_array(lengths)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lens)]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shapes (L_i, *) (longest first, unless
    ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences a PackedSequence holds, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
