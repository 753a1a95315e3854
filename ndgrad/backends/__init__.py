"""ndgrad.backends: torch.backends' switches, for scripts that set them on their first lines
(``torch.backends.cudnn.benchmark = True``). The flags are kept and read back as set; none
changes what ndgrad computes, since the libraries they tune (cuDNN, CUDA's TF32 matmuls, MPS,
oneDNN) are not used: ndgrad computes with NumPy on the CPU. ``is_available()`` says so."""

from ndgrad.backends import cuda, cudnn, mkldnn, mps, opt_einsum

__all__ = ["cuda", "cudnn", "mkldnn", "mps", "opt_einsum"]
