"""The ndgrad-mnist job: short real training runs, its outputs, and --resume.

The full default runs (the accuracy targets) are marked slow."""

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ndgrad
from ndgrad.cli import _outputs as outputs
from ndgrad.cli import mnist as job
from ndgrad.datasets import DatasetFileError, _files

DATA = Path(os.environ.get("NDGRAD_DATA", "/nonexistent"))
pytestmark = pytest.mark.skipif(not (DATA / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file(),
                                reason="the shared MNIST files are not available")
LAST_LINE = re.compile(r"^test_accuracy=(0\.\d{4}|1\.0000)$")


def run(capsys, *args):
    """Run the job in this process; returns (stdout lines, final accuracy)."""
    job.main([*map(str, args)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    return lines, float(lines[-1].split("=")[1])


def read_metrics(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_short_mlp_run_learns_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    lines, acc = run(capsys, "--epochs", 1, "--limit-train", 20000, "--limit-test", 2000,
                     "--out", out)
    assert acc > 0.9  # one short epoch of real learning; chance is 0.1
    assert any(line.startswith("epoch 1/1: train_loss=") for line in lines)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.safetensors", "metrics.csv",
                                                     "model.safetensors", "training.png"]
    rows = read_metrics(out / "metrics.csv")
    assert len(rows) == 1 and float(rows[0]["test_accuracy"]) == pytest.approx(acc, abs=1e-4)
    assert set(rows[0]) == {"epoch", "train_loss", "test_loss", "test_accuracy", "lr",
                            "seconds"}
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the weights load back into the model and reproduce the reported accuracy
    model = job.build_model("mlp")
    model.load_state_dict(ndgrad.load(out / "model.safetensors"))
    _, acc_again = job.evaluate(model, job.load_split(None, False, 2000))
    assert acc_again == pytest.approx(acc, abs=1e-4)


def test_weights_load_in_torch(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    out = tmp_path / "run"
    run(capsys, "--epochs", 1, "--limit-train", 1000, "--limit-test", 200, "--out", out)
    tnn = torch.nn
    tmodel = tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 512), tnn.ReLU(), tnn.Dropout(0.2),
                            tnn.Linear(512, 256), tnn.ReLU(), tnn.Dropout(0.2),
                            tnn.Linear(256, 10)).eval()
    tmodel.load_state_dict(st.load_file(out / "model.safetensors"))
    model = job.build_model("mlp").eval()
    model.load_state_dict(ndgrad.load(out / "model.safetensors"))
    x = job.load_split(None, False, 50).tensors[0]
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x.numpy())).numpy()
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_resume_continues_the_same_run(tmp_path, capsys):
    common = ["--epochs", 2, "--limit-train", 3000, "--limit-test", 500, "--seed", 3]
    _, acc_straight = run(capsys, *common, "--out", tmp_path / "a")
    lines, _ = run(capsys, *common, "--out", tmp_path / "b", "--stop-after", 1)
    assert len(read_metrics(tmp_path / "b" / "metrics.csv")) == 1
    lines, acc_resumed = run(capsys, "--out", tmp_path / "b", "--resume")
    assert lines[0].startswith("resuming") and "after epoch 1/2" in lines[0]
    assert acc_resumed == acc_straight
    a, b = (ndgrad.load(tmp_path / d / "model.safetensors") for d in "ab")
    assert list(a) == list(b)
    for key in a:  # bit for bit: same shuffles, same dropout masks, same optimizer state
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    ma, mb = (read_metrics(tmp_path / d / "metrics.csv") for d in "ab")
    for ra, rb in zip(ma, mb, strict=True):
        assert {k: v for k, v in ra.items() if k != "seconds"} == \
               {k: v for k, v in rb.items() if k != "seconds"}
    # resuming a finished run trains nothing and repeats the result
    lines, acc_again = run(capsys, "--out", tmp_path / "b", "--resume")
    assert acc_again == acc_straight and not any(ln.startswith("epoch ") for ln in lines)


def test_errors(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit, match="no checkpoint at"):
        job.main(["--out", str(tmp_path / "none"), "--resume"])
    run(capsys, "--epochs", 1, "--limit-train", 500, "--limit-test", 100, "--out", tmp_path)
    with pytest.raises(SystemExit, match=r"--lr 0.5 \(checkpoint: 0.1\)"):
        job.main(["--out", str(tmp_path), "--resume", "--lr", "0.5"])
    with pytest.raises(SystemExit, match="--epochs must be positive"):
        job.main(["--epochs", "0", "--out", str(tmp_path / "x")])
    # no data: a clear message, not a traceback (and no download: nothing listens on port 9)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(job.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(SystemExit, match="(?s)ndgrad-mnist: MNIST: .*not found.*--download"):
        job.main(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "y")])


def test_data_dir_is_where_files_are_looked_for(tmp_path, monkeypatch):
    # --data DIR lacking the files: an error, no download anywhere; with --download the files
    # go into DIR (torchvision's root/download), never into the cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []

    def offline(mirrors, filename, md5, dest_dir, **kw):
        calls.append(dest_dir)
        raise DatasetFileError(f"could not download {filename}: offline")

    monkeypatch.setattr(_files, "download", offline)
    out = tmp_path / "run"
    with pytest.raises(SystemExit, match="(?s)not found.*--download") as info:
        job.main(["--data", str(tmp_path / "mine"), "--out", str(out)])
    assert calls == [] and "cache" not in str(info.value)
    with pytest.raises(SystemExit, match="offline"):
        job.main(["--data", str(tmp_path / "mine"), "--download", "--out", str(out)])
    assert calls == [tmp_path / "mine" / "MNIST" / "raw"]
    assert not out.exists() and not (tmp_path / "cache").exists()  # a failed run leaves nothing


def test_out_errors_are_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    for out, message in ((blocker / "run", f"{blocker} is a file, not a directory"),
                         (blocker, "is a file, not a directory")):
        with pytest.raises(SystemExit) as info:
            job.main(["--epochs", "1", "--out", str(out)])
        assert str(info.value) == f"ndgrad-mnist: --out {out}: {message}"
    # nested new folders are made when the first epoch is saved, and not before
    out = tmp_path / "a" / "b"
    with pytest.raises(SystemExit, match="--epochs must be positive"):
        job.main(["--epochs", "0", "--out", str(out)])
    assert not (tmp_path / "a").exists()
    run(capsys, "--epochs", 1, "--limit-train", 300, "--limit-test", 100, "--out", out)
    assert (out / "checkpoint.safetensors").is_file()


def test_no_progress_bar_redraws_in_logs(tmp_path, capsys, monkeypatch):
    # stderr is not a terminal here (pytest captures it): the per-epoch lines are the log
    job.main(["--epochs", "2", "--limit-train", "300", "--limit-test", "100", "--out",
              str(tmp_path / "b")])
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\r" not in captured.out
    assert [ln.split(":")[0] for ln in captured.out.splitlines() if ln.startswith("epoch")] == \
           ["epoch 1/2", "epoch 2/2"]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys, "stderr", Terminal())
    job.main(["--epochs", "1", "--limit-train", "300", "--limit-test", "100", "--out",
              str(tmp_path / "c")])
    assert "\r" in sys.stderr.getvalue()  # on a terminal, the bar


def test_ctrl_c_says_how_to_resume(tmp_path):
    # a real SIGINT in the middle of a run: one line saying where the checkpoint is and the
    # command that resumes, no traceback; the command given does resume the run
    out = tmp_path / "run dir"
    cmd = [sys.executable, "-m", "ndgrad.cli.mnist", "--epochs", "50", "--limit-train", "3000",
           "--limit-test", "200", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    for line in proc.stdout:
        if line.startswith("epoch 1/50"):
            break
    time.sleep(0.3)  # into epoch 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    resume = f"ndgrad-mnist --out '{out}' --resume"
    assert re.fullmatch(rf"ndgrad-mnist: interrupted in epoch \d+/50; the checkpoint of epoch "
                        rf"\d+/50 is in {re.escape(str(out))}/checkpoint.safetensors; continue "
                        rf"with: {re.escape(resume)}", lines[0]), lines[0]
    saved = int(lines[0].split("checkpoint of epoch ")[1].split("/")[0])
    assert len(read_metrics(out / "metrics.csv")) == saved >= 1


def test_ctrl_c_before_the_first_checkpoint(tmp_path, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "train_epoch", interrupt)
    out = tmp_path / "new" / "run"
    with pytest.raises(SystemExit) as info:
        job.main(["--epochs", "3", "--limit-train", "300", "--limit-test", "100", "--data",
                  str(DATA), "--out", str(out)])
    assert info.value.code == 130
    assert capsys.readouterr().err == ("ndgrad-mnist: interrupted in epoch 1/3; no epoch had "
                                       "finished, nothing was saved\n")
    assert not (tmp_path / "new").exists()


def plotted(monkeypatch, history, steps_per_epoch=5):
    """The figure write_plot draws for ``history``."""
    plt = pytest.importorskip("matplotlib.pyplot")
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    n = len(history["epoch"])
    job.write_plot(Path(os.devnull), [1.0] * (n * steps_per_epoch), steps_per_epoch, history, "t")
    return figures[0]


@pytest.mark.parametrize("accuracies", [[0.9854], [1.0], [0.9, 0.97, 0.9812], [0.11, 0.99]])
def test_plot_axes(monkeypatch, tmp_path, accuracies):
    n = len(accuracies)
    history = {"epoch": list(range(1, n + 1)), "train_loss": [0.5] * n,
               "test_accuracy": accuracies}
    monkeypatch.setattr(outputs, "write_atomically", lambda path, data: None)
    fig = plotted(monkeypatch, history)
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks  # whole epochs
    acc = fig.axes[1]
    bottom, top = acc.get_ylim()
    assert top <= 100 and bottom >= 0
    assert bottom < 100 * min(accuracies) and 100 * max(accuracies) <= top


def test_short_cnn_run(tmp_path, capsys):
    _, acc = run(capsys, "--model", "cnn", "--epochs", 1, "--limit-train", 3000,
                 "--limit-test", 1000, "--out", tmp_path)
    assert acc > 0.8  # seeds 0-4 give 0.845-0.881 (0.843-0.873 before this branch)
    sd = ndgrad.load(tmp_path / "model.safetensors")
    assert "1.running_mean" in sd and "1.num_batches_tracked" in sd


def test_console_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ndgrad.cli.mnist", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--resume" in proc.stdout and "--model {mlp,cnn}" in proc.stdout


@pytest.mark.slow
def test_default_mlp_reaches_98_percent(tmp_path, capsys):
    lines, acc = run(capsys, "--model", "mlp", "--out", tmp_path)
    assert acc >= 0.98


@pytest.mark.slow
def test_cnn_reaches_99_percent(tmp_path, capsys):
    lines, acc = run(capsys, "--model", "cnn", "--out", tmp_path)
    assert acc >= 0.99


# -- the single-file examples, on ndgrad and (the same code) on torch ------------------------
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name,limit,threshold", [("mnist_mlp", 3000, 0.8),
                                                  ("mnist_cnn", 2000, 0.8)])
@pytest.mark.parametrize("lib", ["ndgrad", "torch"])
def test_examples_run_on_both_libraries(tmp_path, name, limit, threshold, lib):
    source = (EXAMPLES / f"{name}.py").read_text()
    assert "\nimport ndgrad as torch\n" in source
    script = tmp_path / f"{name}.py"
    if lib == "torch":
        pytest.importorskip("torch")
        source = source.replace("\nimport ndgrad as torch\n", "\nimport torch\n")
    script.write_text(source)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # small runs: threads only add overhead
    proc = subprocess.run([sys.executable, str(script), "--epochs", "1", "--limit", str(limit)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert LAST_LINE.match(last), last
    assert float(last.split("=")[1]) > threshold
