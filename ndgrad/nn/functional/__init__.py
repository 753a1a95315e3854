"""ndgrad.nn.functional: layers, activations and losses as functions, as torch.nn.functional.

Names, signatures and defaults are PyTorch's, split the way users look for them: linear, conv
and pooling (``conv``), activations and softmax (``activation``), ``dropout``,
``normalization`` and distances, ``sparse`` (embedding, one_hot), ``vision`` (pad),
``attention`` and ``loss``. Conv, pooling, linear, softmax, log_softmax and cross_entropy call
primitives (``ndgrad/ops``) for speed and stability; everything else is a composite of Tensor
ops, so autograd derives its backward.
"""

from __future__ import annotations

# torch.nn.functional.grad is the module torch.nn.grad (conv2d_input, ...)
from ndgrad.nn import grad  # noqa: F401
from ndgrad.nn.functional.activation import (
    celu,
    celu_,
    elu,
    elu_,
    gelu,
    glu,
    gumbel_softmax,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    relu_,
    rrelu,
    rrelu_,
    selu,
    selu_,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanh,
    tanhshrink,
    threshold,
    threshold_,
)
from ndgrad.nn.functional.attention import (  # the private three: torch code calls them too
    _canonical_mask,
    _in_projection_packed,
    _none_or_dtype,
    multi_head_attention_forward,
    scaled_dot_product_attention,
)
from ndgrad.nn.functional.conv import (
    bilinear,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    linear,
)
from ndgrad.nn.functional.distance import (
    cosine_similarity,
    pairwise_distance,
    pdist,
)
from ndgrad.nn.functional.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from ndgrad.nn.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    ctc_loss,
    gaussian_nll_loss,
    huber_loss,
    kl_div,
    l1_loss,
    linear_cross_entropy,
    mse_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
)
from ndgrad.nn.functional.margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from ndgrad.nn.functional.normalization import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    local_response_norm,
    normalize,
    rms_norm,
)
from ndgrad.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d,
    adaptive_max_pool3d_with_indices,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
    max_pool3d,
    max_pool3d_with_indices,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from ndgrad.nn.functional.sparse import (
    embedding,
    embedding_bag,
    one_hot,
)
from ndgrad.nn.functional.upsampling import (
    interpolate,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)
from ndgrad.nn.functional.vision import (
    affine_grid,
    channel_shuffle,
    fold,
    grid_sample,
    pad,
    pixel_shuffle,
    pixel_unshuffle,
    unfold,
)
