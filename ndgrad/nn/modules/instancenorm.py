"""InstanceNorm1d/2d/3d: each (sample, channel) normalised over its own positions; no affine
parameters and no running statistics unless asked for (torch's defaults)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from ndgrad.nn import functional as F
from ndgrad.nn.modules.batchnorm import _NormBase
from ndgrad.tensor import Tensor


class _InstanceNorm(_NormBase):
    dims = 1  # spatial dims of a batched input

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"expected {self.dims + 1}D or {self.dims + 2}D input (got "
                             f"{input.ndim}D input)")
        unbatched = input.ndim == self.dims + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features:
            dim = 0 if unbatched else 1  # torch names the input's own dim
            if self.affine:
                raise ValueError(f"expected input's size at dim={dim} to match num_features "
                                 f"({self.num_features}), but got: {x.shape[1]}.")
            warnings.warn(f"input's size at dim={dim} does not match num_features. You can "
                          f"silence this warning by not passing in num_features, which is not "
                          f"used because affine=False", stacklevel=3)
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str], assign: bool = False) -> None:
        # Checkpoints from before PyTorch 0.4 keep running stats the module no longer has
        # (the reason fast_neural_style deletes them): torch's message, which names the fix.
        # ndgrad keeps no version metadata, so it always checks, as torch does for a plain dict.
        found = [prefix + n for n in ("running_mean", "running_var") if prefix + n in state_dict]
        if found and not self.track_running_stats and isinstance(state_dict, dict):
            klass, names = type(self).__name__, " and ".join(f'"{k}"' for k in found)
            error_msgs.append(
                f"Unexpected running stats buffer(s) {names} for {klass} with "
                f"track_running_stats=False. If state_dict is a checkpoint saved before 0.4.0, "
                f"this may be expected because {klass} does not track running stats by default "
                f"since 0.4.0. Please remove these keys from state_dict. If the running stats "
                f"are actually needed, instead set track_running_stats=True in {klass} to enable "
                f"them. See the documentation of {klass} for details.")
            for key in found:
                state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys,
                                      unexpected_keys, error_msgs, assign)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) inputs."""

    dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) inputs."""

    dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W) inputs."""

    dims = 3
