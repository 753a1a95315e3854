"""ndgrad-run: torchrun's command line on mpirun, and torchrun's environment on every rank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ndgrad.distributed import run

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """\
import os, sys
import ndgrad, ndgrad.distributed as dist
dist.init_process_group("mpi")
t = ndgrad.tensor([float(os.environ["RANK"])])
dist.all_reduce(t)
keys = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
        "MASTER_PORT", "OMP_NUM_THREADS"]
print("|".join([__name__, *(os.environ[k] for k in keys), str(t.item()), *sys.argv[1:]]))
if sys.argv[1:] == ["--fail"] and dist.get_rank() == 1:
    raise ValueError("rank 1 fails")
"""


def _launch(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mpi4py")
    try:
        run.mpirun()
    except SystemExit:
        pytest.skip("no mpirun")
    (tmp_path / "train.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    env.pop("OMP_NUM_THREADS", None)
    return subprocess.run([sys.executable, "-m", "ndgrad.distributed.run", *argv],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


def test_every_rank_gets_torchruns_environment(tmp_path: Path) -> None:
    proc = _launch(tmp_path, "--nproc-per-node=2", "--standalone", "--master-port", "1234",
                   "train.py", "--epochs", "3")
    assert proc.returncode == 0, proc.stderr
    lines = sorted(ln for ln in proc.stdout.splitlines() if ln.startswith("__main__|"))
    assert lines == [f"__main__|{r}|{r}|2|2|0|127.0.0.1|1234|1|1.0|--epochs|3" for r in (0, 1)]


def test_module_form_and_a_failing_rank(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "job.py").write_text(SCRIPT)
    proc = _launch(tmp_path, "--nproc_per_node", "2", "-m", "pkg.job", "--fail")
    assert proc.returncode != 0
    assert "ValueError: rank 1 fails" in proc.stderr
    assert proc.stdout.count("__main__|") == 2, proc.stdout


@pytest.mark.parametrize("argv, words", [
    (["--nproc-per-node=gpu", "t.py"], "CPUs only"),
    (["--nproc-per-node=0", "t.py"], "at least 1"),
    (["--nnodes=1:4", "t.py"], "elastic node counts"),
    (["--nnodes=2", "t.py"], "needs --hostfile"),
    (["--max-restarts=3", "t.py"], "must be 0"),
])
def test_command_line_errors(argv: list[str], words: str) -> None:
    with pytest.raises(SystemExit, match=words):
        run.command(argv)


def test_the_mpirun_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "mpirun", lambda: "/usr/bin/true")  # prints no version
    cmd = run.command(["--nproc-per-node=3", "--nnodes=2", "--hostfile", "hosts",
                       "--rdzv-backend=c10d", "--rdzv_endpoint=h:1", "train.py", "-x", "1"])
    assert cmd[:5] == ["/usr/bin/true", "-n", "6", "-ppn", "3"]
    assert cmd[5:7] == ["--hostfile", "hosts"]
    assert cmd[-4:] == ["script", "train.py", "-x", "1"]
