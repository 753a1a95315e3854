"""The gradients of a convolution with respect to its input and its weight, as torch.nn.grad.

``conv2d_input(input_size, weight, grad_output, ...)`` is what backward through
``F.conv2d(input, weight, ...)`` hands the input; ``conv2d_weight(input, weight_size,
grad_output, ...)`` what it hands the weight. Each runs the convolution on a zero stand-in of
the given size and asks autograd for the vector-Jacobian product with ``grad_output``: the
convolution's own backward (a transposed convolution for the input, a correlation of input and
grad_output for the weight) computes it, so stride, padding, dilation and groups, and the
output_padding a strided convolution needs to give back ``input_size`` exactly, are handled
the same way as in training. The results are differentiable (``create_graph`` when an argument
requires grad), as torch's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ndgrad.autograd import grad as _grad
from ndgrad.autograd.grad_mode import enable_grad, is_grad_enabled
from ndgrad.nn.functional.conv import conv1d, conv2d, conv3d
from ndgrad.tensor import Tensor
from ndgrad.tensor.creation import zeros

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]

_Conv = Callable[..., Tensor]


def _vjp(conv: _Conv, input: Tensor, weight: Tensor, wrt: Tensor, grad_output: Tensor,
         options: tuple[Any, ...]) -> Tensor:
    """d(conv(input, weight) . grad_output) / d(wrt): one backward through the convolution."""
    graph = is_grad_enabled() and any(
        t.requires_grad for t in (input, weight, grad_output) if t is not wrt)
    with enable_grad():
        out = conv(input, weight, None, *options)
        if tuple(out.shape) != tuple(grad_output.shape):
            raise RuntimeError(f"Expected grad_output of shape {list(out.shape)} (the "
                               f"convolution's output), got {list(grad_output.shape)}")
        (g,) = _grad(out, wrt, grad_output, create_graph=graph)
    return g if graph else g.detach()


def _input_grad(conv: _Conv, input_size: Sequence[int], weight: Tensor, grad_output: Tensor,
                options: tuple[Any, ...]) -> Tensor:
    x = zeros(*input_size, dtype=grad_output.dtype).requires_grad_()
    return _vjp(conv, x, weight, x, grad_output, options)


def _weight_grad(conv: _Conv, input: Tensor, weight_size: Sequence[int], grad_output: Tensor,
                 options: tuple[Any, ...]) -> Tensor:
    w = zeros(*weight_size, dtype=grad_output.dtype).requires_grad_()
    return _vjp(conv, input, w, w, grad_output, options)


def conv1d_input(input_size: Sequence[int], weight: Tensor, grad_output: Tensor,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: int = 1) -> Tensor:
    """The gradient of conv1d with respect to its input, of shape ``input_size``."""
    return _input_grad(conv1d, input_size, weight, grad_output,
                       (stride, padding, dilation, groups))


def conv1d_weight(input: Tensor, weight_size: Sequence[int], grad_output: Tensor,
                  stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                  groups: int = 1) -> Tensor:
    """The gradient of conv1d with respect to its weight, of shape ``weight_size``."""
    return _weight_grad(conv1d, input, weight_size, grad_output,
                        (stride, padding, dilation, groups))


def conv2d_input(input_size: Sequence[int], weight: Tensor, grad_output: Tensor,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: int = 1) -> Tensor:
    """The gradient of conv2d with respect to its input, of shape ``input_size``."""
    return _input_grad(conv2d, input_size, weight, grad_output,
                       (stride, padding, dilation, groups))


def conv2d_weight(input: Tensor, weight_size: Sequence[int], grad_output: Tensor,
                  stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                  groups: int = 1) -> Tensor:
    """The gradient of conv2d with respect to its weight, of shape ``weight_size``."""
    return _weight_grad(conv2d, input, weight_size, grad_output,
                        (stride, padding, dilation, groups))


def conv3d_input(input_size: Sequence[int], weight: Tensor, grad_output: Tensor,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: int = 1) -> Tensor:
    """The gradient of conv3d with respect to its input, of shape ``input_size``."""
    return _input_grad(conv3d, input_size, weight, grad_output,
                       (stride, padding, dilation, groups))


def conv3d_weight(input: Tensor, weight_size: Sequence[int], grad_output: Tensor,
                  stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                  groups: int = 1) -> Tensor:
    """The gradient of conv3d with respect to its weight, of shape ``weight_size``."""
    return _weight_grad(conv3d, input, weight_size, grad_output,
                        (stride, padding, dilation, groups))
