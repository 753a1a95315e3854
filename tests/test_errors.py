"""Bad input raises an exception whose message says what was wrong, with the shapes/dtypes
involved, of the same type as torch's (never a wrong number, never NumPy's raw message)."""

import re

import pytest
import torch

import ndgrad

LIBS = [torch, ndgrad]


def raises_like_torch(expr, *needles, env=None):
    """``expr`` raises the same exception type on both; ndgrad's message contains ``needles``."""
    errors = []
    for lib in LIBS:
        with pytest.raises(Exception) as info:
            eval(expr, {"lib": lib, **(env or {})})
        errors.append(info.value)
    t, n = errors
    assert isinstance(n, type(t)) or isinstance(t, type(n)), f"torch: {t!r}\nndgrad: {n!r}"
    msg = str(n)
    assert "operands could not be broadcast" not in msg, msg  # NumPy's words, not ours
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


# -- matmul ------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr, needles", [
    ("lib.randn(64, 784) @ lib.randn(100, 10)", ["64x784 and 100x10"]),
    ("lib.randn(2, 3).mm(lib.randn(4, 5))", ["2x3 and 4x5"]),
    ("lib.randn(3) @ lib.randn(4, 2)", ["1x3 and 4x2"]),
    ("lib.randn(3) @ lib.randn(4)", ["[3]", "[4]"]),
    ("lib.randn(2, 3) @ lib.randn(4)", ["2x3", "4"]),
    ("lib.randn(5, 2, 3) @ lib.randn(4, 3, 4)", ["tensor a (5)", "tensor b (4)"]),
    ("lib.randn(2, 3).matmul(lib.randn(3, 4, dtype=lib.float64))", ["float32", "float64"]),
])
def test_matmul_shape_and_dtype_errors(expr, needles):
    raises_like_torch(expr, *needles)


# -- broadcasting ------------------------------------------------------------------------------
@pytest.mark.parametrize("expr, a, b, dim", [
    ("lib.ones(2, 3) + lib.ones(2, 4)", 3, 4, 1),
    ("lib.ones(2, 3) * lib.ones(4)", 3, 4, 1),
    ("lib.ones(2, 3) - lib.ones(3, 3, 2)", 3, 2, 2),
    ("lib.ones(2, 3) / lib.ones(2, 4)", 3, 4, 1),
    ("lib.ones(2, 3) ** lib.ones(2, 4)", 3, 4, 1),
    ("lib.ones(2, 3) % lib.ones(2, 4)", 3, 4, 1),
    ("lib.ones(3) + lib.ones(4, dtype=lib.float64)", 3, 4, 0),
    ("lib.ones(3, requires_grad=True) * lib.ones(4)", 3, 4, 0),
    ("lib.ones(3).add(lib.ones(4))", 3, 4, 0),
    ("lib.ones(3).maximum(lib.ones(4))", 3, 4, 0),
    ("lib.ones(3) == lib.ones(4)", 3, 4, 0),
    ("lib.ones(3) < lib.ones(4)", 3, 4, 0),
    ("lib.ones(4) >= lib.ones(3)", 4, 3, 0),
    ("lib.ones(3).lerp(lib.ones(4), 0.5)", None, None, 0),
    ("lib.where(lib.ones(3) > 0, lib.ones(4), 0.)", None, None, 0),
    ("lib.ones(3).masked_fill(lib.ones(4) > 0, 0.)", None, None, 0),
    ("lib.zeros(3).add_(lib.ones(4))", 3, 4, 0),
])
def test_broadcast_mismatch_names_both_sizes_and_the_dim(expr, a, b, dim):
    needles = [f"at non-singleton dimension {dim}"]
    if a is not None:
        needles += [f"tensor a ({a})", f"tensor b ({b})"]
    msg = raises_like_torch(expr, *needles)
    assert re.search(r"size of tensor a \(\d+\) must match the size of tensor b \(\d+\)", msg)


def test_inplace_output_shape_mismatch():
    raises_like_torch("lib.zeros(2).add_(lib.ones(2, 2))", "output with shape [2]", "[2, 2]")


def test_expand_and_setitem_shape_errors():
    raises_like_torch("lib.ones(2, 3).expand(3, 3)", "expanded size", "[3, 3]", "[2, 3]")
    raises_like_torch("lib.zeros(2, 3).__setitem__(0, lib.ones(4))", "expanded size",
                      "Target sizes: [3]", "Tensor sizes: [4]")


# -- autograd misuse ---------------------------------------------------------------------------
def test_backward_on_non_scalar_without_gradient():
    msg = raises_like_torch("(lib.ones(2, 3, requires_grad=True) * 2).backward()",
                            "only for scalar outputs")
    assert "[2, 3]" in msg or "(2, 3)" in msg


def test_backward_gradient_of_the_wrong_shape():
    raises_like_torch("(lib.ones(2, 2, requires_grad=True) * 2).backward(lib.ones(2))",
                      "Mismatch in shape", "(2,)", "(2, 2)")


def test_backward_on_a_tensor_that_does_not_require_grad():
    raises_like_torch("lib.ones(2).sum().backward()", "does not require grad")


@pytest.mark.parametrize("expr", [
    "lib.tensor([1, 2], requires_grad=True)",
    "lib.tensor([1, 2]).requires_grad_()",
    "lib.zeros(3, dtype=lib.int64, requires_grad=True)",
    "lib.arange(3, requires_grad=True)",
    "lib.tensor([True]).requires_grad_()",
])
def test_requires_grad_on_a_non_float_tensor(expr):
    msg = raises_like_torch(expr, "floating point")
    assert "int64" in msg or "bool" in msg  # the dtype that was wrong


def test_changing_requires_grad_of_a_non_leaf():
    raises_like_torch("(lib.ones(2, requires_grad=True) * 2).requires_grad_(False)",
                      "leaf", "detach")


def test_inplace_change_of_a_tensor_saved_for_backward():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        z = y * y  # saves y
        y.add_(1)
        with pytest.raises(RuntimeError, match="inplace") as info:
            z.sum().backward()
        msg = str(info.value)
        assert "version 1" in msg and "version 0" in msg and "[2]" in msg


def test_inplace_change_of_a_saved_output():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.sigmoid()  # saves its output
        y[0] = 0.0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_inplace_change_of_a_saved_leaf_under_no_grad():
    for lib in LIBS:
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        x = lib.tensor([3.0, 4.0])
        y = (w * x).sum()  # saves x for w's gradient
        with lib.no_grad():
            x.mul_(2)
        with pytest.raises(RuntimeError, match="inplace"):
            y.backward()


@pytest.mark.parametrize("stmt", ["x.add_(1)", "x.mul_(2)", "x.zero_()", "x.fill_(1.)",
                                  "x.clamp_(0, 1)", "x[0] = 5.0", "x += 1"])
def test_inplace_on_a_leaf_that_requires_grad(stmt):
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            exec(stmt, {"x": x})
        assert x.tolist() == [1.0, 2.0]  # nothing was written


# -- shapes, views, indices, dims ----------------------------------------------------------------
@pytest.mark.parametrize("expr, needles", [
    ("lib.arange(6).view(4, 2)", ["'[4, 2]' is invalid for input of size 6"]),
    ("lib.arange(6).view(-1, 4)", ["'[-1, 4]' is invalid for input of size 6"]),
    ("lib.arange(6).reshape(4, 2)", ["'[4, 2]' is invalid for input of size 6"]),
    ("lib.ones(2, 3).view(7)", ["'[7]' is invalid for input of size 6"]),
    ("lib.arange(6).view(-1, -1)", ["only one dimension can be inferred"]),
])
def test_view_on_an_impossible_shape(expr, needles):
    raises_like_torch(expr, *needles)


@pytest.mark.parametrize("expr", ["lib.arange(6).view(2, 3).t().view(6)",
                                  "lib.ones(2, 3).T.view(-1)",
                                  "lib.ones(4, 4)[:, :2].view(8)"])
def test_view_on_a_non_contiguous_tensor(expr):
    raises_like_torch(expr, "view size is not compatible", ".reshape(...)")


def test_reshape_and_contiguous_view_work_where_view_refuses():
    for lib in LIBS:
        t = lib.arange(6).view(2, 3).t()
        assert t.reshape(6).tolist() == [0, 3, 1, 4, 2, 5]
        assert t.contiguous().view(6).tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("expr, needles", [
    ("lib.arange(6)[6]", ["index 6 is out of bounds for dimension 0 with size 6"]),
    ("lib.arange(6)[-7]", ["index -7 is out of bounds for dimension 0 with size 6"]),
    ("lib.arange(6).view(2, 3)[2]", ["index 2", "dimension 0 with size 2"]),
    ("lib.arange(6).view(2, 3)[0, 3]", ["index 3", "dimension 1 with size 3"]),
    ("lib.arange(6)[lib.tensor([0, 7])]", ["index 7", "size 6"]),
    ("lib.arange(6)[[0, 7]]", ["index 7", "size 6"]),
    ("lib.arange(6).view(2, 3)[0, 0, 0]", ["too many indices", "2"]),
    ("lib.arange(6)[lib.tensor([True, False])]", ["[2]", "[6]"]),
    ("lib.arange(6)[lib.tensor([0.5])]", ["long", "bool"]),
])
def test_out_of_range_index(expr, needles):
    raises_like_torch(expr, *needles)


def test_out_of_range_index_assignment():
    for lib in LIBS:
        with pytest.raises(IndexError, match="out of bounds"):
            lib.zeros(3)[3] = 1.0


@pytest.mark.parametrize("expr, got, lo, hi", [
    ("lib.arange(6).sum(dim=1)", 1, -1, 0),
    ("lib.arange(6).view(2, 3).sum(dim=2)", 2, -2, 1),
    ("lib.arange(6).view(2, 3).sum(dim=-3)", -3, -2, 1),
    ("lib.arange(6.).view(2, 3).mean(dim=5)", 5, -2, 1),
    ("lib.arange(6).view(2, 3).transpose(0, 2)", 2, -2, 1),
    ("lib.arange(6).view(2, 3).unsqueeze(3)", 3, -3, 2),
    ("lib.arange(6).view(2, 3).squeeze(2)", 2, -2, 1),
    ("lib.arange(6).view(2, 3).permute(0, 2)", 2, -2, 1),
    ("lib.arange(6).view(2, 3).size(2)", 2, -2, 1),
    ("lib.arange(6).view(2, 3).max(dim=2)", 2, -2, 1),
    ("lib.cat([lib.ones(2, 3), lib.ones(2, 3)], dim=2)", 2, -2, 1),
    ("lib.arange(6).view(2, 3).flatten(0, 3)", 3, -2, 1),
    ("lib.ones(2, 3).gather(2, lib.zeros(2, 3, dtype=lib.int64))", 2, -2, 1),
    ("lib.arange(6.).view(2, 3).softmax(dim=2)", 2, -2, 1),
    ("lib.arange(6.).view(2, 3).cumsum(dim=-3)", -3, -2, 1),
])
def test_out_of_range_dim(expr, got, lo, hi):
    raises_like_torch(expr, f"expected to be in range of [{lo}, {hi}], but got {got}")


def test_other_shape_and_value_errors():
    raises_like_torch("lib.arange(6).view(2, 3).permute(0, 0)", "duplicate dims")
    raises_like_torch("lib.ones(2, 3).item()", "6 elements")
    raises_like_torch("lib.cat([lib.ones(2, 3), lib.ones(3, 2)])", "Sizes of tensors must match")
    raises_like_torch("lib.stack([lib.ones(2, 3), lib.ones(3, 2)])", "[2, 3]", "[3, 2]")
    raises_like_torch("lib.ones(2, 3, requires_grad=True).numpy()", "detach")
    raises_like_torch("lib.arange(0, 3, -1)", "step sign")
    raises_like_torch("lib.randint(5, 3, (2,))", "from=5 >= to=3")
    with pytest.raises(RuntimeError, match="CPU only; device 'cuda'"):
        ndgrad.ones(2).to("cuda")  # (torch without CUDA raises an AssertionError)


def test_backward_with_a_gradient_count_that_does_not_match_the_outputs():
    a = ndgrad.ones(2, requires_grad=True)
    b, c = (a * 2).sum(), (a * 3).sum()
    with pytest.raises(RuntimeError, match="got 2 tensors and 1 gradients"):
        ndgrad.autograd.backward([b, c], [ndgrad.tensor(1.0)])


def test_numpy_floating_point_warnings_stay_inside_ndgrad():
    """torch returns inf and nan silently; ndgrad's NumPy calls must not warn either (even
    with every warning shown), while the user's own NumPy code keeps its warnings."""
    import subprocess
    import sys

    code = ("import numpy as np, ndgrad\n"
            "x = ndgrad.tensor([0.0, -1.0, 1e30], requires_grad=True)\n"
            "y = ndgrad.log(x) / ndgrad.tensor(0.0) + (x * x).float().int()\n"
            "y.sum().backward()\n"
            "np.log(np.zeros(1))\n")
    out = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                         text=True, check=True)
    lines = [line for line in out.stderr.splitlines() if "Warning" in line]
    assert len(lines) == 1 and "<string>:5: RuntimeWarning: divide by zero" in lines[0], lines


@pytest.mark.parametrize("index, shape", [
    (slice(None), (4,)), (slice(None), (2, 2)), (slice(None), (5, 3)), (0, (4,)),
    (Ellipsis, (1, 2, 3, 3)), ([0, 1], (2, 4)), ((slice(None), [0, 2]), (3,)),
])
def test_setitem_shape_mismatch_says_what_torch_says(index, shape):
    """A basic index writes through a view (expand()'s message), an advanced one through
    index_put (the two shapes)."""
    messages = []
    for lib in (torch, ndgrad):
        with pytest.raises(RuntimeError) as e:
            lib.zeros(2, 3)[index] = lib.ones(shape)
        messages.append(str(e.value).replace("torch.FloatTensor", "ndgrad.float32"))
    assert messages[0] == messages[1]


# -- losses, normalization and padding: the mistakes real training scripts make ----------------
def _error_text(lib, expr):
    try:
        eval(expr, {"lib": lib, "F": lib.nn.functional})
    except Exception as e:  # noqa: BLE001 - the type is compared below
        return type(e).__name__, str(e).replace("torch", "ndgrad")
    return None


@pytest.mark.parametrize("expr", [
    # class-index targets: shaped (N, 1), of another integer dtype, float, or a wrong spatial size
    "F.cross_entropy(lib.zeros(4, 3), lib.zeros(4, 1, dtype=lib.long))",
    "F.nll_loss(lib.zeros(4, 3), lib.zeros(4, 2, dtype=lib.long))",
    "F.cross_entropy(lib.zeros(4, 3), lib.zeros(4, dtype=lib.int32))",
    "F.nll_loss(lib.zeros(4, 3), lib.zeros(4, dtype=lib.bool))",
    "F.cross_entropy(lib.zeros(4, 3), lib.zeros(4))",
    "F.cross_entropy(lib.zeros(4, 3, 5), lib.zeros(4, 5))",
    "F.cross_entropy(lib.zeros(4, 3), lib.zeros(4, 3, dtype=lib.long))",
    "F.cross_entropy(lib.zeros(2, 3, 4, 5), lib.zeros(2, 4, 6, dtype=lib.long))",
    "F.nll_loss(lib.zeros(2, 3, 4, 5), lib.zeros(2, 4, dtype=lib.long))",
    "F.nll_loss(lib.zeros(2, 3, 4), lib.zeros(3, 4, dtype=lib.long))",
    "F.nll_loss(lib.zeros(3), lib.zeros(3, dtype=lib.long))",
    "F.nll_loss(lib.zeros(3), lib.tensor(1.0))",
    # binary cross-entropy takes targets of the input's dtype only (DCGAN's labels)
    "F.binary_cross_entropy(lib.full((2,), 0.5), lib.full((2,), 1))",
    "F.binary_cross_entropy(lib.full((2,), 0.5), lib.ones(2, dtype=lib.float64))",
    "F.binary_cross_entropy_with_logits(lib.zeros(2), lib.ones(2, dtype=lib.long))",
    # one statistic or affine parameter per channel, in training and in eval
    "lib.nn.BatchNorm2d(4)(lib.zeros(2, 3, 2, 2))",
    "lib.nn.BatchNorm2d(4).eval()(lib.zeros(2, 3, 2, 2))",
    "F.batch_norm(lib.zeros(2, 3), None, None, bias=lib.ones(4), training=True)",
    "F.batch_norm(lib.zeros(2, 3), lib.zeros(3), lib.ones(1), training=False)",
    "lib.nn.InstanceNorm2d(4, track_running_stats=True)(lib.zeros(2, 3, 2, 2))",
    # reflection padding names the last dim it cannot pad, checking from the last dim
    "lib.nn.ReflectionPad2d(4)(lib.zeros(1, 1, 3, 3))",
    "F.pad(lib.zeros(1, 2, 2, 3, 3), (1, 1, 1, 1, 4, 4), mode='reflect')",
    "F.pad(lib.zeros(1, 1, 3, 3), (1, 1, 4, 4), mode='reflect')",
])
@pytest.mark.filterwarnings("ignore:input's size at dim=1 does not match num_features")
def test_training_script_mistakes_raise_as_torch(expr):
    theirs, ours = _error_text(torch, expr), _error_text(ndgrad, expr)
    assert theirs is not None
    assert ours == theirs


@pytest.mark.parametrize("expr", [
    "F.mse_loss(lib.tensor([0.5, 0.25], requires_grad=True), lib.tensor([True, False]))",
    "F.smooth_l1_loss(lib.tensor([0.5, 0.25], requires_grad=True), lib.tensor([True, False]))",
    "F.nll_loss(lib.tensor([[-0.5, -1.0]], requires_grad=True), lib.tensor([1], dtype=lib.uint8))",
    "F.binary_cross_entropy(lib.tensor([0.5, 0.25], requires_grad=True), lib.tensor([1.0, 0.0]),"
    " weight=lib.tensor([2.0, 1.0], dtype=lib.float64))",
])
def test_loss_targets_torch_accepts(expr):
    """What torch computes, ndgrad computes: the value, its dtype and the input's gradient."""
    results = []
    for lib in LIBS:
        out = eval(expr, {"lib": lib, "F": lib.nn.functional})
        out.backward()
        results.append((round(out.item(), 6), str(out.dtype).split(".")[-1]))
    assert results[0] == results[1]


def test_instance_norm_legacy_running_stats_as_torch():
    """Checkpoints from before PyTorch 0.4 (fast_neural_style's) carry running stats an
    InstanceNorm without track_running_stats no longer has: torch's message, naming the fix."""
    texts = []
    for lib in LIBS:
        m = lib.nn.Sequential(lib.nn.Conv2d(1, 2, 1), lib.nn.InstanceNorm2d(2, affine=True))
        sd = dict(m.state_dict())
        sd["1.running_mean"], sd["1.running_var"] = lib.zeros(2), lib.ones(2)
        with pytest.raises(RuntimeError) as e:
            m.load_state_dict(sd, strict=False)
        texts.append(str(e.value))
        assert len(sd) == 6  # the caller's dict is left alone
    assert texts[0] == texts[1]
    assert '"1.running_mean" and "1.running_var" for InstanceNorm2d' in texts[1]
    with pytest.warns(UserWarning, match="does not match num_features"):
        ndgrad.nn.InstanceNorm2d(4)(ndgrad.ones(2, 3, 2, 2))
