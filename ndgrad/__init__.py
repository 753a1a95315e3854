"""ndgrad: reverse-mode autograd and deep learning on NumPy, with PyTorch's API.

``import ndgrad as torch`` and most PyTorch training code runs unchanged on the CPU.
"""

from __future__ import annotations

import warnings
from typing import Any

import ndgrad.utils.data
from ndgrad import autograd, datasets, distributed, nn, optim, utils
from ndgrad._dtype import (
    bool_,
    double,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from ndgrad._dtype import public_promote_types as promote_types
from ndgrad._dtype import public_result_type as result_type
from ndgrad._tensor_str import set_printoptions
from ndgrad.autograd.anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled
from ndgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

# torch's top-level aliases of nn.functional ops (torch.conv2d is F.conv2d)
from ndgrad.nn.functional import (
    channel_shuffle,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    group_norm,
    layer_norm,
    pdist,
    pixel_shuffle,
    pixel_unshuffle,
    rms_norm,
)
from ndgrad.random import (
    Generator,
    get_rng_state,
    manual_seed,
    seed,
    set_rng_state,
)
from ndgrad.scalar import Value
from ndgrad.serialization import load, save
from ndgrad.tensor import (
    Size,
    Tensor,
    broadcast_shapes,
    broadcast_tensors,
    cat,
    concat,
    concatenate,
    device,
    einsum,
    is_floating_point,
    is_tensor,
    log_softmax,
    multinomial,
    softmax,
    stack,
    tensor,
    where,
)
from ndgrad.tensor.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    zeros,
    zeros_like,
)

# NumPy warns about floating-point events (log(0), 0/0, overflow, float -> int overflow) that
# PyTorch reports only through the values it returns (inf, nan), silently. Raised inside
# ndgrad's own code, these warnings are dropped, so ndgrad is as quiet as torch; NumPy code of
# the user's own keeps its warnings. To find where a nan comes from, use
# ndgrad.autograd.detect_anomaly().
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ndgrad\.")

bool = bool_  # noqa: A001 - ndgrad.bool, as torch.bool
float = float32  # noqa: A001
int = int32  # noqa: A001

__version__ = "0.1.0"

# Functional forms of Tensor methods: ndgrad.exp(x) is x.exp().
_METHODS = """
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow neg negative
abs absolute exp exp2 expm1 log log2 log10 log1p sqrt rsqrt square sin cos tan tanh sigmoid relu
erf sign sgn reciprocal floor ceil trunc fix round frac clamp clip clamp_min clamp_max maximum
minimum lerp masked_fill eq ne lt le gt ge equal allclose isclose logical_and logical_or
logical_xor logical_not isnan isinf isfinite sum mean prod amax amin max min argmax argmin var std
logsumexp cumsum cumprod norm all any count_nonzero reshape flatten unflatten squeeze unsqueeze
permute transpose swapaxes swapdims t movedim moveaxis broadcast_to tile flip fliplr flipud roll
split chunk tensor_split unbind narrow tril triu diagonal gather scatter scatter_add index_select
index_add index_fill masked_select sort argsort topk kthvalue nonzero unique matmul mm bmm dot outer
mv numel clone detach
""".split()
for _name in _METHODS:
    globals()[_name] = getattr(Tensor, _name)
del _name
