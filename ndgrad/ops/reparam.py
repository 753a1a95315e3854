"""Sampling primitives with reparameterized gradients: a draw is a differentiable function of
the parameters, so ``rsample()`` can be backpropagated (torch's ``_standard_gamma``, behind
Gamma, Beta, Dirichlet, Chi2 and StudentT). The draws come from ndgrad's default generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad import random
from ndgrad.ops._special_igamma import standard_gamma_grad
from ndgrad.ops.base import Primitive


class StandardGamma(Primitive):
    """x ~ Gamma(alpha, 1). The gradient is implicit: x moves with alpha so that its CDF value
    P(alpha, x) stays fixed, dx/dalpha = -(dP/dalpha) / (dP/dx). Draws are clamped to the
    dtype's smallest normal number, as torch clamps them."""

    @staticmethod
    def forward(ctx: Any, alpha: Any) -> Any:
        draws = random.default_generator().standard_gamma(alpha.astype(np.float64))
        out = np.maximum(draws, np.finfo(alpha.dtype).tiny).astype(alpha.dtype)
        ctx.save_for_backward(alpha, out)
        return np.asarray(out)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        alpha, out = ctx.saved_like(grad)
        return grad * StandardGammaGrad.apply(out, alpha)


class StandardGammaGrad(Primitive):
    """dx/dalpha of a standard gamma draw x (see StandardGamma); not differentiable again,
    as torch's ``_standard_gamma_grad``."""

    @staticmethod
    def forward(ctx: Any, x: Any, alpha: Any) -> Any:
        return standard_gamma_grad(x, alpha).astype(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        raise NotImplementedError("the derivative for '_standard_gamma_grad' is not implemented.")
