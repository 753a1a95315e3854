"""ndgrad.onnx: torch.onnx's entry points, so that programs which import it (``import
torch.onnx`` at the top of a training script, ``torch.onnx.is_in_onnx_export()`` inside a
forward) run. ndgrad has no graph tracer, so nothing is ever being exported and ``export``
raises: to get an ONNX file, save ``model.state_dict()`` to a ``.pt`` file (PyTorch's format),
load it into the same model written for torch, and export from there."""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["dynamo_export", "export", "is_in_onnx_export"]


def is_in_onnx_export() -> bool:
    """False: ndgrad never traces a model for export."""
    return False


def export(model: Any, args: Any = (), f: Any = None, *rest: Any, **kwargs: Any) -> NoReturn:
    """Raises: ndgrad cannot write ONNX (see the module docstring for the way round)."""
    raise RuntimeError("ndgrad.onnx.export: ndgrad cannot export to ONNX (it has no graph "
                       "tracer). Save model.state_dict() with ndgrad.save(sd, 'model.pt'), "
                       "load it into the PyTorch model and export with torch.onnx.export.")


dynamo_export = export
