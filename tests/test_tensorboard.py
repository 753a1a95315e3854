"""ndgrad.utils.tensorboard.SummaryWriter: what torch programs log, written as TensorBoard event
files and read back (TFRecord frames of Event protobufs) to check every value."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ndgrad

pytest.importorskip("tensorboardX")
from tensorboardX.proto.event_pb2 import Event  # noqa: E402

from ndgrad.utils.tensorboard import SummaryWriter  # noqa: E402


def events(log_dir: Path) -> list[Any]:
    """Every Event in the event files under ``log_dir`` (recursively), in file order."""
    out = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        i = 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i:i + 8])
            record = data[i + 12:i + 12 + n]  # length, its CRC, the record, its CRC
            i += 12 + n + 4
            event = Event()
            event.ParseFromString(record)
            out.append(event)
    return out


def values(log_dir: Path) -> list[tuple[str, int, Any]]:
    return [(v.tag, e.step, v) for e in events(log_dir) for v in e.summary.value]


def test_scalars_from_tensors_and_numbers(tmp_path: Path) -> None:
    with SummaryWriter(log_dir=str(tmp_path)) as w:
        assert w.get_logdir() == str(tmp_path)
        for step in range(3):
            w.add_scalar("loss", ndgrad.tensor(1.5 / (step + 1), requires_grad=True) * 1,
                         step)
        w.add_scalar("lr", 0.1, 7, new_style=True)
        w.add_scalars("run", {"a": ndgrad.tensor(2.0), "b": 3}, 1)
    got = [(tag, step, v.simple_value) for tag, step, v in values(tmp_path)]
    assert got[:4] == [("loss", 0, 1.5), ("loss", 1, 0.75), ("loss", 2, 0.5), ("lr", 7,
                                                                              pytest.approx(0.1))]
    # add_scalars writes each to a sub-run, as torch's
    sub = {(tag, step, v.simple_value) for tag, step, v in values(tmp_path / "run_a")} | \
        {(tag, step, v.simple_value) for tag, step, v in values(tmp_path / "run_b")}
    assert sub == {("run", 1, 2.0), ("run", 1, 3.0)}


def test_histogram_image_text(tmp_path: Path) -> None:
    x = ndgrad.arange(100, dtype=ndgrad.float32)
    img = ndgrad.zeros(3, 4, 5)
    img[0] = 1.0
    with SummaryWriter(str(tmp_path)) as w:
        w.add_histogram("weights", x, 0)
        w.add_image("img", img, 0)
        w.add_images("imgs", ndgrad.rand(2, 3, 4, 5), 0)
        w.add_text("note", "hello", 0)  # tag note/text_summary, as torch's
        w.add_image_with_boxes("boxed", img, ndgrad.tensor([[0.0, 0.0, 2.0, 2.0]]), 0,
                               rescale=2)
    got = {tag: v for tag, _, v in values(tmp_path)}
    h = got["weights"].histo
    assert (h.min, h.max, h.num, h.sum) == (0.0, 99.0, 100, float(np.arange(100).sum()))
    assert (got["img"].image.height, got["img"].image.width) == (4, 5)
    assert got["img"].image.encoded_image_string[:4] == b"\x89PNG"
    assert (got["boxed"].image.height, got["boxed"].image.width) == (8, 10)
    assert got["note/text_summary"].tensor.string_val == [b"hello"]
    assert set(got) == {"weights", "img", "imgs", "note/text_summary", "boxed"}


def test_hparams_go_to_a_named_sub_run(tmp_path: Path) -> None:
    with SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"lr": 0.1, "bsize": 4}, {"hparam/acc": ndgrad.tensor(0.5)},
                      run_name="trial1")
    sub = values(tmp_path / "trial1")
    assert ("hparam/acc", 0, 0.5) in [(tag, step, v.simple_value) for tag, step, v in sub]
    assert any(tag == "_hparams_/experiment" for tag, _, _ in sub)


def test_add_graph_says_what_to_use() -> None:
    with pytest.raises(NotImplementedError, match="ndgrad.viz.draw_graph"):
        SummaryWriter.add_graph(None, ndgrad.nn.Linear(2, 2))  # type: ignore[arg-type]
