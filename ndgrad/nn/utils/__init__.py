"""ndgrad.nn.utils: gradient clipping, parameter/vector conversion, (``rnn``) packing of
variable-length sequences, and parametrizations (``parametrize``, ``parametrizations``) with the
older hook-based ``weight_norm`` and ``spectral_norm``."""

from ndgrad.nn.utils import parametrizations, parametrize, rnn
from ndgrad.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm
from ndgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from ndgrad.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from ndgrad.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = ["parametrizations", "parametrize", "rnn", "clip_grad_norm_", "clip_grad_value_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters",
           "remove_spectral_norm", "spectral_norm", "remove_weight_norm", "weight_norm"]
