"""ndgrad: reverse-mode autograd and deep learning on NumPy, with PyTorch's API.

``import ndgrad as torch`` and most PyTorch training code runs unchanged on the CPU.
"""

from __future__ import annotations

import builtins as _builtins
import importlib
import importlib.util
import math as _math
import warnings
from types import ModuleType
from typing import Any

import ndgrad._malloc  # noqa: F401  (before the first arrays: see its docstring)
import ndgrad._openblas  # noqa: F401  (OpenBLAS's threads sleep when done: see its docstring)
import ndgrad.utils.data
from ndgrad import (
    accelerator,
    amp,
    autograd,
    backends,
    cpu,
    cuda,
    datasets,
    distributed,
    fft,
    jit,
    linalg,
    mps,
    nn,
    optim,
    quasirandom,
    special,
    utils,
    xpu,
)
from ndgrad import random as _random
from ndgrad._autocast_state import (
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
    set_autocast_gpu_dtype,
)
from ndgrad._control_flow import cond, while_loop
from ndgrad._device import DeviceUnavailableError
from ndgrad._dtype import (
    bfloat16,
    bool_,
    can_cast,
    cdouble,
    cfloat,
    complex64,
    complex128,
    double,
    dtype,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    layout,
    long,
    set_default_dtype,
    short,
    sparse_coo,
    strided,
    uint8,
)
from ndgrad._dtype import public_promote_types as promote_types
from ndgrad._dtype import public_result_type as result_type
from ndgrad._lobpcg import lobpcg
from ndgrad._lowrank import pca_lowrank, svd_lowrank
from ndgrad._runtime import (
    are_deterministic_algorithms_enabled,
    compile,
    get_default_device,
    get_deterministic_debug_mode,
    get_float32_matmul_precision,
    get_num_interop_threads,
    get_num_threads,
    is_deterministic_algorithms_warn_only_enabled,
    is_warn_always_enabled,
    set_default_device,
    set_default_tensor_type,
    set_deterministic_debug_mode,
    set_float32_matmul_precision,
    set_num_interop_threads,
    set_num_threads,
    set_warn_always,
    use_deterministic_algorithms,
)
from ndgrad._segment import segment_reduce
from ndgrad._symbolic import (
    sym_float,
    sym_int,
    sym_ite,
    sym_max,
    sym_min,
    sym_not,
    sym_sqrt,
    sym_sum,
)
from ndgrad._tensor_str import set_printoptions
from ndgrad.amp import GradScaler, autocast, is_autocast_enabled
from ndgrad.autograd.anomaly import (
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_anomaly_enabled,
)
from ndgrad.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ndgrad.jit import fork, wait
from ndgrad.linalg._products import chain_matmul
from ndgrad.linalg._solve import lu_unpack

# torch's top-level aliases of nn.functional ops (torch.conv2d is F.conv2d)
from ndgrad.nn.functional import (
    adaptive_avg_pool1d,
    alpha_dropout,
    avg_pool1d,
    bilinear,
    celu,
    channel_shuffle,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    cosine_similarity,
    dropout,
    feature_alpha_dropout,
    group_norm,
    hardshrink,
    layer_norm,
    pairwise_distance,
    pdist,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    rms_norm,
    rrelu,
    selu,
    threshold,
)
from ndgrad.nn.functional.native import (
    adaptive_max_pool1d,
    batch_norm,
    constant_pad_nd,
    embedding,
    grid_sampler,
    grid_sampler_2d,
    grid_sampler_3d,
    instance_norm,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool3d,
    native_batch_norm,
    native_group_norm,
    native_layer_norm,
)
from ndgrad.nn.functional.native_more import (
    affine_grid_generator,
    binary_cross_entropy_with_logits,
    binomial,
    convolution,
    cosine_embedding_loss,
    ctc_loss,
    embedding_bag,
    feature_dropout,
    feature_dropout_,
    hinge_embedding_loss,
    kl_div,
    margin_ranking_loss,
    native_channel_shuffle,
    native_dropout,
    native_norm,
    poisson_nll_loss,
    triplet_margin_loss,
    unsafe_split_with_sizes,
)
from ndgrad.nn.functional.native_rnn import (
    gru,
    gru_cell,
    lstm,
    lstm_cell,
    rnn_relu,
    rnn_relu_cell,
    rnn_tanh,
    rnn_tanh_cell,
)
from ndgrad.nn.utils.weight_norm import norm_except_dim
from ndgrad.random import (
    Generator,
    fork_rng,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from ndgrad.scalar import Value
from ndgrad.serialization import load, save
from ndgrad.signal.windows import (
    bartlett_window,
    blackman_window,
    hamming_window,
    hann_window,
    kaiser_window,
)
from ndgrad.sparse import sparse_coo_tensor, spmm
from ndgrad.tensor import (
    Size,
    Tensor,
    broadcast_shapes,
    broadcast_tensors,
    cat,
    complex,
    concat,
    concatenate,
    device,
    einsum,
    is_floating_point,
    is_nonzero,
    is_tensor,
    log_softmax,
    multinomial,
    polar,
    softmax,
    stack,
    tensor,
    view_as_complex,
    view_as_real,
    where,
)
from ndgrad.tensor.conversion import (
    channels_last,
    channels_last_3d,
    contiguous_format,
    memory_format,
    preserve_format,
)
from ndgrad.tensor.creation import (
    arange,
    as_tensor,
    asarray,
    bernoulli,
    empty,
    empty_like,
    empty_permuted,
    empty_strided,
    eye,
    from_dlpack,
    from_file,
    from_numpy,
    frombuffer,
    full,
    full_like,
    linspace,
    logspace,
    normal,
    ones,
    ones_like,
    poisson,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    scalar_tensor,
    zeros,
    zeros_like,
)
from ndgrad.tensor.functions import (
    alias_copy,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    bucketize,
    cartesian_prod,
    cdist,
    column_stack,
    combinations,
    cumulative_trapezoid,
    detach_copy,
    diagonal_copy,
    dstack,
    expand_copy,
    frobenius_norm,
    gradient,
    histogramdd,
    hstack,
    is_same_size,
    is_signed,
    isin,
    meshgrid,
    nuclear_norm,
    permute_copy,
    row_stack,
    searchsorted,
    select_copy,
    slice_copy,
    split_copy,
    split_with_sizes_copy,
    squeeze_copy,
    std_mean,
    t_copy,
    tensordot,
    transpose_copy,
    trapezoid,
    trapz,
    tril_indices,
    triu_indices,
    typename,
    unbind_copy,
    unfold_copy,
    unravel_index,
    unsqueeze_copy,
    vander,
    var_mean,
    view_as_complex_copy,
    view_as_real_copy,
    view_copy,
    vstack,
)
from ndgrad.tensor.legacy import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from ndgrad.tensor.out import with_out
from ndgrad.tensor.pointwise import (
    add,
    bitwise_and,
    bitwise_left_shift,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    div,
    divide,
    fill,
    float_power,
    floor_divide,
    imag,
    mul,
    multiply,
    pow,
    real,
    remainder,
    rsub,
    sub,
    subtract,
    true_divide,
    xlogy,
)
from ndgrad.tensor.storage import (
    TypedStorage,
    UntypedStorage,
    as_strided,
    as_strided_,
    as_strided_copy,
    as_strided_scatter,
    is_storage,
    resize_as_,
)
from ndgrad.utils.dlpack import to_dlpack

default_generator = _random.default_generator()  # torch.default_generator: the global one

# torch's constants: masks use -ndgrad.inf; x[:, ndgrad.newaxis] adds a dim
inf, nan, pi, e = _math.inf, _math.nan, _math.pi, _math.e
newaxis = None


# Subpackages that load when first used, as ``ndgrad.viz`` after a bare ``import ndgrad``
# (viz imports graphviz only when it draws)
_LAZY_SUBMODULES = (
    "_dynamo", "compiler", "distributions", "fft", "func", "futures", "hub", "linalg", "masked",
    "multiprocessing", "onnx", "profiler", "special", "testing", "version", "viz")


def __getattr__(name: str) -> Any:
    if name == "vmap":  # torch.vmap is torch.func.vmap
        return importlib.import_module("ndgrad.func").vmap
    if name in _LAZY_SUBMODULES:
        try:
            return importlib.import_module(f"ndgrad.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"ndgrad.{name}":
                raise
    raise AttributeError(f"module 'ndgrad' has no attribute '{name}'")


# NumPy warns about floating-point events (log(0), 0/0, overflow, float -> int overflow) that
# PyTorch reports only through the values it returns (inf, nan), silently. Raised inside
# ndgrad's own code, these warnings are dropped, so ndgrad is as quiet as torch; NumPy code of
# the user's own keeps its warnings. To find where a nan comes from, use
# ndgrad.autograd.detect_anomaly().
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ndgrad\.")

bool = bool_  # noqa: A001 - ndgrad.bool, as torch.bool
float = float32  # noqa: A001
int = int32  # noqa: A001

from ndgrad.version import __version__  # noqa: E402  (one place for the number)

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
msort median nanmedian mode quantile nanquantile unique_consecutive histc bincount
nansum nanmean aminmax cummax cummin logcumsumexp diff
rot90 ravel repeat_interleave narrow_copy diag diag_embed diagflat trace diagonal_scatter hsplit
vsplit dsplit split_with_sizes unsafe_split unsafe_chunk adjoint kron cross take take_along_dim put
index_put index_put_ index_copy index_reduce scatter_reduce select select_scatter slice_scatter
masked_scatter argwhere nonzero_static zero_ cov corrcoef dist renorm histogram
lgamma digamma mvlgamma erfc erfinv i0 sinc logit igamma igammac
ger inner vdot addmm addmv addr baddbmm addbmm det logdet slogdet inverse pinverse
matrix_power matrix_exp cholesky cholesky_inverse cholesky_solve lu lu_solve triangular_solve qr svd
geqrf orgqr ormqr is_complex real imag conj conj_physical resolve_conj resolve_neg is_conj
is_neg angle stft istft
""".split()
_POINTWISE = """
asin acos atan atan2 arcsin arccos arctan arctan2 sinh cosh asinh acosh atanh arcsinh arccosh
arctanh hypot sinc deg2rad rad2deg logaddexp logaddexp2 copysign fmax fmin ldexp frexp nan_to_num
nextafter heaviside addcmul addcdiv positive angle conj conj_physical resolve_conj resolve_neg
is_conj is_neg greater greater_equal less less_equal not_equal bitwise_not gcd lcm signbit
isposinf isneginf isreal zero_
""".split()
for _name in _METHODS + _POINTWISE:
    # a function of its own (pow(2, x) takes a number first: tensor/pointwise.py) comes first
    globals().setdefault(_name, getattr(Tensor, _name))
# Those of them (and of the functions above) that torch gives an ``out=`` argument
_OUT = set("""
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow neg negative
abs absolute exp exp2 expm1 log log2 log10 log1p sqrt rsqrt square sin cos tan tanh sigmoid erf
sign sgn reciprocal floor ceil trunc fix round frac clamp clip clamp_min clamp_max maximum minimum
lerp eq ne lt le gt ge logical_and logical_or logical_xor logical_not sum mean prod amax amin
argmax argmin var std logsumexp cumsum cumprod norm tril triu gather scatter scatter_add
index_select index_add masked_select nonzero matmul mm bmm dot outer mv cat concat concatenate
stack where
""".split())
for _name in _OUT:
    globals()[_name] = with_out(globals()[_name], _name)
del _name
# torch.polygamma(n, input) (the method is input.polygamma(n))
polygamma = special.polygamma

# torch's functional forms of in-place methods: ndgrad.relu_(x) is x.relu_()
_INPLACE = """
abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_
ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ fix_
floor_ frac_ gcd_ i0_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_
rad2deg_ reciprocal_ relu_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_
trunc_ xlogy_ fill_ detach_ conj_physical_ selu_ celu_ rrelu_ threshold_
""".split()
for _name in _INPLACE:
    globals().setdefault(_name, getattr(Tensor, _name, None) or getattr(nn.functional, _name))
del _name


def dropout_(input: Tensor, p: _builtins.float, train: _builtins.bool) -> Tensor:
    """torch.dropout_: dropout(input, p, train) in place."""
    return nn.functional.dropout(input, p, train, inplace=True)


def alpha_dropout_(input: Tensor, p: _builtins.float, train: _builtins.bool) -> Tensor:
    return nn.functional.alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input: Tensor, p: _builtins.float, train: _builtins.bool) -> Tensor:
    return nn.functional.feature_alpha_dropout(input, p, train, inplace=True)


def is_inference(input: Tensor) -> _builtins.bool:
    """torch.is_inference: whether ``input`` was made inside inference_mode (see
    Tensor.is_inference)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.is_inference()


def get_device(input: Tensor) -> _builtins.int:
    """torch.get_device: the tensor's device index, -1 for the CPU (ndgrad's only device)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"get_device(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.get_device()


_device_class = device  # (the parameter below is named as torch's)


def get_device_module(device: Any = None) -> Any:
    """torch.get_device_module: the module of a device type (``ndgrad.cpu``; ``ndgrad.cuda``,
    ``mps`` and ``xpu`` are there too, saying that no such device is available)."""
    dev = device if isinstance(device, _device_class) else _device_class(
        "cpu" if device is None else device)
    module = {"cpu": cpu, "cuda": cuda, "mps": mps, "xpu": xpu}.get(dev.type)
    if module is None:
        raise RuntimeError(f"Device '{dev.type}' does not have a corresponding module "
                           f"registered as 'ndgrad.{dev.type}'.")
    return module


def init_num_threads() -> None:
    """torch.init_num_threads: nothing to do (NumPy's BLAS starts its threads itself)."""


def compiled_with_cxx11_abi() -> _builtins.bool:
    """False: ndgrad has no C++ extension ABI (it is NumPy, and numba kernels)."""
    return False


def set_flush_denormal(mode: _builtins.bool) -> _builtins.bool:
    """torch.set_flush_denormal: whether denormal floats could be set to flush to zero. Always
    False here, as torch returns on CPUs without the control: NumPy exposes no switch for the
    CPU's flush-to-zero/denormals-are-zero flags, so ndgrad keeps denormals (IEEE arithmetic)
    whatever ``mode`` asks."""
    return False


if importlib.util.find_spec("einops") is not None:  # einops.rearrange & co. on ndgrad tensors
    from ndgrad import _einops  # noqa: E402, F401

# last: from here on this module's ``range`` is torch.range, no longer Python's
from ndgrad.tensor.functions import range_ as range  # noqa: E402, A004
