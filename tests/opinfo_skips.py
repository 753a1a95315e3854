"""The OpInfo sweep's skip table: every op of torch's op_db that ndgrad does not pass, one line
each, sorted, with its reason. Keys are OpInfo keys (``name`` or ``name.variant``); an in-place
variant's key is torch's name of it (``abs_``, ``div_.floor_rounding``).

Reasons in NOT_RUN are out of scope and not run. Any other reason (not implemented yet, a known
failure) is run and expected to fail: when the op passes, the sweep fails and says so, and its
line must go. ``python -m tests.opinfo_report --list`` shows why each op fails today. The name
in parentheses is the helper of issue 11 whose part of the op surface it is.
"""

COMPLEX = "complex dtypes: ndgrad has real dtypes only"
BFLOAT16 = "bfloat16: NumPy has no bfloat16"
SPARSE = "sparse layouts"
LAYOUT = "memory layout (strides, storage): ndgrad tensors are NumPy arrays"
CUDA = "CUDA only (or float8)"
PRIVATE = "private ATen op, not public torch API"
NOT_RUN = frozenset({COMPLEX, BFLOAT16, SPARSE, LAYOUT, CUDA, PRIVATE})

TODO = "not implemented yet"
# torch's bessel_j0/j1/y0/y1 and airy_ai drop the implicit leading 1 of Cephes' p1evl
# denominators: up to 2e-5 off near x = 5; ndgrad's match mpmath (tests/test_special.py)
TORCH_OFF = "torch's values are wrong here (ndgrad's are checked against mpmath)"
SPECIAL_ALIAS = f"{TODO}: only the ndgrad.special alias is missing (dist)"
# torch's as_strided_scatter gradient with respect to self keeps grad where src was scattered
# and zeroes the rest, the reverse of the derivative (torch's own OpInfo marks its test_fn_grad
# expectedFailure); ndgrad's is checked by finite differences (tests/test_strided.py)
TORCH_GRAD_OFF = "torch's gradient with respect to self is wrong (ndgrad's passes gradcheck)"
NO_UINT64 = "returns torch.uint64: ndgrad has no uint16/32/64 dtypes (torch's 'shell' dtypes)"

SKIPS: dict[str, str] = {
    "_batch_norm_with_update": PRIVATE,
    "_chunk_cat": PRIVATE,
    "_native_batch_norm_legit": PRIVATE,
    "_segment_reduce.lengths": PRIVATE,
    "_segment_reduce.offsets": PRIVATE,
    "_softmax_backward_data": PRIVATE,
    "_unsafe_masked_index": PRIVATE,
    "_unsafe_masked_index_put_accumulate": PRIVATE,
    "_upsample_bilinear2d_aa": PRIVATE,
    "as_strided_scatter": TORCH_GRAD_OFF,
    "bfloat16": BFLOAT16,
    "cdouble": COMPLEX,
    "cfloat": COMPLEX,
    "chalf": COMPLEX,
    "complex": COMPLEX,
    "hash_tensor": NO_UINT64,
    "imag": COMPLEX,
    "istft": COMPLEX,
    "jiterator_2inputs_2outputs": CUDA,
    "jiterator_4inputs_with_extra_args": CUDA,
    "jiterator_binary": CUDA,
    "jiterator_binary_return_by_ref": CUDA,
    "jiterator_unary": CUDA,
    "max_pool2d_with_indices_backward": PRIVATE,
    "native_dropout_backward": PRIVATE,
    "nn.functional.batch_norm.without_cudnn": CUDA,
    "nn.functional.silu.complex": COMPLEX,
    "nn.functional.silu_.complex": COMPLEX,
    "polar": COMPLEX,
    "slice": PRIVATE,
    "sparse.mm.reduce": SPARSE,
    "sparse.sampled_addmm": SPARSE,
    "special.bessel_j0": TORCH_OFF,
    "special.bessel_y1": TORCH_OFF,
    "to_sparse": SPARSE,
    "torch._scaled_mm": CUDA,
    "torch._scaled_mm_v2": CUDA,
    "torch.ops.aten._efficient_attention_forward": PRIVATE,
    "torch.ops.aten._flash_attention_forward": PRIVATE,
    "torch.ops.aten._safe_softmax.default": PRIVATE,
    "view_as_real": COMPLEX,
}
