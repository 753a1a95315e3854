"""einops on ndgrad tensors: ``einops.rearrange``, ``reduce``, ``repeat``, ``pack``/``unpack``
and ``einsum`` take ndgrad tensors (and backward goes through them), as they take torch's.

einops finds a framework through the subclasses of its ``AbstractBackend`` whose module is
imported; ndgrad's is torch's backend with ``ndgrad`` in place of ``torch`` (ndgrad has the
same methods), defined when ``import ndgrad`` finds einops installed. einops' layers
(``einops.layers.torch.Rearrange``) are torch modules: use ``nn.Unflatten``/``Tensor.permute``
or the functions above inside a Module's forward instead.
"""

from __future__ import annotations

from typing import Any

from einops._backends import TorchBackend


class NdgradBackend(TorchBackend):  # type: ignore[misc]
    framework_name = "ndgrad"

    def __init__(self) -> None:  # (not torch's: it imports torch)
        import ndgrad
        self.torch = ndgrad

    def layers(self) -> Any:
        raise NotImplementedError("einops' layers are torch modules; call einops.rearrange & co. "
                                  "in your Module's forward with ndgrad tensors instead")
