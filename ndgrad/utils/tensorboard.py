"""ndgrad.utils.tensorboard: torch.utils.tensorboard's ``SummaryWriter``, writing TensorBoard
event files (``tensorboard --logdir runs`` shows them).

Built on tensorboardX (``pip install 'ndgrad[tensorboard]'``), the TensorFlow-free writer of the
same files: each ``add_*`` call takes ndgrad tensors where torch's takes torch tensors
(converted to NumPy) and torch's argument names. Differences: ``add_graph`` raises (TensorBoard's
graph view needs a traced TorchScript graph; draw ndgrad graphs with ``ndgrad.viz``),
``add_scalar``'s ``new_style``/``double_precision`` are accepted but the value is written the
classic way (TensorBoard shows both alike), and ``add_hparams``' ``hparam_domain_discrete`` is
not recorded (TensorBoard infers each domain from the values).
"""

from __future__ import annotations

import functools
import time
from typing import Any

try:
    import tensorboardX
except ImportError as err:  # pragma: no cover - the message is the point
    raise ImportError("ndgrad.utils.tensorboard writes TensorBoard files with tensorboardX: "
                      "pip install 'ndgrad[tensorboard]' (or pip install tensorboardX)") from err

import numpy as np

from ndgrad.tensor import Tensor

__all__ = ["SummaryWriter"]


def _plain(value: Any) -> Any:
    """Tensors (also inside lists, tuples and dicts) as NumPy arrays; 0-d ones as numbers."""
    if isinstance(value, Tensor):
        a = value.detach().numpy()
        return a.item() if a.ndim == 0 else np.array(a)  # a copy: the writer may queue it
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


def _taking_tensors(method: Any) -> Any:
    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        return method(self, *(_plain(a) for a in args),
                      **{k: _plain(v) for k, v in kwargs.items()})
    return run


class SummaryWriter(tensorboardX.SummaryWriter):  # type: ignore[misc]
    """Writes events to ``log_dir`` (default ``runs/<date>_<host><comment>``), flushing every
    ``flush_secs`` seconds or ``max_queue`` events; ``close()`` (or ``with``) flushes."""

    def __init__(self, log_dir: str | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        super().__init__(logdir=log_dir, comment=comment, purge_step=purge_step,
                         max_queue=max_queue, flush_secs=flush_secs,
                         filename_suffix=filename_suffix)

    def get_logdir(self) -> str:
        """The directory the event files go to."""
        return self.logdir  # type: ignore[no-any-return]

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        super().add_scalar(tag, _plain(scalar_value), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        """Several scalars on one chart: each ``tag`` goes to its own sub-run
        ``<log_dir>/<main_tag>_<tag>``, named as torch's (tensorboardX nests them instead)."""
        from tensorboardX.summary import scalar
        from tensorboardX.writer import FileWriter
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            fw_tag = f"{fw_logdir}/{main_tag.replace('/', '_')}_{tag}"
            if fw_tag not in self.all_writers:
                self.all_writers[fw_tag] = FileWriter(
                    logdir=fw_tag, max_queue=self._max_queue, flush_secs=self._flush_secs,
                    filename_suffix=self._filename_suffix)
            self.all_writers[fw_tag].add_summary(scalar(main_tag, _plain(value)), global_step,
                                                 walltime)

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list[Any]] | None = None,
                    run_name: str | None = None, global_step: int | None = None) -> None:
        """Hyperparameters and their metrics, in a sub-run ``run_name`` (default: the time)."""
        super().add_hparams(_plain(hparam_dict), _plain(metric_dict), name=run_name,
                            global_step=global_step)

    def add_image_with_boxes(self, tag: str, img_tensor: Any, box_tensor: Any,
                             global_step: int | None = None, walltime: float | None = None,
                             rescale: float = 1, dataformats: str = "CHW",
                             labels: list[str] | None = None) -> None:
        img, boxes = _plain(img_tensor), _plain(box_tensor)
        if rescale != 1:  # as torch: the image is scaled (nearest), the boxes with it
            img = _rescale(img, rescale, dataformats)
            boxes = np.asarray(boxes) * rescale
        super().add_image_with_boxes(tag, img, boxes, global_step, walltime,
                                     dataformats=dataformats, labels=labels)

    def add_graph(self, model: Any, input_to_model: Any = None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        raise NotImplementedError(
            "SummaryWriter.add_graph: TensorBoard's graph view takes a TorchScript trace, and "
            "ndgrad has no tracer; draw the autograd graph with ndgrad.viz.draw_graph instead")


def _rescale(img: np.ndarray, factor: float, dataformats: str) -> np.ndarray:
    """Nearest-neighbour resize of an image by ``factor`` along its H and W axes."""
    for axis in (dataformats.index("H"), dataformats.index("W")):
        n = img.shape[axis]
        index = np.minimum((np.arange(int(n * factor)) / factor).astype(int), n - 1)
        img = np.take(img, index, axis=axis)
    return img


for _name in ("add_histogram", "add_histogram_raw", "add_image", "add_images",
              "add_figure", "add_video", "add_audio", "add_text", "add_embedding",
              "add_pr_curve", "add_pr_curve_raw", "add_mesh", "add_custom_scalars"):
    setattr(SummaryWriter, _name, _taking_tensors(getattr(tensorboardX.SummaryWriter, _name)))
