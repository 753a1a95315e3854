"""The recurrent and transformer examples: quick smoke runs, and (slow) full runs that must
learn, on ndgrad and, with the import swapped, on torch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHAKESPEARE = [Path(d) / "tinyshakespeare" for d in (os.environ.get("NDGRAD_DATA"),) if d]


def run_example(tmp_path: Path, name: str, *args: str, lib: str = "ndgrad") -> tuple[str, float]:
    """Run examples/<name>.py (as PyTorch code when lib is torch); its output and the number on
    its last line (``val_loss=...`` or ``accuracy=...``)."""
    source = (EXAMPLES / f"{name}.py").read_text()
    assert "\nimport ndgrad as torch\n" in source
    if lib == "torch":
        pytest.importorskip("torch")
        source = source.replace("\nimport ndgrad as torch\n", "\nimport torch\n")
    script = tmp_path / f"{name}.py"
    script.write_text(source)
    repo = str(EXAMPLES.parent)  # the ndgrad of this checkout, whatever is installed
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"(val_loss|accuracy)=\d+\.\d{4}", last), last
    return proc.stdout, float(last.split("=")[1])


def _need_text() -> None:
    if not any((d / n).is_file() for d in SHAKESPEARE for n in ("input.txt", "input.txt.gz")):
        pytest.skip("Tiny Shakespeare not found under $NDGRAD_DATA")


TINY_LSTM = ("--steps", "3", "--hidden", "16", "--embed", "8", "--batch-size", "4",
             "--seq-len", "16", "--sample", "20")
TINY_SORT = ("--steps", "5", "--d-model", "16", "--nhead", "2", "--layers", "1",
             "--dim-feedforward", "16", "--batch-size", "8")


def test_char_lstm_smoke(tmp_path):
    _need_text()
    out, val_loss = run_example(tmp_path, "char_lstm", *TINY_LSTM)
    assert "ROMEO:" in out and 3.0 < val_loss < 4.5  # about log(65) = 4.17 untrained


def test_transformer_sort_smoke(tmp_path):
    out, acc = run_example(tmp_path, "transformer_sort", *TINY_SORT)
    assert "->" in out and 0.0 <= acc <= 1.0


@pytest.mark.slow
def test_char_lstm_learns(tmp_path):
    """The full run (800 steps, about a minute): well below the 4.17 nats of a uniform guess
    and the ~3.3 of character frequencies alone."""
    _need_text()
    _, val_loss = run_example(tmp_path, "char_lstm", "--sample", "0")
    assert val_loss < 2.0


@pytest.mark.slow
def test_transformer_sorts(tmp_path):
    """1000 of the example's 1500 steps (its one-cycle schedule over those): it sorts 95% and
    96% of the held-out sequences at seeds 0 and 1 (97% and 99.6% after 1500 steps, 88% and
    90% after 750)."""
    _, acc = run_example(tmp_path, "transformer_sort", "--steps", "1000")
    assert acc > 0.9


@pytest.mark.slow
def test_examples_are_pytorch_code(tmp_path):
    """The same files train on torch when the import is swapped. At seeds 0 and 1: val loss
    2.61 and 2.62 after 100 steps (2.38 and 2.39 after 150), below the ~3.3 of character
    frequencies; 43% and 52% sorted after 150 steps (64% at seed 0 after 300)."""
    _need_text()
    _, val_loss = run_example(tmp_path, "char_lstm", "--steps", "100", "--sample", "0",
                              lib="torch")
    assert val_loss < 3.0
    _, acc = run_example(tmp_path, "transformer_sort", "--steps", "150", lib="torch")
    assert acc > 0.3
