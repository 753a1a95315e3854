"""The top-level surface real PyTorch scripts touch first: devices and backends on a CPU-only
library, settings, legacy constructors, Variable, constants, dtypes, out=, tensor flags."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import ndgrad
from ndgrad import nn

# -- devices -----------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0), ("cpu", 0),
                                  ("mps",), ("meta",), ("xpu:3",)])
def test_device_objects_as_torch(args):
    d, t = ndgrad.device(*args), torch.device(*args)
    assert (d.type, d.index, str(d), repr(d)) == (t.type, t.index, str(t), repr(t))
    assert d == ndgrad.device(*args) and hash(d) == hash(ndgrad.device(*args))
    assert ndgrad.device(d) == d and pickle.loads(pickle.dumps(d)) == d


def test_device_comparisons_and_errors_as_torch():
    pairs = [(("cuda",), ("cuda", 0)), (("cuda:0",), ("cuda", 0)), (("cpu",), ("cuda",))]
    for a, b in pairs:
        assert (ndgrad.device(*a) == ndgrad.device(*b)) == (torch.device(*a) == torch.device(*b))
    assert (ndgrad.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")  # both False
    assert len({ndgrad.device("cuda:0"), ndgrad.device("cuda", 0), ndgrad.device("cuda")}) == 2
    for bad in ["foo", "cuda:x", "cuda:-1", "cuda:01"]:
        with pytest.raises(RuntimeError) as theirs:
            torch.device(bad)
        with pytest.raises(RuntimeError) as ours:
            ndgrad.device(bad)
        assert str(ours.value).split(":")[0] == str(theirs.value).split(":")[0]
    with pytest.raises(RuntimeError, match="must not include an index"):
        ndgrad.device("cuda:1", 2)
    with pytest.raises(RuntimeError, match="must not be negative"):
        ndgrad.device("cpu", -1)
    with pytest.raises(TypeError, match="must be int"):
        ndgrad.device("cpu", True)


@pytest.mark.parametrize("code", [
    "lib.ones(2).cuda()", "lib.ones(2).to('cuda')", "lib.ones(2).to('cuda:1', non_blocking=True)",
    "lib.tensor([1.0], device='cuda')", "lib.zeros(2, device=lib.device('cuda', 0))",
    "lib.randn(2, device='cuda')", "lib.cuda.current_device()", "lib.ones(2).to(device='mps')",
    "lib.ones(2).type('torch.cuda.FloatTensor')", "lib.ones(2).type(lib.cuda.FloatTensor)",
    "lib.Tensor([1.0], device='cuda')", "lib.ones(2).new_zeros(2, device='cuda')",
    "lib.full((2,), 1.0, device='cuda')", "lib.as_tensor([1.0], device='cuda')",
])
def test_tensors_on_a_gpu_raise_as_torch_without_cuda(code):
    with pytest.raises((AssertionError, RuntimeError, TypeError)):  # torch without CUDA
        eval(code, {"lib": torch})
    with pytest.raises(AssertionError, match="CPU only") as info:
        eval(code, {"lib": ndgrad})
    assert isinstance(info.value, RuntimeError)  # and what torch with CUDA but no GPU raises


def test_modules_on_a_gpu_raise():
    with pytest.raises(ndgrad.DeviceUnavailableError, match="CPU only"):
        nn.Linear(2, 2).cuda()
    with pytest.raises(ndgrad.DeviceUnavailableError):
        nn.Linear(2, 2).to("cuda")
    with pytest.raises(ndgrad.DeviceUnavailableError):
        nn.Linear(2, 2, device="cuda:0")
    m = nn.Linear(2, 2, device=ndgrad.device("cpu", 0))
    assert m.to(ndgrad.device("cpu")) is m


def test_cpu_devices_work_everywhere():
    x = ndgrad.ones(2, device=ndgrad.device("cpu"))
    assert x.to("cpu:0") is x and x.cpu() is x and x.to(ndgrad.device("cpu")) is x
    assert x.device == ndgrad.device("cpu") and x.get_device() == torch.ones(2).get_device()
    assert ndgrad.tensor([1], device="cpu").device.type == "cpu"
    with ndgrad.device("cpu"):
        pass
    with pytest.raises(ndgrad.DeviceUnavailableError), ndgrad.device("cuda"):
        pass


def test_tensor_flags_as_torch():
    a, b = ndgrad.ones(2), torch.ones(2)
    for name in ["is_cuda", "is_xpu", "is_mps", "is_cpu", "is_meta", "is_sparse",
                 "is_quantized", "is_mkldnn", "is_nested"]:
        assert getattr(a, name) == getattr(b, name), name
    assert a.is_complex() == b.is_complex() and a.is_pinned() == b.is_pinned()
    assert repr(a.layout) == "ndgrad.strided" and a.layout is ndgrad.strided
    assert a.requires_grad_() is a and a.requires_grad and a.numel() == ndgrad.numel(a) == 2
    with pytest.raises(RuntimeError, match="CPU only"):
        a.pin_memory()


def test_device_idiom_picks_the_cpu():
    device = "cuda" if ndgrad.cuda.is_available() else (
        "mps" if ndgrad.backends.mps.is_available() else "cpu")
    assert device == "cpu"
    acc = ndgrad.accelerator
    device = acc.current_accelerator().type if acc.is_available() else "cpu"
    assert device == "cpu" and acc.device_count() == 0 and acc.current_accelerator() is None
    with pytest.raises(RuntimeError, match="none is available"):
        acc.current_device_index()
    assert ndgrad.xpu.is_available() is False and ndgrad.mps.device_count() == 0


def test_cuda_namespace_answers_as_torch_without_cuda():
    for name in ["is_available", "device_count", "is_initialized", "memory_allocated",
                 "max_memory_allocated", "memory_reserved", "max_memory_reserved",
                 "is_bf16_supported"]:
        assert getattr(ndgrad.cuda, name)() == getattr(torch.cuda, name)(), name
    for name in ["manual_seed_all", "manual_seed"]:
        assert getattr(ndgrad.cuda, name)(0) is None
    ndgrad.cuda.empty_cache()
    ndgrad.cuda.synchronize()
    ndgrad.cuda.reset_peak_memory_stats()
    assert ndgrad.cuda.get_rng_state_all() == []
    ndgrad.cuda.set_rng_state_all([])
    for name in ["current_device", "get_device_name", "init", "get_rng_state"]:
        with pytest.raises(AssertionError, match="no cuda device"):
            getattr(ndgrad.cuda, name)()
    with pytest.raises(TypeError, match="not available"):
        ndgrad.cuda.FloatTensor([1.0])
    assert not isinstance(ndgrad.ones(1), ndgrad.cuda.FloatTensor)


def test_backend_flags_are_kept_as_set():
    cudnn = ndgrad.backends.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (
        torch.backends.cudnn.enabled, torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32)
    assert not cudnn.is_available() and cudnn.version() is None
    old = cudnn.benchmark
    cudnn.benchmark = True
    try:
        with cudnn.flags(enabled=False, benchmark=False, deterministic=True):
            assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (False, False, True)
        assert cudnn.benchmark is True and cudnn.enabled is True
    finally:
        cudnn.benchmark = old
    matmul = ndgrad.backends.cuda.matmul
    assert matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is False
    matmul.allow_tf32 = True
    assert ndgrad.backends.cuda.matmul.allow_tf32
    matmul.allow_tf32 = False
    assert not ndgrad.backends.mps.is_available() and not ndgrad.backends.mps.is_built()
    assert not ndgrad.backends.cuda.is_built() and ndgrad.backends.mkldnn.enabled
    assert ndgrad.backends.opt_einsum.enabled and ndgrad.backends.opt_einsum.strategy == "auto"


# -- settings ----------------------------------------------------------------------------------


def test_num_threads_control_numpys_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    old = ndgrad.get_num_threads()
    try:
        ndgrad.set_num_threads(1)
        assert ndgrad.get_num_threads() == 1
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert all(p["num_threads"] == 1 for p in blas)
    finally:
        ndgrad.set_num_threads(old)
    assert ndgrad.get_num_threads() == old
    assert ndgrad.get_num_interop_threads() == 1
    ndgrad.set_num_interop_threads(4)
    for bad in (0, -1, 1.5):
        with pytest.raises(RuntimeError):
            ndgrad.set_num_threads(bad)


def test_num_threads_without_threadpoolctl_says_so():
    code = ("import sys, warnings; sys.modules['threadpoolctl'] = None; import ndgrad\n"
            "assert ndgrad.get_num_threads() >= 1\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always'); ndgrad.set_num_threads(2)\n"
            "print(w[0].message)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"OMP_NUM_THREADS": "3", "PATH": ""}).stdout
    assert "no effect" in out and "ndgrad[threads]" in out


def test_determinism_and_precision_settings():
    assert not ndgrad.are_deterministic_algorithms_enabled()
    ndgrad.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert ndgrad.are_deterministic_algorithms_enabled()
        assert ndgrad.is_deterministic_algorithms_warn_only_enabled()
    finally:
        ndgrad.use_deterministic_algorithms(False)
    assert ndgrad.get_float32_matmul_precision() == "highest"
    ndgrad.set_float32_matmul_precision("high")
    assert ndgrad.get_float32_matmul_precision() == "high"
    with pytest.warns(UserWarning, match="no effect"):
        ndgrad.set_float32_matmul_precision("fast")
    ndgrad.set_float32_matmul_precision("highest")
    ndgrad.set_default_device("cpu")
    ndgrad.set_default_device(None)
    assert ndgrad.get_default_device() == torch.get_default_device().type and False or \
        ndgrad.get_default_device() == ndgrad.device("cpu")
    with pytest.raises(ndgrad.DeviceUnavailableError):
        ndgrad.set_default_device("cuda")


def test_compile_and_jit_are_identity_wrappers():
    model = nn.Linear(2, 2)
    assert ndgrad.compile(model)._orig_mod is model  # (torch's wrapper: test_compiler_version)
    assert ndgrad.compile(model, disable=True) is model
    assert ndgrad.compile(mode="max-autotune")(len) is len

    @ndgrad.compile
    def f(x):
        return x * 2

    assert f(3) == 6 and "no compiler" in ndgrad.compile.__doc__
    assert ndgrad.jit.script(model) is model and ndgrad.jit.trace(model, ndgrad.ones(1, 2)) is model
    assert ndgrad.jit.ignore(len) is len and ndgrad.jit.ignore(drop=True)(len) is len
    assert not ndgrad.jit.is_scripting() and "unchanged" in ndgrad.jit.script.__doc__


def test_autocast_is_a_noop_that_warns_for_cuda():
    x = ndgrad.ones(2, 2)
    with ndgrad.autocast("cpu", dtype=ndgrad.bfloat16):
        assert (x @ x).dtype == ndgrad.float32
    with pytest.warns(UserWarning, match="not available"):
        ctx = ndgrad.autocast("cuda")
    with ctx:
        pass
    with pytest.warns(UserWarning), ndgrad.cuda.amp.autocast():
        pass
    with pytest.raises(RuntimeError, match="device type"):
        ndgrad.autocast("gpu")

    @ndgrad.amp.autocast("cpu")
    def f(a):
        return a + 1

    assert f(1) == 2 and not ndgrad.is_autocast_enabled()


def _scaler_run(lib, grads, device):
    p = lib.nn.Parameter(lib.zeros(2, dtype=lib.float64))
    opt = lib.optim.SGD([p], lr=0.5)
    scaler = lib.amp.GradScaler(device, init_scale=8.0, growth_interval=2)
    scales = []
    for g in grads:
        opt.zero_grad()
        loss = (p * lib.tensor(g, dtype=lib.float64)).sum()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return p.detach().numpy().copy(), scales, scaler.state_dict()


def test_grad_scaler_matches_torch_on_the_cpu():
    grads = [[1.0, 2.0], [np.inf, 1.0], [0.5, 0.5], [1.0, -1.0], [np.nan, 0.0], [2.0, 2.0]]
    p, scales, state = _scaler_run(ndgrad, grads, "cpu")
    tp, tscales, tstate = _scaler_run(torch, grads, "cpu")
    np.testing.assert_allclose(p, tp)
    assert scales == tscales and state == tstate
    with pytest.warns(UserWarning, match="Disabling"):
        off = ndgrad.cuda.amp.GradScaler()
    assert not off.is_enabled() and off.get_scale() == 1.0 and off.state_dict() == {}
    x = ndgrad.ones(1)
    assert off.scale(x) is x


# -- legacy API, constants, dtypes -------------------------------------------------------------


def test_legacy_typed_constructors_as_torch():
    for name in ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "ShortTensor",
                 "CharTensor", "ByteTensor", "BoolTensor", "HalfTensor"]:
        ours, theirs = getattr(ndgrad, name), getattr(torch, name)
        assert str(ours([1, 0]).dtype).split(".")[1] == str(theirs([1, 0]).dtype).split(".")[1]
        np.testing.assert_array_equal(ours([1.7, 2]).numpy(), theirs([1.7, 2]).numpy())
        assert ours(2, 3).shape == theirs(2, 3).shape and ours().shape == theirs().shape
        assert isinstance(ours([1]), ours) and repr(ours) == f"<class 'ndgrad.{name}'>"
        assert ours.dtype == getattr(ndgrad, str(theirs.dtype).split(".")[1])
    assert not isinstance(ndgrad.ones(1), ndgrad.LongTensor) and not isinstance(1, ndgrad.Tensor)
    assert not issubclass(ndgrad.FloatTensor, ndgrad.Tensor)  # nor in torch
    x = ndgrad.FloatTensor(ndgrad.ones(2))
    with pytest.raises(TypeError, match="expected ndgrad.float32"):
        ndgrad.FloatTensor(ndgrad.ones(2, dtype=ndgrad.int64))
    assert x.type(ndgrad.LongTensor).dtype == ndgrad.int64
    assert x.type("torch.DoubleTensor").dtype == ndgrad.float64 and x.type() == "ndgrad.FloatTensor"
    with pytest.raises(ValueError, match="invalid type"):
        x.type("torch.FooTensor")
    cuda = ndgrad.cuda.is_available()
    Tensor = ndgrad.cuda.FloatTensor if cuda else ndgrad.FloatTensor  # pytorch-GAN's idiom
    assert Tensor(4, 2).fill_(1.0).sum().item() == 8.0


def test_set_default_tensor_type():
    try:
        ndgrad.set_default_tensor_type(ndgrad.DoubleTensor)
        assert ndgrad.tensor([1.0]).dtype == ndgrad.float64
        ndgrad.set_default_tensor_type("torch.FloatTensor")
        assert ndgrad.tensor([1.0]).dtype == ndgrad.float32
        with pytest.raises(ndgrad.DeviceUnavailableError):
            ndgrad.set_default_tensor_type("torch.cuda.FloatTensor")
    finally:
        ndgrad.set_default_dtype(ndgrad.float32)


def test_variable_is_a_thin_wrapper():
    Variable = ndgrad.autograd.Variable
    t = ndgrad.ones(2)
    v = Variable(t, requires_grad=True)
    assert type(v) is ndgrad.Tensor and v is not t and v.requires_grad and v.is_leaf
    assert isinstance(t, Variable) and not isinstance(np.ones(1), Variable)
    (v * 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]
    v.data[0] = 5  # shares memory with t, as torch's
    assert t[0].item() == 5
    with pytest.warns(UserWarning, match="volatile"):
        Variable(t, volatile=True)
    with pytest.raises(TypeError, match="has to be a tensor"):
        Variable([1.0])
    assert Variable().shape == (0,)


def test_constants_as_torch():
    for name in ["inf", "nan", "pi", "e"]:
        a, b = getattr(ndgrad, name), getattr(torch, name)
        assert a == b or (np.isnan(a) and np.isnan(b))
    assert ndgrad.newaxis is None and ndgrad.ones(3)[:, ndgrad.newaxis].shape == (3, 1)
    mask = ndgrad.ones(2, 2).tril() == 0
    assert ndgrad.zeros(2, 2).masked_fill(mask, -ndgrad.inf)[0, 1].item() == -np.inf


def test_bfloat16_is_named_but_makes_no_tensor():
    table = {"float32": ndgrad.float32, "bfloat16": ndgrad.bfloat16, "float16": ndgrad.float16}
    assert repr(table["bfloat16"]) == "ndgrad.bfloat16" and ndgrad.bfloat16.is_floating_point
    assert ndgrad.bfloat16.itemsize == 2 and ndgrad.bfloat16 != ndgrad.float16
    assert ndgrad.ones(1).dtype != ndgrad.bfloat16 and pickle.loads(
        pickle.dumps(ndgrad.bfloat16)) is ndgrad.bfloat16
    for code in ["ndgrad.zeros(2, dtype=ndgrad.bfloat16)", "ndgrad.ones(2).to(ndgrad.bfloat16)",
                 "ndgrad.tensor([1.0], dtype=ndgrad.bfloat16)"]:
        with pytest.raises(TypeError, match="no bfloat16 tensors.*float32"):
            eval(code)


def test_tensor_compared_with_none_as_torch():
    x = ndgrad.ones(2)
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert (torch.ones(2) == None) is False  # noqa: E711
    assert x not in [None] and x.eq(None) is False


def test_tensor_subclassing_basics():
    class Tagged(ndgrad.Tensor):
        tag = "mine"

    t = Tagged([1.0, 2.0])
    assert isinstance(t, ndgrad.Tensor) and t.tag == "mine" and (t * 2).tolist() == [2.0, 4.0]
    assert isinstance(t, ndgrad.FloatTensor)


# -- out= --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [
    "lib.add(a, b, out=o)", "lib.mul(a, 2, out=o)", "lib.matmul(a, b.T, out=o)",
    "lib.cat([a, b], out=o)", "lib.stack([a, b], out=o)", "lib.sum(a, 1, out=o)",
    "lib.exp(a, out=o)", "lib.where(a > 0, a, b, out=o)", "lib.mean(a, 0, keepdim=True, out=o)",
    "lib.clamp(a, -0.5, 0.5, out=o)", "lib.sub(a, b, alpha=2, out=o)", "lib.gt(a, b, out=o)",
    "lib.arange(5, out=o)", "lib.zeros(2, 2, out=o)", "lib.randn(3, out=o).shape",
])
@pytest.mark.parametrize("out_shape", [(0,), (2, 3), (3, 3)])
def test_out_writes_and_resizes_as_torch(code, out_shape):
    a_np, b_np = np.random.default_rng(0).standard_normal((2, 2, 3))
    got = {}
    for lib in (ndgrad, torch):
        a, b = lib.tensor(a_np), lib.tensor(b_np)
        o = lib.zeros(out_shape, dtype=lib.float64)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = eval(code, {"lib": lib, "a": a, "b": b, "o": o})
        got[lib.__name__] = (r is o or not hasattr(r, "shape"), o.numpy().copy(),
                             [str(x.message).split(".")[0] for x in w])
    (same, vals, warns), (tsame, tvals, twarns) = got["ndgrad"], got["torch"]
    assert same == tsame and (warns == twarns or "arange" in code)  # (arange's own words)
    if "rand" not in code:
        np.testing.assert_allclose(vals, tvals)
    assert vals.shape == tvals.shape


def test_out_refuses_what_torch_refuses():
    for lib in (ndgrad, torch):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
            lib.add(lib.ones(2), 1.5, out=lib.zeros(2, dtype=lib.int64))
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            lib.add(lib.ones(2, requires_grad=True), 1, out=lib.zeros(2))
        o = lib.zeros(2, dtype=lib.uint8)
        lib.add(lib.ones(2, dtype=lib.int64), 300, out=o)  # narrowing integers is allowed
        assert o.tolist() == [45, 45]
        with lib.no_grad():
            lib.mul(lib.ones(2, requires_grad=True), 2, out=lib.zeros(2))


# -- layer outputs are contiguous where torch's are --------------------------------------------


@pytest.mark.parametrize("layer", [
    "nn.Conv2d(3, 4, 3, padding=1)", "nn.Conv2d(4, 4, 3, groups=2)", "nn.Conv1d(3, 4, 3)",
    "nn.MaxPool2d(2)", "nn.MaxPool2d(3, 1, 1)", "nn.AvgPool2d(2)", "nn.BatchNorm2d(4)",
    "nn.AdaptiveAvgPool2d(1)", "nn.ConvTranspose2d(4, 2, 3, padding=1)",
    "nn.ConvTranspose2d(4, 2, 3, stride=2)",
    "nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.MaxPool2d(2))",
])
def test_layer_outputs_are_contiguous_as_torch(layer):
    x = np.random.default_rng(0).standard_normal((2, 4, 8, 8)).astype(np.float32)
    if "Conv1d" in layer:
        x = x[:, :3, 0]
    elif "(3," in layer:
        x = x[:, :3]
    ours = eval(layer, {"nn": nn})(ndgrad.tensor(x))
    theirs = eval(layer, {"nn": torch.nn})(torch.tensor(x))
    assert ours.is_contiguous() == theirs.is_contiguous() is True
    assert ours.stride() == theirs.stride()
    flat = ours.view(ours.size(0), -1)  # the classic CNN idiom
    assert flat.shape == theirs.view(theirs.size(0), -1).shape


def test_subpackages_are_attributes_after_a_bare_import():
    code = ("import sys, ndgrad\n"
            "assert 'graphviz' not in sys.modules and 'ndgrad.viz' not in sys.modules\n"
            "assert callable(ndgrad.viz.draw_graph) and 'graphviz' not in sys.modules\n"
            "for name in ('cuda', 'backends', 'accelerator', 'mps', 'xpu', 'jit', 'amp',\n"
            "             'random'):\n"
            "    assert getattr(ndgrad, name).__name__ == 'ndgrad.' + name\n"
            "for name in ('linalg', 'fft', 'special'):\n"
            "    try:\n"
            "        assert getattr(ndgrad, name).__name__ == 'ndgrad.' + name\n"
            "    except AttributeError as e:\n"
            "        assert str(e) == f\"module 'ndgrad' has no attribute '{name}'\"\n"
            "assert ndgrad.onnx.__name__ == 'ndgrad.onnx'\n"
            "try:\n"
            "    ndgrad.no_such_module\n"
            "except AttributeError:\n"
            "    print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- tensor properties and small methods -----------------------------------------------------
def test_sizes_and_offsets_as_torch():
    def run(lib):
        base = lib.arange(10.0)
        v = base[2:].view(2, 4)[:, 1:]
        return (v.storage_offset(), v.nbytes, v.itemsize, v.ndimension(), base.storage_offset(),
                lib.ones(3, dtype=lib.int16).nbytes, v.is_same_size(lib.zeros(2, 3)),
                v.is_same_size(lib.zeros(3, 2)), (v * 2).output_nr, base.output_nr)
    assert run(ndgrad) == run(torch)


@pytest.mark.parametrize("shape, wrap", [((3, 3), False), ((5, 3), True), ((5, 3), False),
                                         ((3, 5), True), ((3, 3, 3), False), ((7, 2), True)])
def test_fill_diagonal_as_torch(shape, wrap):
    for value in (2.5, -1):
        t = torch.zeros(shape).fill_diagonal_(value, wrap=wrap)
        n = ndgrad.zeros(shape).fill_diagonal_(value, wrap=wrap)
        np.testing.assert_array_equal(n.numpy(), t.numpy())


def test_fill_diagonal_gradient_and_errors():
    grads = []
    for lib in (torch, ndgrad):
        w = lib.ones(3, 2, dtype=lib.float64, requires_grad=True)
        z = w * lib.tensor([[1.0, 2.0]], dtype=lib.float64)
        z.fill_diagonal_(5.0)
        (z * z).sum().backward()
        grads.append(w.grad.numpy())
        for bad, words in (((3, 3, 4), "equal length"), ((3,), "larger than 1")):
            with pytest.raises(RuntimeError, match=words):
                lib.zeros(bad).fill_diagonal_(1)
    np.testing.assert_array_equal(grads[1], grads[0])


def test_complex_conversions_and_activation_methods_as_torch():
    for name in ("cfloat", "cdouble"):
        t, n = getattr(torch.ones(2), name)(), getattr(ndgrad.ones(2), name)()
        assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    x = [-1.0, -0.3, 0.2, 2.0]
    np.testing.assert_allclose(ndgrad.tensor(x).prelu(ndgrad.tensor([0.1])).numpy(),
                               torch.tensor(x).prelu(torch.tensor([0.1])).numpy())
    np.testing.assert_array_equal(ndgrad.tensor(x).hardshrink(0.5).numpy(),
                                  torch.tensor(x).hardshrink(0.5).numpy())
    with pytest.raises(TypeError, match="no bfloat16 tensors"):
        ndgrad.ones(2).bfloat16()


# -- top-level functions torch scripts call -----------------------------------------------------
CAST_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64",
               "complex64", "bfloat16"]


def test_can_cast_matches_torch_for_every_pair():
    for a in CAST_DTYPES:
        for b in CAST_DTYPES:
            assert ndgrad.can_cast(getattr(ndgrad, a), getattr(ndgrad, b)) == \
                torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)
    with pytest.raises(TypeError, match="must be ndgrad.dtype"):
        ndgrad.can_cast("float32", ndgrad.float64)


def test_typename_is_signed_is_same_size_as_torch():
    for lib in (torch, ndgrad):
        prefix = lib.__name__
        assert lib.typename(lib.ones(2)) == f"{prefix}.FloatTensor"
        assert lib.typename(lib.ones(2, dtype=lib.int64)) == f"{prefix}.LongTensor"
        assert lib.typename(3) == "int"
        assert lib.typename(lib.nn.Linear(1, 1)) == f"{prefix}.nn.modules.linear.Linear"
        assert lib.typename(lib.nn.Linear) == f"{prefix}.nn.modules.linear.Linear"
        assert [lib.is_signed(lib.ones(1, dtype=d)) for d in (lib.uint8, lib.int8, lib.float32)] \
            == [False, True, True]
        assert lib.is_same_size(lib.ones(2, 3), lib.zeros(2, 3))
        assert not lib.is_same_size(lib.ones(2, 3), lib.zeros(3, 2))


def test_frombuffer_shares_memory_as_torch():
    for lib in (torch, ndgrad):
        buf = bytearray(np.array([1.0, 2.0, 3.0], np.float32).tobytes())
        t = lib.frombuffer(buf, dtype=lib.float32)
        assert t.tolist() == [1.0, 2.0, 3.0]
        t[0] = 5.0  # the buffer sees the write
        assert np.frombuffer(buf, np.float32)[0] == 5.0
        assert lib.frombuffer(buf, dtype=lib.float32, count=1, offset=4).tolist() == [2.0]
        assert lib.frombuffer(buf, dtype=lib.int16, offset=2).shape == (5,)
        x = lib.frombuffer(buf, dtype=lib.float32, requires_grad=True)
        assert x.requires_grad and x.is_leaf
        for kwargs, words in [({"offset": 3}, "multiple of element size"),
                              ({"count": 4}, "must not be greater"),
                              ({"offset": 12}, "offset")]:
            with pytest.raises(ValueError, match=words):
                lib.frombuffer(buf, dtype=lib.float32, **kwargs)
        with pytest.raises(ValueError, match="must not be 0"):
            lib.frombuffer(bytearray(), dtype=lib.float32)
        with pytest.warns(UserWarning, match="not writable"):
            lib.frombuffer(b"\x00\x00\x80?", dtype=lib.float32)


@pytest.mark.parametrize("name, args", [
    ("selu", ()), ("celu", (0.7,)), ("threshold", (0.1, -2.0)), ("hardshrink", (0.3,)),
    ("prelu", ("w",)), ("dropout", (0.5, False)), ("alpha_dropout", (0.2, False)),
    ("feature_alpha_dropout", (0.2, False)), ("rrelu", (0.1, 0.3, False)),
])
def test_top_level_activation_aliases_as_torch(name, args):
    x = np.random.default_rng(0).standard_normal((3, 4))

    def run(lib):
        a = [lib.tensor([0.25], dtype=lib.float64) if v == "w" else v for v in args]
        return getattr(lib, name)(lib.tensor(x), *a).numpy()
    np.testing.assert_allclose(run(ndgrad), run(torch), rtol=1e-12, atol=1e-15)


def test_top_level_distances_and_vmap_as_torch():
    a, b = np.random.default_rng(1).standard_normal((2, 5, 3))
    for name in ("cosine_similarity", "pairwise_distance"):
        n = getattr(ndgrad, name)(ndgrad.tensor(a), ndgrad.tensor(b)).numpy()
        np.testing.assert_allclose(n, getattr(torch, name)(torch.tensor(a), torch.tensor(b)),
                                   rtol=1e-12)
    np.testing.assert_allclose(ndgrad.vmap(lambda r: r @ r)(ndgrad.tensor(a)).numpy(),
                               torch.vmap(lambda r: r @ r)(torch.tensor(a)).numpy(), rtol=1e-12)


def test_asarray_shares_copies_and_converts_as_torch():
    import warnings as w
    for lib in (torch, ndgrad):
        t = lib.ones(3)
        assert lib.asarray(t) is t
        assert lib.asarray(t, copy=True).data_ptr() != t.data_ptr()
        assert lib.asarray(t, dtype=lib.float64).dtype == lib.float64
        a = np.ones(3, np.float32)
        x = lib.asarray(a)
        x[0] = 5.0
        assert a[0] == 5.0 and x.dtype == lib.float32  # shares the array's memory
        assert lib.asarray(a, copy=True).data_ptr() != a.ctypes.data
        assert lib.asarray(a, dtype=lib.float64).dtype == lib.float64
        assert [lib.asarray(v).dtype for v in ([1, 2], [1.0, 2], True, np.arange(2))] == \
            [lib.int64, lib.float32, lib.bool, lib.int64]
        assert lib.asarray(bytearray(np.ones(2, np.float32).tobytes())).tolist() == [1.0, 1.0]
        assert lib.asarray(memoryview(np.ones(1, np.float32).tobytes()),
                           dtype=lib.int16).tolist() == [0, 16256]
        for buffer, words in ((bytearray(), "must not be 0"),
                              (bytearray(3), "must be a multiple of element size")):
            with pytest.raises(ValueError, match=words):  # frombuffer's checks
                lib.asarray(buffer)
        for obj, kwargs in ((t, {"dtype": lib.float64}), ([1, 2], {})):
            with pytest.raises(ValueError, match="can't alias"):
                lib.asarray(obj, copy=False, **kwargs)
        with w.catch_warnings():
            w.simplefilter("ignore")  # torch's notice that the requires_grad default changed
            leaf = lib.ones(2, requires_grad=True)
            y = leaf * 2
            assert lib.asarray(y) is y and lib.asarray(y).requires_grad
            made = lib.asarray(a, requires_grad=True)
            assert made.requires_grad and made.is_leaf
            for kwargs, in_graph in (({"dtype": lib.float64}, True), ({"copy": True}, True),
                                     ({"copy": True, "requires_grad": False}, False)):
                made = lib.asarray(leaf, **kwargs)
                assert (made.grad_fn is not None, made.requires_grad) == (in_graph, in_graph)


def test_data_parallel_without_gpus_runs_the_module_as_torch():
    x = np.random.default_rng(2).standard_normal((4, 2))
    results = []
    weights = np.random.default_rng(3).standard_normal((3, 3))
    for lib in (torch, ndgrad):
        inner = lib.nn.Linear(2, 3).double()
        with lib.no_grad():
            inner.weight.copy_(lib.tensor(weights[:, :2]))
            inner.bias.copy_(lib.tensor(weights[:, 2]))
        model = lib.nn.DataParallel(inner)
        assert model.module is inner and model.device_ids == []
        assert list(model.state_dict()) == ["module.weight", "module.bias"]
        out = model(lib.tensor(x))
        out.sum().backward()
        if lib is ndgrad:  # (torch's functional form raises on a machine without GPUs)
            same = lib.nn.parallel.data_parallel(inner, lib.tensor(x))
            np.testing.assert_array_equal(same.detach().numpy(), out.detach().numpy())
        results.append((out.detach().numpy(), inner.weight.grad.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)
    with pytest.raises(ValueError, match="CPU only"):
        ndgrad.nn.DataParallel(ndgrad.nn.Linear(2, 3), device_ids=[0, 1])


def test_dlpack_shares_memory_both_ways():
    n = ndgrad.arange(4.0)
    t = torch.from_dlpack(n)  # torch reads ndgrad's memory
    t[0] = 9.0
    assert n.tolist() == [9.0, 1.0, 2.0, 3.0]
    src = torch.arange(3.0)
    m = ndgrad.from_dlpack(src)  # and ndgrad torch's
    m[1] = 7.0
    assert src.tolist() == [0.0, 7.0, 2.0] and m.dtype == ndgrad.float32
    assert ndgrad.from_dlpack(np.arange(3, dtype=np.int32)).dtype == ndgrad.int32
    from ndgrad.utils.dlpack import to_dlpack
    from_capsule = torch.utils.dlpack.from_dlpack(to_dlpack(n))
    assert from_capsule.data_ptr() == n.data_ptr()
    with pytest.raises(BufferError, match="require gradient"):
        torch.from_dlpack(ndgrad.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="detach"):
        ndgrad.from_dlpack(torch.ones(2, requires_grad=True))


@pytest.mark.parametrize("x, n, increasing", [
    ([1.0, 2.0, 0.0], 4, False), ([1, 2, 3], None, True), ([2.0, -1.0], 1, False),
    ([2.0, 3.0], 0, True), ([True, False], 3, False), ([], 2, False)])
def test_vander_as_torch(x, n, increasing):
    t = torch.vander(torch.tensor(x), N=n, increasing=increasing)
    v = ndgrad.vander(ndgrad.tensor(x), N=n, increasing=increasing)
    assert v.dtype == getattr(ndgrad, str(t.dtype).split(".")[1])
    np.testing.assert_array_equal(v.numpy(), t.numpy())


def test_vander_gradient_is_defined_at_zero():
    # (torch 2.13's own vander backward fails with an in-place error, so: numerically)
    x = ndgrad.tensor([0.0, 2.0, -1.5], dtype=ndgrad.float64, requires_grad=True)
    assert ndgrad.autograd.gradcheck(lambda v: ndgrad.vander(v, 4), (x,))
    with pytest.raises(RuntimeError, match="one-dimensional"):
        ndgrad.vander(ndgrad.ones(2, 2))


def test_modes_and_settings_as_torch():
    for lib in (torch, ndgrad):
        try:
            modes = []
            for mode in ("warn", 2, "default", 1, 0):
                lib.set_deterministic_debug_mode(mode)
                modes.append((lib.get_deterministic_debug_mode(),
                              lib.are_deterministic_algorithms_enabled(),
                              lib.is_deterministic_algorithms_warn_only_enabled()))
            assert modes == [(1, True, True), (2, True, False), (0, False, False),
                             (1, True, True), (0, False, False)]
            for bad, words in (("x", "one of `default`"), (3, "0, 1, or 2")):
                with pytest.raises(RuntimeError, match=words):
                    lib.set_deterministic_debug_mode(bad)
        finally:
            lib.set_deterministic_debug_mode(0)
        assert not lib.is_warn_always_enabled()
        lib.set_warn_always(True)
        assert lib.is_warn_always_enabled()
        lib.set_warn_always(False)
        seen = [lib.is_inference_mode_enabled()]
        with lib.inference_mode():
            seen.append(lib.is_inference_mode_enabled())
            with lib.inference_mode(False):
                seen.append(lib.is_inference_mode_enabled())
            seen.append(lib.is_inference_mode_enabled())
        assert seen + [lib.is_inference_mode_enabled()] == [False, True, False, True, False]


def test_range_and_old_norms_as_torch():
    for args, kwargs in (((0, 3), {}), ((1, 2, 0.5), {}), ((0, 3), {"dtype": "int64"}),
                         ((0, 1, 0.3), {})):
        kw = {k: getattr(torch, v) for k, v in kwargs.items()}
        with pytest.warns(UserWarning, match="deprecated"):
            t = torch.range(*args, **kw)
        with pytest.warns(UserWarning, match="deprecated"):
            n = ndgrad.range(*args, **{k: getattr(ndgrad, v) for k, v in kwargs.items()})
        assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
        np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=1e-6)
    for lib in (torch, ndgrad):
        with pytest.raises(TypeError):
            lib.range(2.5)  # no one-argument form
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    for name, kwargs in (("nuclear_norm", {}), ("nuclear_norm", {"dim": (0, 2)}),
                         ("frobenius_norm", {"dim": (1, 2)}),
                         ("frobenius_norm", {"dim": 1, "keepdim": True})):
        a = x if "dim" in kwargs else x[0]
        np.testing.assert_allclose(getattr(ndgrad, name)(ndgrad.tensor(a), **kwargs).numpy(),
                                   getattr(torch, name)(torch.tensor(a), **kwargs).numpy(),
                                   rtol=1e-12)


@pytest.mark.parametrize("name, args", [
    ("relu_", ()), ("sigmoid_", ()), ("exp_", ()), ("clamp_", (-0.5, 0.5)), ("neg_", ()),
    ("selu_", ()), ("celu_", ()), ("threshold_", (0.1, 9.0)), ("square_", ()),
    ("nan_to_num_", ()), ("dropout_", (0.5, False)), ("alpha_dropout_", (0.5, False))])
def test_top_level_in_place_forms_as_torch(name, args):
    x = np.random.default_rng(5).standard_normal((3, 4))
    out = []
    for lib in (torch, ndgrad):
        t = lib.tensor(x)
        r = getattr(lib, name)(t, *args)
        assert r is t or r.data_ptr() == t.data_ptr()  # in place
        out.append(t.numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)


@pytest.mark.parametrize("name, args", [
    ("max_pool1d", (2,)), ("max_pool1d", (3, [], 1)), ("max_pool1d", (3, 2, 1, 2, True)),
    ("avg_pool1d", (2,)), ("adaptive_avg_pool1d", (3,)), ("adaptive_max_pool1d", (3,)),
    ("max_pool1d_with_indices", (2,)), ("max_pool2d", (2,)), ("max_pool3d", (2, [], 0))])
def test_top_level_pooling_forms_as_torch(name, args):
    shape = {"max_pool2d": (2, 3, 6, 6), "max_pool3d": (1, 2, 4, 4, 4)}.get(name, (2, 3, 8))
    x = np.random.default_rng(6).standard_normal(shape)
    t = getattr(torch, name)(torch.tensor(x), *args)
    n = getattr(ndgrad, name)(ndgrad.tensor(x), *args)
    for a, b in zip(t if isinstance(t, tuple) else (t,), n if isinstance(n, tuple) else (n,),
                    strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12)


def test_top_level_embedding_bilinear_and_norm_forms_as_torch():
    rng = np.random.default_rng(7)
    w, idx = rng.standard_normal((5, 3)), np.array([[0, 2], [4, 2]])
    x1, x2, wb = rng.standard_normal((4, 2)), rng.standard_normal((4, 3)), \
        rng.standard_normal((5, 2, 3))
    img, gamma, beta = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), \
        rng.standard_normal(3)

    def run(lib):
        t = lib.tensor
        stats = [t(np.zeros(3)), t(np.ones(3))]
        return [lib.embedding(t(w), t(idx)), lib.embedding(t(w), t(idx), padding_idx=2),
                lib.bilinear(t(x1), t(x2), t(wb)),
                lib.batch_norm(t(img), t(gamma), t(beta), *stats, True, 0.1, 1e-5, False),
                stats[0], stats[1],
                lib.instance_norm(t(img), t(gamma), t(beta), None, None, True, 0.1, 1e-5,
                                  False)]
    for a, b in zip(run(torch), run(ndgrad), strict=True):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-12,
                                   atol=1e-14)


def test_dim_order_new_and_const_data_ptr_as_torch():
    def run(lib):
        x = lib.ones(2, 3, 4, 5)
        orders = [x.dim_order(), x.to(memory_format=lib.channels_last).dim_order(),
                  x.transpose(0, 1).dim_order(), lib.ones(3, 1, 2).dim_order(),
                  lib.ones(2, 3).t().dim_order(), lib.ones(()).dim_order(),
                  lib.ones(1, 1, 2).transpose(0, 1).dim_order(), lib.ones(2, 2)[:, :1].dim_order()]
        made = [lib.ones(2).new(2, 3), lib.ones(2, dtype=lib.int64).new([1, 2]),
                lib.ones(2).new(), lib.ones(2).new((2, 3)), lib.ones(2).new(lib.ones(3))]
        return orders, [(tuple(m.shape), str(m.dtype).split(".")[1]) for m in made], \
            made[3].tolist(), x.const_data_ptr() == x.data_ptr()
    assert run(ndgrad) == run(torch)
    for lib in (torch, ndgrad):
        with pytest.raises(TypeError, match="expected"):
            lib.ones(2).new(lib.ones(2, dtype=lib.int64))


def test_apply_and_map_as_torch():
    def run(lib):
        t = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        assert t.apply_(lambda v: v * 10) is t
        t.map_(lib.tensor([1.0, -1.0]), lambda a, b: a * b + 0.5)
        i = lib.tensor([1, 2]).apply_(lambda v: v * 3)
        return t.tolist(), i.tolist()
    assert run(ndgrad) == run(torch)
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError, match="requires grad"):
            lib.ones(2, requires_grad=True).apply_(lambda v: v)


def test_cpu_device_module_as_torch():
    for lib in (torch, ndgrad):
        assert (lib.cpu.is_available(), lib.cpu.device_count(), lib.cpu.current_device()) == \
            (True, 1, "cpu")
        lib.cpu.synchronize()
        lib.cpu.set_device("cpu")
        with lib.cpu.stream(lib.cpu.current_stream()):
            pass
        with pytest.warns(FutureWarning, match="deprecated"), lib.cpu.amp.autocast():
            assert lib.ones(2).sum().item() == 2.0
