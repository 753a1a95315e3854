"""DataParallel: torch's single-process wrapper that splits each batch over the GPUs. With no
GPU, as on every ndgrad machine, torch's runs the wrapped module as it is; so does this one,
so that scripts written for GPUs (``model = nn.DataParallel(model)``, ``model.module``,
``module.``-prefixed checkpoints) run unchanged. For several CPU processes, see
DistributedDataParallel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ndgrad.nn.module import Module


def _check_no_gpus(device_ids: Any, output_device: Any) -> None:
    if device_ids or output_device is not None:
        raise ValueError(f"DataParallel's device_ids and output_device name GPUs; ndgrad runs "
                         f"on the CPU only, so leave them None (got device_ids {device_ids}, "
                         f"output_device {output_device})")


class DataParallel(Module):
    """``module`` run as it is (no GPU to split the batch over); ``.module`` is the wrapped
    module and state_dict keys start with ``module.``, as in torch."""

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0) -> None:
        super().__init__()
        _check_no_gpus(device_ids, output_device)
        self.module = module
        self.device_ids: list[Any] = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs: Any, device_ids: Sequence[Any] | None = None,
                  output_device: Any = None, dim: int = 0,
                  module_kwargs: dict[str, Any] | None = None) -> Any:
    """DataParallel's forward as a function: ``module(*inputs, **module_kwargs)`` here
    (torch's raises "device type could not be determined" on a machine without GPUs)."""
    _check_no_gpus(device_ids, output_device)
    if not isinstance(inputs, tuple):
        inputs = () if inputs is None else (inputs,)
    return module(*inputs, **(module_kwargs or {}))
