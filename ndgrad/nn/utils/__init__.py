"""ndgrad.nn.utils: gradient clipping, parameter/vector conversion, and (``rnn``) packing of
variable-length sequences."""

from ndgrad.nn.utils import rnn
from ndgrad.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm
from ndgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["rnn", "clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]
