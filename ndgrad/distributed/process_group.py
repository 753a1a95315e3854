"""The process group: which process of an MPI job this is, and how the job ends on an error.

MPI's launcher (``mpirun -n 4 python train.py``, or a cluster scheduler) starts the processes
and tells each its rank; ``init_process_group`` only asks MPI. mpi4py is imported, and MPI
initialised, by the first call that needs it, so ``import ndgrad`` never loads MPI.

A process that raises while the others wait in a collective would leave them waiting forever.
So after ``init_process_group`` an uncaught exception prints its traceback as usual and then
aborts the whole MPI job (``MPI_Abort``): mpirun ends every process and exits non-zero.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import TracebackType
from typing import Any, ClassVar

import numpy as np

_MPI: Any = None


def _mpi() -> Any:
    """mpi4py's ``MPI`` module; the first call initialises MPI.

    Open MPI's UCX one-sided component, queried for every window (DDP's shared-memory buckets
    are windows), prints an error on machines UCX has no transport for; its shared-memory
    component is the one that serves them. So, unless the user chose (``OMPI_MCA_osc``), MPI
    starts without the UCX one; the variable is set only while MPI initialises."""
    global _MPI
    if _MPI is None:
        unset = "OMPI_MCA_osc" not in os.environ and "mpi4py.MPI" not in sys.modules
        if unset:
            os.environ["OMPI_MCA_osc"] = "^ucx"
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError(f"ndgrad.distributed needs mpi4py and an MPI library ({e}); "
                               f"install them with: pip install 'ndgrad[dist]'") from e
        finally:
            if unset:
                del os.environ["OMPI_MCA_osc"]
        _MPI = MPI
    return _MPI


def is_available() -> bool:
    """True when mpi4py can be imported (checked without importing it, so MPI stays down)."""
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


class Backend(str):  # noqa: SLOT000 - torch's str subclass
    """The backends' names, as torch.distributed.Backend: ``Backend.MPI == "mpi"``, and
    ``Backend("MPI")`` gives the lowercase name (any other string lowered, as torch does; only
    a non-string raises). ndgrad runs on ``Backend.MPI`` alone; the others are names only."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    XCCL = "xccl"
    FAKE = "fake"
    backend_list: ClassVar[list[str]] = [UNDEFINED, GLOO, NCCL, XCCL, UCC, MPI, FAKE]
    default_device_backend_map: ClassVar[dict[str, str]] = {"cpu": MPI}
    backend_capability: ClassVar[dict[str, list[str]]] = {MPI: ["cpu"]}

    def __new__(cls, name: str) -> str:  # type: ignore[misc]  # a plain str, as torch's
        if not isinstance(name, str):
            raise ValueError("Backend constructor parameter must be string-ish")
        value = getattr(Backend, name.upper(), Backend.UNDEFINED)
        if value == Backend.UNDEFINED:
            value = name.lower()
        return str(value)

    @classmethod
    def register_backend(cls, name: str, func: Any, extended_api: bool = False,
                         devices: str | list[str] | None = None) -> None:
        """torch's hook for third-party process groups: ndgrad has none (MPI only)."""
        raise NotImplementedError(f"Backend.register_backend({name!r}): ndgrad.distributed "
                                  f"runs on MPI only and cannot load other backends")


def is_gloo_available() -> bool:
    """False: ndgrad.distributed has only the MPI backend."""
    return False


def is_nccl_available() -> bool:
    """False: ndgrad runs on the CPU, with the MPI backend only."""
    return False


def is_ucc_available() -> bool:
    """False: ndgrad.distributed has only the MPI backend."""
    return False


def is_xccl_available() -> bool:
    """False: ndgrad runs on the CPU, with the MPI backend only."""
    return False


def is_backend_available(backend: str) -> bool:
    """True when ``init_process_group(backend)`` can run here: for ``"mpi"`` (also written
    ``"cpu:mpi"``) when mpi4py is installed; False for every other backend."""
    names = [pair.split(":")[-1] for pair in str(backend).lower().split(",")]
    return all(Backend(n) == Backend.MPI for n in names) and is_mpi_available()


def get_default_backend_for_device(device: Any) -> str:
    """The backend ``init_process_group`` uses for ``device`` (a string or ``ndgrad.device``),
    as torch's: ``"mpi"`` for the CPU, ndgrad's one device; other devices have none."""
    from ndgrad._device import device as _device

    kind = device.type if isinstance(device, _device) else _device(device).type
    backend = Backend.default_device_backend_map.get(kind)
    if backend is None:
        raise ValueError(f"Default backend not registered for device : {device}")
    return backend


def is_torchelastic_launched() -> bool:
    """True when torchelastic (``torchrun``) started this process: its ``TORCHELASTIC_RUN_ID``
    is set, the proxy torch uses. An MPI launcher does not set it."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


class ProcessGroup:
    """The processes a collective runs over: an MPI communicator of our own (a duplicate of
    the job's, so ndgrad's messages never mix with the user's own MPI calls). ``ranks`` are
    its processes' ranks in the whole job, in group-rank order."""

    def __init__(self, comm: Any, ranks: list[int] | None = None) -> None:
        self.comm = comm
        self.ranks = list(range(comm.Get_size())) if ranks is None else list(ranks)
        # send/recv first send a small header on this twin: it never meets the data messages
        self.header_comm = comm.Dup()
        # send_object_list/recv_object_list's pickles: a third twin, so that a receive from any
        # rank of one kind never takes a message of the other
        self.object_comm = comm.Dup()
        self._node: Any = None  # the ranks on this machine, made on first use
        self._windows: list[SharedArrays] = []

    def rank(self) -> int:
        return int(self.comm.Get_rank())

    def size(self) -> int:
        return int(self.comm.Get_size())

    def name(self) -> str:
        return "mpi"

    def one_machine(self) -> bool:
        """True when every rank of the group runs on this machine (they can share memory).
        Collective: every rank must call it, the first time at the same point."""
        if self._node is None:
            self._node = self.comm.Split_type(_mpi().COMM_TYPE_SHARED)
        return bool(self._node.Get_size() == self.size())

    def shared_arrays(self, nbytes: int) -> SharedArrays:
        """``nbytes`` of memory per rank that every rank can read and write (only when
        ``one_machine()``). Collective; freed with the group."""
        window = SharedArrays(self._node, nbytes)
        self._windows.append(window)
        return window

    def free(self) -> None:
        for window in self._windows:
            window.free()
        if self._node is not None:
            self._node.Free()
        self.object_comm.Free()
        self.header_comm.Free()
        self.comm.Free()

    def __repr__(self) -> str:
        return f"<ProcessGroup mpi rank={self.rank()} size={self.size()}>"


class SharedArrays:
    """An MPI shared-memory window: one flat byte array per rank of a machine, which every
    rank of it maps. ``arrays[r]`` is rank r's; ``rank`` is this process's r. What a rank
    wrote before ``sync()`` the others read after it: sync is a barrier, with the memory
    synchronisation MPI asks for around it."""

    def __init__(self, comm: Any, nbytes: int) -> None:
        MPI = _mpi()
        self.comm, self.rank = comm, comm.Get_rank()
        info = MPI.Info.Create()
        info.Set("alloc_shared_noncontig", "true")  # each rank's part on its own pages
        self.window = MPI.Win.Allocate_shared(nbytes, 1, info, comm=comm)
        info.Free()
        self.arrays = [np.frombuffer(self.window.Shared_query(r)[0], np.uint8, nbytes)
                       for r in range(comm.Get_size())]
        self.window.Lock_all(MPI.MODE_NOCHECK)  # one access epoch for the window's lifetime

    def sync(self) -> None:
        self.window.Sync()
        self.comm.Barrier()
        self.window.Sync()

    def free(self) -> None:
        self.arrays = []
        self.window.Unlock_all()
        self.window.Free()


_world: ProcessGroup | None = None
_previous_excepthook: Any = None
_group_count = 0  # get_pg_count(): groups made since init_process_group, as torch counts them


class _WorldMeta(type):
    @property
    def WORLD(cls) -> ProcessGroup | None:  # noqa: N802 - torch's name
        return _world


class group(metaclass=_WorldMeta):  # noqa: N801 - torch's name
    """``group.WORLD``: the default process group (None before ``init_process_group``)."""


class GroupMember(metaclass=_WorldMeta):
    """``GroupMember.WORLD`` (as ``group.WORLD``) and ``GroupMember.NON_GROUP_MEMBER``: what
    ``new_group`` returns on a rank it leaves out (torch's value, -100). Collectives given it
    warn and do nothing; ``get_rank``/``get_world_size`` give -1."""

    NON_GROUP_MEMBER = -100


def _not_member(group: Any) -> bool:
    """True for ``GroupMember.NON_GROUP_MEMBER``: this rank is outside the group."""
    return not isinstance(group, ProcessGroup) and isinstance(group, int) \
        and group == GroupMember.NON_GROUP_MEMBER


_CPU_BACKENDS = ("mpi", "gloo", "cpu:mpi", "cpu:gloo")


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: Any = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the MPI job this process was started in. ``backend`` "mpi" (or None); "gloo",
    torch's CPU backend, is accepted too and runs on MPI (``get_backend()`` says "mpi"), so
    CPU scripts written for torchrun run unchanged under ``mpirun`` or ``ndgrad-run``.

    Rank and world size come from the MPI launcher, as with torch's MPI backend: ``init_method``
    and ``store`` are not needed, and ``world_size``/``rank``, if given, must agree with it.
    ``timeout`` is accepted for compatibility; MPI has none, but a process that dies with an
    exception aborts the whole job (see the module docstring) instead of leaving it hanging."""
    global _world, _previous_excepthook, _group_count
    if _world is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).lower() not in _CPU_BACKENDS:
        raise ValueError(f"ndgrad.distributed runs on MPI: backend must be 'mpi' (or 'gloo', "
                         f"torch's CPU backend, which runs on MPI here; or None), got "
                         f"{backend!r}. Start the processes with an MPI launcher, e.g. "
                         f"mpirun -n 2 python train.py")
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    if world_size not in (-1, None) and world_size > 1 and comm.Get_size() == 1:
        # the torch tutorials' pattern: mp.spawn children that rendezvous at MASTER_ADDR
        raise RuntimeError(f"init_process_group: world_size={world_size} was given, but this "
                           f"process was not started by an MPI launcher (MPI sees a job of 1 "
                           f"process; multiprocessing.spawn cannot make an MPI job). "
                           f"ndgrad.distributed runs on MPI: start the ranks with "
                           f"`ndgrad-run --nproc-per-node={world_size} script.py` (or "
                           f"`mpirun -n {world_size} python script.py`) and call "
                           f"init_process_group once in each, instead of mp.spawn")
    for name, given, actual in (("world_size", world_size, comm.Get_size()),
                                ("rank", rank, comm.Get_rank())):
        if given not in (-1, None) and given != actual:
            raise ValueError(f"init_process_group: {name}={given} was given, but the MPI "
                             f"launcher made this process {name} {actual}; MPI assigns both, so "
                             f"leave them out")
    _world = ProcessGroup(comm.Dup())
    _group_count = 1
    if _world.size() > 1 and sys.excepthook is not _abort_job:
        _previous_excepthook, sys.excepthook = sys.excepthook, _abort_job


def _abort_job(exc_type: type[BaseException], exc: BaseException,
               tb: TracebackType | None) -> None:
    """sys.excepthook while a group of several processes is up: report, then end them all.

    Python does not call it for SystemExit; a program can hand one over (ndgrad-mnist does),
    since a rank that exits alone leaves the others waiting too."""
    if isinstance(exc, SystemExit):  # printed as Python prints it: the message only
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    else:
        (_previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)
    rank, size = _MPI.COMM_WORLD.Get_rank(), _MPI.COMM_WORLD.Get_size()
    print(f"ndgrad.distributed: rank {rank} raised {exc_type.__name__}; aborting the MPI job "
          f"(all {size} processes)", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    _MPI.COMM_WORLD.Abort(1)


def is_initialized() -> bool:
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _world is not None


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the process group (MPI itself is finalised when Python exits)."""
    global _world, _group_count
    pg = _default_group(group)
    if pg is _world:
        _group_count = 0
        if sys.excepthook is _abort_job:
            sys.excepthook = _previous_excepthook or sys.__excepthook__
        _world = None
    pg.free()


def _default_group(group: ProcessGroup | None) -> ProcessGroup:
    """The group a call runs over: ``group``, or the default one, which must exist."""
    if _world is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    if group is None:
        return _world
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup (e.g. group.WORLD), got "
                        f"{type(group).__name__}")
    return group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (default: the whole job), from 0; -1 outside it."""
    if _not_member(group):
        return -1
    return _default_group(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in ``group`` (default: the whole job); -1 outside it."""
    if _not_member(group):
        return -1
    return _default_group(group).size()


def new_group(ranks: list[int] | None = None, timeout: Any = None, backend: str | None = None,
              pg_options: Any = None, use_local_synchronization: bool = False,
              group_desc: str | None = None) -> ProcessGroup | int:
    """A process group of the job's ranks ``ranks`` (default: all), in sorted order: group
    rank i is the i-th smallest. Every rank of the job must call it, with the same ``ranks``
    (checked), unless ``use_local_synchronization``: then only the ranks in ``ranks`` call it.
    A rank outside ``ranks`` gets ``GroupMember.NON_GROUP_MEMBER``. ``timeout`` is accepted for
    compatibility, as in ``init_process_group``; ``pg_options`` and ``group_desc`` are unused."""
    global _group_count
    world = _default_group(None)
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"new_group: ndgrad.distributed runs on MPI: backend must be 'mpi' "
                         f"(or None), got {backend!r}")
    size = world.size()
    chosen = list(range(size)) if ranks is None else sorted(ranks)
    bad = [r for r in chosen if not isinstance(r, int | np.integer) or not 0 <= r < size]
    if bad:
        raise ValueError(f"new_group: ranks {bad} are not ranks of the job (0..{size - 1})")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"new_group: ranks must not repeat, got {sorted(ranks or [])}")
    chosen = [int(r) for r in chosen]
    if not use_local_synchronization:
        every = world.comm.allgather(chosen)
        if any(c != every[0] for c in every):
            shown = "; ".join(f"rank {r}: {c}" for r, c in enumerate(every))
            raise RuntimeError(f"new_group: the ranks disagree on the group's ranks ({shown}); "
                               f"every rank must call new_group with the same ranks")
        _group_count += 1  # on every rank, members or not (torch names such groups by count)
    if world.rank() not in chosen:
        return GroupMember.NON_GROUP_MEMBER
    world_group = world.comm.Get_group()
    members = world_group.Incl(chosen)
    comm = world.comm.Create_group(members)  # collective over the members only
    members.Free()
    world_group.Free()
    return ProcessGroup(comm, chosen)


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    """The job ranks of ``group``'s processes (default: the whole job), in group-rank order."""
    return list(_default_group(group).ranks)


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    """The job rank of ``group``'s rank ``group_rank``."""
    ranks = _default_group(group).ranks
    if not isinstance(group_rank, int | np.integer) or not 0 <= group_rank < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group} (group ranks "
                         f"0..{len(ranks) - 1})")
    return ranks[group_rank]


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    """``group``'s rank of the process with job rank ``global_rank``."""
    ranks = _default_group(group).ranks
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group} (its global "
                         f"ranks: {ranks})")
    return ranks.index(global_rank)


def get_backend(group: ProcessGroup | None = None) -> str:
    return _default_group(group).name()


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """This process's rank among those on its machine: torchrun's ``LOCAL_RANK`` when set, else
    what the MPI launcher says (Open MPI's ``OMPI_COMM_WORLD_LOCAL_RANK``, MPICH's
    ``MPI_LOCALRANKID``), else ``fallback_rank``."""
    for var in ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"):
        if var in os.environ:
            return int(os.environ[var])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to "
                       "allow `get_node_local_rank` to work, assuming you are not running in a "
                       "multi-device context and want the code to run locally instead.")



def get_backend_config(group: ProcessGroup | None = None) -> str:
    """The ``device:backend`` pairs of ``group`` (default: the whole job), as torch writes
    them: always ``"cpu:mpi"``, ndgrad's one device and backend."""
    if _not_member(group):
        raise ValueError("Invalid process group specified")
    _default_group(group)
    return f"cpu:{Backend.MPI}"


def get_pg_count() -> int:
    """How many process groups were made since ``init_process_group``, counting the default
    one, as torch counts them: every ``new_group`` call but those with
    ``use_local_synchronization=True``, on every rank (members or not); destroying a group
    does not lower it; destroying the default group resets it to 0."""
    return _group_count


def new_subgroups(group_size: int | None = None, group: ProcessGroup | None = None,
                  timeout: Any = None, backend: str | None = None, pg_options: Any = None,
                  group_desc: str | None = None
                  ) -> tuple[ProcessGroup | int | None, list[ProcessGroup | int]]:
    """Split ``group`` (default: the whole job) into consecutive subgroups of ``group_size``
    ranks each. Every rank of the job calls it. Returns (this rank's subgroup, every
    subgroup); for ``destroy_process_group`` later."""
    if group_size is None:  # torch's default, a machine's CUDA devices, does not exist here
        raise ValueError("Default group size only takes effect when CUDA is available. "
                         "ndgrad runs on the CPU: please pass in 'group_size' (e.g. the number "
                         "of ranks on each machine).")
    if group_size <= 0:
        raise ValueError(f"The arg 'group_size' ({group_size}) must be positive")
    world_size = get_world_size(group)
    if world_size < group_size:
        raise ValueError(f"The arg 'group_size' ({group_size}) must not exceed the world size "
                         f"({world_size})")
    if world_size % group_size != 0:
        raise ValueError(f"The world size ({world_size}) must be divisible by "
                         f"'group_size={group_size}'")
    ranks = get_process_group_ranks(group)
    return new_subgroups_by_enumeration([ranks[i:i + group_size]
                                         for i in range(0, len(ranks), group_size)],
                                        timeout=timeout, backend=backend,
                                        pg_options=pg_options, group_desc=group_desc)


def new_subgroups_by_enumeration(ranks_per_subgroup_list: list[list[int]], timeout: Any = None,
                                 backend: str | None = None, pg_options: Any = None,
                                 group_desc: str | None = None
                                 ) -> tuple[ProcessGroup | int | None, list[ProcessGroup | int]]:
    """One ``new_group`` per list of job ranks in ``ranks_per_subgroup_list`` (which must not
    overlap; a rank may be in none). Every rank of the job calls it. Returns (this rank's
    subgroup, or None when it is in none; every subgroup, NON_GROUP_MEMBER where it is not)."""
    if ranks_per_subgroup_list is None or len(ranks_per_subgroup_list) == 0:
        raise ValueError("The arg 'ranks_per_subgroup_list' cannot be empty")
    # checked before any group is made, so that an error leaves no communicators behind
    seen: dict[int, list[int]] = {}
    for ranks in ranks_per_subgroup_list:
        for r in ranks:
            if r in seen:
                raise ValueError(f"Rank {r} has appeared in both subgroup {seen[r]} and "
                                 f"{ranks}")
            seen[r] = ranks
    me = get_rank()
    current: ProcessGroup | int | None = None
    subgroups: list[ProcessGroup | int] = []
    for ranks in ranks_per_subgroup_list:
        subgroup = new_group(ranks, timeout=timeout, backend=backend, pg_options=pg_options,
                             group_desc=group_desc)
        subgroups.append(subgroup)
        if me in ranks:
            current = subgroup
    return current, subgroups
