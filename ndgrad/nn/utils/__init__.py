"""ndgrad.nn.utils: gradient clipping, parameter/vector conversion, (``rnn``) packing of
variable-length sequences, and parametrizations (``parametrize``, ``parametrizations``) with the
older hook-based ``weight_norm`` and ``spectral_norm``."""

from __future__ import annotations

import warnings
from typing import Any

from ndgrad.nn.utils import fusion, parametrizations, parametrize, prune, rnn, stateless
from ndgrad.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from ndgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from ndgrad.nn.utils.fusion import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from ndgrad.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from ndgrad.nn.utils.weight_norm import remove_weight_norm, weight_norm


def clip_grad_norm(parameters: Any, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Any:
    """Deprecated name of ``clip_grad_norm_`` (as in torch)."""
    warnings.warn("ndgrad.nn.utils.clip_grad_norm is now deprecated in favor of "
                  "ndgrad.nn.utils.clip_grad_norm_.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def convert_conv2d_weight_memory_format(module: Any, memory_format: Any) -> Any:
    """Lay out the weights of every Conv2d and ConvTranspose2d in ``module`` in
    ``memory_format`` (e.g. channels_last), in place; the values do not change."""
    from ndgrad.nn.modules.conv import Conv2d, ConvTranspose2d
    return _convert_weights(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: Any, memory_format: Any) -> Any:
    """As convert_conv2d_weight_memory_format, for Conv3d and ConvTranspose3d."""
    from ndgrad.nn.modules.conv import Conv3d, ConvTranspose3d
    return _convert_weights(module, memory_format, (Conv3d, ConvTranspose3d))


def _convert_weights(module: Any, memory_format: Any, kinds: tuple[Any, ...]) -> Any:
    for m in module.modules():
        if isinstance(m, kinds):
            m.weight._data = m.weight.detach().contiguous(memory_format=memory_format)._data
    return module


def skip_init(module_cls: Any, *args: Any, **kwargs: Any) -> Any:
    """``module_cls(*args, **kwargs)`` whose parameters are to be set by the caller: torch
    skips their initialisation; ndgrad initialises them as usual (the values are the caller's
    to overwrite either way)."""
    if "device" not in module_cls.__init__.__code__.co_varnames:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)


__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format", "fusion",
           "parametrizations", "parametrize", "rnn", "stateless", "clip_grad_norm",
           "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters", "fuse_conv_bn_eval", "prune",
           "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights", "skip_init",
           "remove_spectral_norm", "spectral_norm", "remove_weight_norm", "weight_norm"]
