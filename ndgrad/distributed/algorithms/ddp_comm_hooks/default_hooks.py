"""torch's default DDP communication hooks: averaging by all-reduce, in the bucket's dtype or
compressed to float16 (half the bytes on the wire, float16's rounding in the average).

A hook is ``hook(state, bucket) -> Future[Tensor]``; ``state`` is the process group (None for
the whole job). The buffer is not divided by the world size before a hook runs: these divide
first (so float16 does not overflow), then sum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndgrad import _dtype
from ndgrad.distributed.collectives import Work, all_reduce
from ndgrad.distributed.grad_bucket import GradBucket
from ndgrad.distributed.process_group import ProcessGroup, _default_group
from ndgrad.futures import Future
from ndgrad.tensor import Tensor

__all__ = ["allreduce_hook", "bf16_compress_hook", "bf16_compress_wrapper",
           "fp16_compress_hook", "fp16_compress_wrapper"]

Hook = Callable[[Any, GradBucket], Future[Tensor]]


def _allreduce_fut(process_group: ProcessGroup | None, tensor: Tensor) -> Future[Tensor]:
    """Average ``tensor`` over the group in place; a Future of it."""
    group = _default_group(process_group)
    tensor.div_(group.size())
    return _future(all_reduce(tensor, group=process_group, async_op=True)).then(
        lambda f: f.value()[0])


def _future(work: Work | None) -> Future[list[Tensor]]:
    """The Future of an async collective (None only on a rank outside the group)."""
    if work is None:
        raise RuntimeError("DDP communication hook: this rank is not in the hook's process "
                           "group")
    return work.get_future()  # type: ignore[no-any-return]


def allreduce_hook(process_group: ProcessGroup | None,
                   bucket: GradBucket) -> Future[Tensor]:
    """All-reduce the bucket and divide by the world size: what DDP does without a hook."""
    return _allreduce_fut(process_group, bucket.buffer())


def fp16_compress_hook(process_group: ProcessGroup | None,
                       bucket: GradBucket) -> Future[Tensor]:
    """Cast the bucket to float16, divide by the world size, all-reduce, and cast back into
    the bucket."""
    group = _default_group(process_group)
    buffer = bucket.buffer()
    compressed = buffer.to(_dtype.float16).div_(group.size())

    def decompress(fut: Future[list[Tensor]]) -> Tensor:
        buffer.copy_(fut.value()[0])  # in place, as torch's: no second full-size array
        return buffer
    return _future(all_reduce(compressed, group=process_group, async_op=True)).then(decompress)


def bf16_compress_hook(process_group: ProcessGroup | None,
                       bucket: GradBucket) -> Future[Tensor]:
    """torch's bfloat16 compression; ndgrad has no bfloat16 tensors (NumPy has no such
    type), so this raises: use fp16_compress_hook."""
    raise TypeError(_NO_BF16)


def fp16_compress_wrapper(hook: Hook) -> Hook:
    """``hook`` run on the bucket cast to float16, its result cast back into the bucket:
    ``fp16_compress_wrapper(allreduce_hook)`` is ``fp16_compress_hook``."""

    def fp16_compress_wrapper_hook(hook_state: Any, bucket: GradBucket) -> Future[Tensor]:
        bucket.set_buffer(bucket.buffer().to(_dtype.float16))
        fut = hook(hook_state, bucket)

        def decompress(fut: Future[Tensor]) -> Tensor:
            out = bucket.buffer()
            out.copy_(fut.value())
            return out
        return fut.then(decompress)
    return fp16_compress_wrapper_hook


def bf16_compress_wrapper(hook: Hook) -> Hook:
    """torch's bfloat16 wrapper; raises here (ndgrad has no bfloat16 tensors)."""

    def bf16_compress_wrapper_hook(hook_state: Any, bucket: GradBucket) -> Future[Tensor]:
        raise TypeError(_NO_BF16)
    return bf16_compress_wrapper_hook


_NO_BF16 = ("BF16 all reduce communication hook: ndgrad has no bfloat16 tensors (NumPy has no "
            "bfloat16 type; torch needs CUDA and NCCL for it); use fp16_compress_hook")
