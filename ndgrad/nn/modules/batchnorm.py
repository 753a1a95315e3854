"""Batch normalization: BatchNorm1d, BatchNorm2d, BatchNorm3d with PyTorch's buffers
(running_mean, running_var, num_batches_tracked) and update rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ndgrad.nn import functional as F
from ndgrad.nn.module import Module
from ndgrad.nn.modules._utils import affine_parameters, empty, reset_affine
from ndgrad.tensor import Tensor


class _NormBase(Module):
    _version = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        affine_parameters(self, affine, bias, num_features, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", empty(num_features, device, dtype))
            self.register_buffer("running_var", empty(num_features, device, dtype))
            self.register_buffer("num_batches_tracked", Tensor._make(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        reset_affine(self, self.affine)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ("{num_features}, eps={eps}, momentum={momentum}, affine={affine}, "
                "bias={use_bias}, track_running_stats={track_running_stats}".format(
                    **self.__dict__, use_bias=self.bias is not None))

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str], assign: bool = False) -> None:
        # Checkpoints from before num_batches_tracked existed (and files without PyTorch's
        # version metadata) may lack it: keep the current count instead of failing.
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict and isinstance(state_dict, dict):
            state_dict[key] = self.num_batches_tracked
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys,
                                      unexpected_keys, error_msgs, assign)


class _BatchNorm(_NormBase):
    def _count_step(self) -> float:
        """Count a training forward in num_batches_tracked; the running stats' update factor
        for it (momentum, or 1 / count for the cumulative average when momentum is None)."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        return factor

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        exponential_average_factor = self._count_step()
        # Batch statistics in training, and in eval when there are no running stats.
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_buffers = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if use_buffers else None,
                            self.running_var if use_buffers else None, self.weight, self.bias,
                            bn_training, exponential_average_factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) inputs, per channel C."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose batch statistics cover every rank's part of the batch, for
    data-parallel training (DistributedDataParallel): with N ranks of b images each, it
    normalizes as BatchNorm would over the whole N*b batch, and updates the running stats
    with that batch's mean and unbiased variance (the same on every rank).

    The sums behind the mean and variance are all-reduced (``ndgrad.distributed.nn``, so
    backward all-reduces their gradients): each training forward and backward is collective,
    run by every rank. Outside a process group of 2 or more ranks, and in eval mode, it is
    plain BatchNorm. torch's runs on GPUs only; this one runs on the CPU, over MPI. Inputs of
    any shape (N, C, ...); ``convert_sync_batchnorm`` swaps it in for a model's BatchNorms."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        from ndgrad import distributed as dist

        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        if not (bn_training and self.training and dist.is_initialized()
                and dist.get_world_size(self.process_group) > 1):
            return super().forward(input)
        return _sync_batch_norm(input, self, self._count_step())

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with each BatchNorm*d in it (or itself) replaced by a SyncBatchNorm that
        takes over its parameters, buffers and training mode, as torch's does."""
        out = module
        if isinstance(module, _BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


def _sync_batch_norm(input: Tensor, bn: SyncBatchNorm, factor: float) -> Tensor:
    """Normalize ``input`` by the statistics of every rank's batch (two differentiable
    all-reduces: the sums, then the squared deviations from the global mean)."""
    from ndgrad import distributed as dist
    from ndgrad.autograd.grad_mode import no_grad
    from ndgrad.distributed.nn.functional import all_reduce

    dims = [0, *range(2, input.dim())]
    shape = [1, -1] + [1] * (input.dim() - 2)
    count = Tensor._make(np.array([input.numel() // input.shape[1]], np.int64))
    dist.all_reduce(count, group=bn.process_group)
    n = int(count.item())
    if n <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got {n} over "
                         f"all ranks (input size {list(input.shape)} here)")
    mean = all_reduce(input.sum(dims), group=bn.process_group) / n
    centered = input - mean.reshape(shape)
    var = all_reduce((centered * centered).sum(dims), group=bn.process_group) / n
    out = centered * (var + bn.eps).rsqrt().reshape(shape)
    if bn.weight is not None:
        out = out * bn.weight.reshape(shape)
    if bn.bias is not None:
        out = out + bn.bias.reshape(shape)
    if bn.training and bn.track_running_stats and bn.running_mean is not None:
        with no_grad():  # the same update on every rank: the statistics are the global ones
            bn.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
            bn.running_var.mul_(1 - factor).add_(var.detach() * (n / (n - 1)), alpha=factor)
    return out
