# ruff: noqa: N999 - torch's module name
"""torch's PowerSGD communication hooks (Vogels et al., https://arxiv.org/abs/1905.13727):
a gradient matrix M (n x m) travels as two thin factors, P = M Q (n x r) and Q = M^T P
(m x r), so it costs (n + m) r numbers on the wire instead of n m.

``powerSGD_hook`` compresses layer by layer (vectors, and matrices too small to gain, are
all-reduced as they are); ``batched_powerSGD_hook`` views the whole bucket as one square
matrix. Both run plain all-reduce for the first ``start_powerSGD_iter`` iterations, keep the
compression error to add to the next gradient (error feedback) and start each power iteration
from the last Q (warm start). ``PowerSGDState`` holds the settings and this memory.

The algorithm is torch's (torch/distributed/algorithms/ddp_comm_hooks/powerSGD_hook.py) step
for step, so from the same initial Q it gives torch's averages within rounding. The initial Q
is drawn from seeds that ``np.random.RandomState(random_seed)`` gives, as torch's, but by
ndgrad's generator, which is not torch's: the numbers differ. Where it departs from torch 2.13
on purpose: ``batched_powerSGD_hook`` works (torch's raises AssertionError on its first
compressed iteration); without warm start a bucket forgets only its own P and Q (see
``_forget``); the batched hook pads a copy of the bucket, as ndgrad's tensors cannot grow.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from ndgrad import _dtype
from ndgrad.distributed.algorithms.ddp_comm_hooks import default_hooks as default
from ndgrad.distributed.collectives import all_reduce
from ndgrad.distributed.grad_bucket import GradBucket
from ndgrad.distributed.process_group import ProcessGroup, _default_group
from ndgrad.futures import Future
from ndgrad.linalg import qr
from ndgrad.random import fork_rng, manual_seed
from ndgrad.tensor import Size, Tensor, cat, stack
from ndgrad.tensor.creation import empty, randn, zeros

__all__ = ["PowerSGDState", "batched_powerSGD_hook", "powerSGD_hook"]

logger = logging.getLogger(__name__)


def _orthogonalize(matrices: Tensor, epsilon: float = 0) -> None:
    """Orthonormalize the columns of each matrix of a batch (B, n, r), r <= n, in place: by
    Gram-Schmidt for r <= 2 or half precision (where QR does not work), else by QR, which is
    faster for larger r (torch's choice, on every device)."""
    if not (matrices.dim() == 3 and matrices.shape[2] <= matrices.shape[1]):
        raise AssertionError(f"PowerSGD orthogonalizes a batch of matrices (B, n, r) with "
                             f"r <= n, got shape {list(matrices.shape)}")
    rank = matrices.shape[2]
    if rank <= 2 or matrices.dtype in (_dtype.float16, _dtype.bfloat16):
        _orthogonalize_gram_schmidt(matrices, epsilon=epsilon)
    else:
        matrices.copy_(qr(matrices)[0])  # torch: linalg.qr(matrices, out=(matrices, R))


def _orthogonalize_gram_schmidt(matrices: Tensor, epsilon: float = 0) -> None:
    """Gram-Schmidt on each matrix of the batch, in place; with ``epsilon`` 0 it is QR's Q.

    A column of zeros (a vanishing gradient) becomes NaN when ``epsilon`` is 0, as in torch
    (whose ZeroDivisionError handler for it never runs: tensors do not raise): set
    ``orthogonalization_epsilon`` to e.g. 1e-8 where that can happen."""
    num_cols = matrices.shape[2]
    for i in range(num_cols):
        col = matrices[:, :, i:i + 1]  # (B, n, 1), a view: the division writes into matrices
        if epsilon == 0:
            col /= col.norm(dim=1, keepdim=True)
        else:
            col /= col.norm(dim=1, keepdim=True) + epsilon
        if i + 1 < num_cols:  # remove its projection from the columns after it
            rest = matrices[:, :, i + 1:]
            rest -= (col * rest).sum(dim=1, keepdim=True) * col


def _should_compress(num_rows: int, num_cols: int, matrix_approximation_rank: int,
                     min_compression_rate: float) -> tuple[bool, int, int]:
    """(worth compressing, elements before, elements after) for an n x m matrix: worth it when
    ``min_compression_rate`` < n m / ((n + m) rank)."""
    uncompressed_size = num_rows * num_cols
    compressed_size = (num_rows + num_cols) * matrix_approximation_rank
    return (compressed_size * min_compression_rate < uncompressed_size,
            uncompressed_size, compressed_size)


def _report_compression_stats(bucket: GradBucket, state: PowerSGDState) -> None:
    """Log the compression statistics every ``compression_stats_logging_frequency``
    iterations (on the iteration's last bucket)."""
    if bucket.is_last() and state.iter >= state.next_stats_report:
        stats = state.compression_stats()
        logger.info("Compression stats: iter %s, total before compression %s, total after "
                    "compression %s, rate %s", state.iter, stats[1], stats[2], stats[0])
        state.next_stats_report = state.iter + state.compression_stats_logging_frequency


class PowerSGDState:
    """torch.distributed.algorithms.ddp_comm_hooks.powerSGD_hook.PowerSGDState: the settings of
    PowerSGD and its memory across iterations, one object for all the buckets.

    * ``matrix_approximation_rank`` (r): the width of P and Q; lower compresses more. Start at
      1 and double until the accuracy is good enough (1-4 usually, 32 for some NLP tasks).
    * ``start_powerSGD_iter``: plain all-reduce before this iteration; early training is
      sensitive to inexact gradients (try 10% of the steps, no fewer than a warm-up's).
    * ``min_compression_rate``: a matrix is compressed only if n m > (n + m) r times this.
    * ``use_error_feedback``: add what compression lost to the next gradient (PowerSGD is
      biased without it); ``warm_start``: start from the last iteration's Q. Both need
      ``start_powerSGD_iter`` > 1 (torch's DDP rebuilds its buckets after iteration 1).
    * ``orthogonalization_epsilon``: added to each column's norm, so that a column of zeros
      does not give NaN.
    * ``random_seed``: seeds ``np.random.RandomState``, whose draws seed each initial Q, the
      same on every rank.
    * ``compression_stats_logging_frequency``: log ``compression_stats()`` this often.
    * ``batch_tensors_with_same_shape``: compress same-shaped gradients of a bucket as one
      batch (faster on GPUs; the same numbers).
    """

    __slots__ = [
        "process_group",
        # tuned by the user
        "matrix_approximation_rank",
        "start_powerSGD_iter",
        # seldom tuned
        "min_compression_rate",
        "orthogonalization_epsilon",
        # best left on
        "use_error_feedback",
        "warm_start",
        "batch_tensors_with_same_shape",
        # internal state
        "rng",
        "error_dict",
        "p_memory_dict",
        "q_memory_dict",
        "iter",
        # compression statistics
        "total_numel_before_compression",
        "total_numel_after_compression",
        "compression_stats_logging_frequency",
        "next_stats_report",
    ]

    def __init__(self, process_group: ProcessGroup | None, matrix_approximation_rank: int = 1,
                 start_powerSGD_iter: int = 1_000, min_compression_rate: float = 2,
                 use_error_feedback: bool = True, warm_start: bool = True,
                 orthogonalization_epsilon: float = 0, random_seed: int = 0,
                 compression_stats_logging_frequency: int = 10_000,
                 batch_tensors_with_same_shape: bool = False) -> None:
        import numpy as np

        logger.info(
            "PowerSGD config: matrix_approximation_rank = %s; start_powerSGD_iter = %s; "
            "min_compression_rate = %s; orthogonalization_epsilon = %s; use_error_feedback = "
            "%s; warm_start = %s; random_seed = %s; compression_stats_logging_frequency = %s; "
            "batch_tensors_with_same_shape = %s", matrix_approximation_rank,
            start_powerSGD_iter, min_compression_rate, orthogonalization_epsilon,
            use_error_feedback, warm_start, random_seed, compression_stats_logging_frequency,
            batch_tensors_with_same_shape)
        self.process_group = process_group
        self.matrix_approximation_rank = matrix_approximation_rank
        # plain all-reduce first: early training suffers from compression, and the error and
        # the warm-start memory are per bucket, which must not change shape any more
        if (use_error_feedback or warm_start) and start_powerSGD_iter <= 1:
            raise ValueError(
                "Expect `start_powerSGD_iter` > 1 if `use_error_feedback` or `warm_start` is "
                "enabled, because PowerSGD can only be applied after the first two iterations "
                "in DDP.")
        self.start_powerSGD_iter = start_powerSGD_iter
        self.min_compression_rate = min_compression_rate
        self.use_error_feedback = use_error_feedback
        self.warm_start = warm_start
        self.orthogonalization_epsilon = orthogonalization_epsilon
        # seeds for the initial Q: a new projection each time, the same on every rank
        self.rng = np.random.RandomState(random_seed)
        # bucket index -> this rank's compression error; the last P and Q (flat)
        self.error_dict: dict[int, Tensor] = {}
        self.p_memory_dict: dict[int, Tensor] = {}
        self.q_memory_dict: dict[int, Tensor] = {}
        self.iter = 0  # iterations seen (counted on each iteration's last bucket)
        self.total_numel_before_compression = 0
        self.total_numel_after_compression = 0
        self.compression_stats_logging_frequency = max(1, compression_stats_logging_frequency)
        self.next_stats_report = 0  # the statistics are logged at least once
        self.batch_tensors_with_same_shape = batch_tensors_with_same_shape

    def __getstate__(self) -> dict[str, Any]:
        """Every slot but ``process_group``, which cannot be pickled."""
        logger.warning("NOTE: Process group is not serializable and excluded from a saved "
                       "state.")
        return {slot: getattr(self, slot) for slot in self.__slots__ if slot != "process_group"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore the slots; ``process_group`` becomes the default group (the whole job)."""
        self.process_group = _default_group(None)
        logger.warning("NOTE: Process group will be set to a default group (i.e. the world "
                       "size). If a different group is desired, please set "
                       "`self.process_group` after PowerSGD state is loaded.")
        for slot, value in state.items():
            setattr(self, slot, value)

    def maybe_increase_iter(self, bucket: GradBucket) -> None:
        """Count an iteration at its last bucket; log when PowerSGD starts."""
        if bucket.is_last():
            self.iter += 1
        if self.iter == self.start_powerSGD_iter:
            logger.info("Start to apply PowerSGD after %s iterations.", self.iter)

    def compression_stats(self) -> tuple[float, int, int]:
        """(compression rate, elements before compression, elements after) over all the
        compressed iterations so far; the rate is 0 before any."""
        compress_rate = (self.total_numel_before_compression
                         / self.total_numel_after_compression
                         if self.total_numel_after_compression > 0 else 0)
        return (compress_rate, self.total_numel_before_compression,
                self.total_numel_after_compression)


def _forget(state: PowerSGDState, bucket_index: int) -> None:
    """Without warm start, drop this bucket's P and Q once it is done. torch clears the
    dicts of all buckets; that is the same while each bucket finishes before the next
    begins, but ndgrad's DDP hands out every bucket before it waits for the first, and the
    later buckets' P and Q would go before they are used."""
    state.p_memory_dict.pop(bucket_index, None)
    state.q_memory_dict.pop(bucket_index, None)


def powerSGD_hook(state: PowerSGDState, bucket: GradBucket) -> Future[Tensor]:
    """PowerSGD, layer by layer: for the first ``state.start_powerSGD_iter`` iterations a
    plain all-reduce; then

    1. each gradient, viewed as a matrix (n, -1), is compressed if that saves enough
       (``min_compression_rate``); the rest (biases and other vectors, small matrices) are
       all-reduced uncompressed, as one flat tensor;
    2. for each compressed M: P = M Q from the last (or a random) Q, orthogonalized; the Ps
       all-reduced as one tensor (not averaged: they are orthogonalized next); P
       orthogonalized; Q = M^T P; the Qs all-reduced and averaged; M = P Q^T.

    With error feedback each rank adds its last compression error to the gradient first.
    ``state.batch_tensors_with_same_shape`` runs the steps on same-shaped matrices as one
    batch. The Future holds the bucket's buffer, overwritten with the averages.

    >>> state = PowerSGDState(process_group=None, matrix_approximation_rank=1,
    ...                       start_powerSGD_iter=10, min_compression_rate=0.5)
    >>> ddp_model.register_comm_hook(state, powerSGD_hook)  # doctest: +SKIP
    """
    group_to_use = _default_group(state.process_group)
    world_size = group_to_use.size()
    input_tensor = bucket.buffer()  # (total_length,)

    if state.iter < state.start_powerSGD_iter:  # warm-up: plain averaging
        state.maybe_increase_iter(bucket)
        return default._allreduce_fut(group_to_use, input_tensor)

    dtype = input_tensor.dtype
    bucket_index = bucket.index()
    input_tensor_cp = None
    total_length = input_tensor.shape[0]
    if state.use_error_feedback:
        if bucket_index in state.error_dict:
            input_tensor.add_(state.error_dict[bucket_index])
        else:
            logger.info("A zero tensor of length %s that represents local error is created.",
                        total_length)
            state.error_dict[bucket_index] = zeros(total_length, dtype=dtype)
        # the error, after decompression, is this copy minus the result
        input_tensor_cp = input_tensor.detach().clone()

    tensors = bucket.gradients()  # views of input_tensor, shaped like the parameters

    # I. Which tensors to compress, as (n, m) matrices; the sizes of all their Ps and Qs
    tensors_to_compress: list[Tensor] = []
    uncompressed_tensors: list[Tensor] = []
    total_Ps_size = 0
    total_Qs_size = 0
    for tensor in tensors:
        matrix = tensor.view(tensor.shape[0], -1)
        n, m = matrix.shape
        matrix_approximation_rank = min(n, m, state.matrix_approximation_rank)
        compress_test = _should_compress(n, m, matrix_approximation_rank,
                                         state.min_compression_rate)
        state.total_numel_before_compression += compress_test[1]
        if compress_test[0]:
            tensors_to_compress.append(matrix)
            total_Ps_size += n * matrix_approximation_rank
            total_Qs_size += m * matrix_approximation_rank
            state.total_numel_after_compression += compress_test[2]
        else:
            uncompressed_tensors.append(tensor)
            state.total_numel_after_compression += compress_test[1]

    _report_compression_stats(bucket, state)

    # II. The uncompressed tensors, contiguous for one all-reduce
    uncompressed_tensors_memory = (cat([t.view(-1) for t in uncompressed_tensors])
                                   if uncompressed_tensors else empty(0, dtype=dtype))

    # III. Memory for all the Ps and Qs of the bucket (kept for the next iteration with warm
    # start); a random Q the first time, or every time without warm start
    need_randomize_qs = False
    if not state.warm_start or bucket_index not in state.p_memory_dict:
        need_randomize_qs = True
        if state.warm_start:  # logged once only, not every iteration
            logger.info("Allocating contiguous memory of length %s for Ps, and of length %s "
                        "for Qs, respectively.", total_Ps_size, total_Qs_size)
        state.p_memory_dict[bucket_index] = empty(total_Ps_size, dtype=dtype)
        state.q_memory_dict[bucket_index] = empty(total_Qs_size, dtype=dtype)

    shape_to_tensors: defaultdict[Size, list[Tensor]] = defaultdict(list)
    for tensor in tensors_to_compress:
        shape_to_tensors[tensor.shape].append(tensor)

    def maybe_batched_tensors_to_compress() -> Iterator[Tensor]:
        """(B, n, m) batches: same-shaped matrices stacked (a copy), or one at a time (a
        view of the bucket)."""
        for same_shape in shape_to_tensors.values():
            if state.batch_tensors_with_same_shape and len(same_shape) > 1:
                yield stack(same_shape)
            else:
                for tensor in same_shape:
                    yield tensor.unsqueeze(0)

    # each batch's P (B, n, r) and Q (B, m, r): views of the bucket's P and Q memory
    tensors_to_compress = []
    ps: list[Tensor] = []
    qs: list[Tensor] = []
    p_idx = 0
    q_idx = 0
    for tensor in maybe_batched_tensors_to_compress():
        batch_size, n, m = tensor.shape
        matrix_approximation_rank = min(n, m, state.matrix_approximation_rank)
        tensors_to_compress.append(tensor)
        p_len = batch_size * n * matrix_approximation_rank
        q_len = batch_size * m * matrix_approximation_rank
        ps.append(state.p_memory_dict[bucket_index][p_idx:p_idx + p_len].view(
            batch_size, n, matrix_approximation_rank))
        qs.append(state.q_memory_dict[bucket_index][q_idx:q_idx + q_len].view(
            batch_size, m, matrix_approximation_rank))
        p_idx += p_len
        q_idx += q_len

    if not need_randomize_qs:
        for q in qs:
            _orthogonalize(q, state.orthogonalization_epsilon)
    else:
        # a forked generator, so that training's random numbers do not change; the seed is
        # the same on every rank and new each time
        with fork_rng(devices=[]):
            manual_seed(int(state.rng.randint(1_000_000_000)))
            for q in qs:
                q.copy_(randn(*q.shape, dtype=dtype))
                _orthogonalize(q, state.orthogonalization_epsilon)

    for tensor, q, p in zip(tensors_to_compress, qs, ps):
        p.copy_(tensor.bmm(q))  # P = M Q: (B, n, m) @ (B, m, r)

    allreduce_contiguous_uncompressed_tensors_fut = default._future(
        all_reduce(uncompressed_tensors_memory, group=group_to_use, async_op=True))

    def unpack_uncompressed_tensors_and_allreduce_ps(fut: Future[list[Tensor]]) -> Tensor:
        memory = fut.value()[0].div_(world_size)
        idx = 0
        for tensor in uncompressed_tensors:
            tensor.copy_(memory[idx:idx + tensor.numel()].view_as(tensor))
            idx += tensor.numel()
        # summed, not averaged: the Ps are orthogonalized next
        return default._future(all_reduce(state.p_memory_dict[bucket_index], group=group_to_use,
                                  async_op=True)).wait()[0]

    def compute_qs(fut: Future[Tensor]) -> Tensor:
        state.p_memory_dict[bucket_index] = fut.value()
        for p in ps:
            _orthogonalize(p, state.orthogonalization_epsilon)
        for tensor, p, q in zip(tensors_to_compress, ps, qs):
            q.copy_(tensor.transpose(1, 2).bmm(p))  # Q = M^T P: (B, m, n) @ (B, n, r)
        return default._future(all_reduce(state.q_memory_dict[bucket_index], group=group_to_use,
                                  async_op=True)).wait()[0]

    def decompress(fut: Future[Tensor]) -> Tensor:
        state.q_memory_dict[bucket_index] = fut.value().div_(world_size)
        for p, q, tensor in zip(ps, qs, tensors_to_compress):
            tensor.copy_(p.bmm(q.transpose(1, 2)))  # M = P Q^T, into the bucket (or a stack)
        if state.batch_tensors_with_same_shape:  # stacks back into the bucket
            for tensor in tensors_to_compress:
                if tensor.shape[0] == 1:
                    continue  # a view of the bucket already
                for i, original_tensor in enumerate(shape_to_tensors[tensor.shape[1:]]):
                    original_tensor.copy_(tensor[i])
        if state.use_error_feedback:
            assert input_tensor_cp is not None
            state.error_dict[bucket_index] = input_tensor_cp - input_tensor
        if not state.warm_start:  # torch clears every bucket's: see _forget
            _forget(state, bucket_index)
        state.maybe_increase_iter(bucket)
        return input_tensor

    return (allreduce_contiguous_uncompressed_tensors_fut
            .then(unpack_uncompressed_tensors_and_allreduce_ps)
            .then(compute_qs)
            .then(decompress))


def batched_powerSGD_hook(state: PowerSGDState,
                          bucket: GradBucket) -> Future[Tensor]:
    """PowerSGD on the whole bucket at once: faster than ``powerSGD_hook`` but usually much
    less accurate unless ``matrix_approximation_rank`` is 1 (the gradients' rows and columns
    are not aligned in the square). For the first ``state.start_powerSGD_iter`` iterations a
    plain all-reduce; then the bucket, zero-padded to a square M (s x s), goes as P = M Q
    (all-reduced, then orthogonalized) and Q = M^T P (all-reduced and averaged), and
    becomes P Q^T, cut back to the bucket's length.

    torch 2.13's own raises AssertionError on its first compressed iteration (its
    orthogonalization takes batches of matrices only); this one orthogonalizes the matrix as
    a batch of one. Like torch's, it ignores ``orthogonalization_epsilon``.

    >>> state = PowerSGDState(process_group=None, matrix_approximation_rank=1)
    >>> ddp_model.register_comm_hook(state, batched_powerSGD_hook)  # doctest: +SKIP
    """
    group_to_use = _default_group(state.process_group)
    world_size = group_to_use.size()
    input_tensor = bucket.buffer()  # (total_length,)

    if state.iter < state.start_powerSGD_iter:  # warm-up: plain averaging
        state.maybe_increase_iter(bucket)
        return default._allreduce_fut(group_to_use, input_tensor)

    dtype = input_tensor.dtype
    total_length = input_tensor.shape[0]
    state.total_numel_before_compression += total_length
    square_side_length = math.ceil(math.sqrt(total_length))
    state.total_numel_after_compression += (square_side_length
                                            * state.matrix_approximation_rank * 2)
    padded_total_length = square_side_length ** 2
    # torch grows the bucket's tensor in place (resize_) and zeroes the tail; ndgrad's tensors
    # cannot grow, so the square is a new tensor, copied back into the bucket at the end
    padded = zeros(padded_total_length, dtype=dtype)
    padded[:total_length].copy_(input_tensor)

    _report_compression_stats(bucket, state)

    bucket_index = bucket.index()
    input_tensor_cp = None
    if state.use_error_feedback:  # the error is kept for the padded length, as torch's
        if bucket_index in state.error_dict:
            padded.add_(state.error_dict[bucket_index])
        else:
            logger.info("A zero tensor of length %s that represents local error is created.",
                        padded_total_length)
            state.error_dict[bucket_index] = zeros(padded_total_length, dtype=dtype)
        input_tensor_cp = padded.detach().clone()
    matrix = padded.view(square_side_length, square_side_length)

    if not state.warm_start or bucket_index not in state.p_memory_dict:
        if state.warm_start:  # logged once only, not every iteration
            logger.info("Initializing low-rank tensors P and Q, each of which has a shape of "
                        "%s x %s.", square_side_length, state.matrix_approximation_rank)
        state.p_memory_dict[bucket_index] = empty(
            square_side_length, state.matrix_approximation_rank, dtype=dtype)
        with fork_rng(devices=[]):  # the same seed on every rank, a new one each time
            manual_seed(int(state.rng.randint(1_000_000_000)))
            state.q_memory_dict[bucket_index] = randn(
                square_side_length, state.matrix_approximation_rank, dtype=dtype)
    _orthogonalize(state.q_memory_dict[bucket_index].unsqueeze(0))  # (1, s, r)

    state.p_memory_dict[bucket_index].copy_(matrix.matmul(state.q_memory_dict[bucket_index]))
    allreduce_p_fut = default._future(all_reduce(state.p_memory_dict[bucket_index],
                                         group=group_to_use, async_op=True))

    def compute_q(fut: Future[list[Tensor]]) -> Tensor:
        p = state.p_memory_dict[bucket_index] = fut.value()[0]
        _orthogonalize(p.unsqueeze(0))
        state.q_memory_dict[bucket_index].copy_(matrix.t().matmul(p))  # Q = M^T P
        return default._future(all_reduce(state.q_memory_dict[bucket_index], group=group_to_use,
                                  async_op=True)).wait()[0]

    def decompress(fut: Future[Tensor]) -> Tensor:
        q = state.q_memory_dict[bucket_index] = fut.value().div_(world_size)
        matrix.copy_(state.p_memory_dict[bucket_index].matmul(q.t()))  # M = P Q^T
        if state.use_error_feedback:
            assert input_tensor_cp is not None
            state.error_dict[bucket_index] = input_tensor_cp - padded
        if not state.warm_start:  # torch clears every bucket's: see _forget
            _forget(state, bucket_index)
        input_tensor.copy_(padded[:total_length])
        state.maybe_increase_iter(bucket)
        return input_tensor

    return allreduce_p_fut.then(compute_q).then(decompress)
