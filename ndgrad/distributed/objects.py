"""Python objects between ranks, as torch.distributed's ``*_object*`` calls.

The objects travel pickled, with mpi4py's lowercase (pickle-based) calls, as torch pickles
them: only exchange objects within a job you trust. Nothing here reads a pickle from a file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad.distributed.collectives import _check_root, _group
from ndgrad.distributed.process_group import ProcessGroup, _mpi


def broadcast_object_list(object_list: list[Any], src: int = 0,
                          group: ProcessGroup | None = None, device: Any = None) -> None:
    """Replace the objects in ``object_list`` by ``src``'s, on every rank (lists of equal
    length everywhere)."""
    pg = _group(group, "broadcast_object_list")
    if pg is None:
        return None
    root = _check_root(pg, "broadcast_object_list", "src", src)
    got = pg.comm.bcast(list(object_list) if pg.rank() == root else None, root=root)
    if len(got) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(got)} objects but this "
                         f"rank's object_list holds {len(object_list)}; the lengths must match")
    object_list[:] = got


def all_gather_object(object_list: list[Any], obj: Any,
                      group: ProcessGroup | None = None) -> None:
    """``object_list[r]`` receives rank r's ``obj``, on every rank."""
    pg = _group(group, "all_gather_object")
    if pg is None:
        return None
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must hold one entry per rank "
                         f"({pg.size()}), got {len(object_list)}")
    object_list[:] = pg.comm.allgather(obj)


def gather_object(obj: Any, object_gather_list: list[Any] | None = None, dst: int = 0,
                  group: ProcessGroup | None = None) -> None:
    """``object_gather_list[r]`` on ``dst`` receives rank r's ``obj``."""
    pg = _group(group, "gather_object")
    if pg is None:
        return None
    root = _check_root(pg, "gather_object", "dst", dst)
    if pg.rank() == root and (object_gather_list is None
                             or len(object_gather_list) != pg.size()):
        raise ValueError(f"gather_object: object_gather_list on the destination rank must hold "
                         f"one entry per rank ({pg.size()})")
    got = pg.comm.gather(obj, root=root)
    if pg.rank() == root:
        object_gather_list[:] = got  # type: ignore[index]


def scatter_object_list(scatter_object_output_list: list[Any],
                        scatter_object_input_list: list[Any] | None = None, src: int = 0,
                        group: ProcessGroup | None = None) -> None:
    """Rank r's ``scatter_object_output_list[0]`` receives ``src``'s input list's r-th entry."""
    pg = _group(group, "scatter_object_list")
    if pg is None:
        return None
    root = _check_root(pg, "scatter_object_list", "src", src)
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("scatter_object_list: Expected argument scatter_object_output_list "
                         "to be a list of size at least 1.")
    if pg.rank() == root and (scatter_object_input_list is None
                             or len(scatter_object_input_list) != pg.size()):
        raise ValueError(f"scatter_object_list: scatter_object_input_list on the source rank "
                         f"must hold one entry per rank ({pg.size()})")
    send = list(scatter_object_input_list or []) if pg.rank() == root else None
    scatter_object_output_list[0] = pg.comm.scatter(send, root=root)


def _peer(pg: ProcessGroup, fn: str, arg: str, rank: int | None,
          group_rank: int | None) -> int | None:
    """The peer's rank in ``pg``, given as a rank of the job (``arg``) or of the group
    (``group_<arg>``), not both; None when neither is given."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError(f"{fn}: Can't specify both {arg} (a rank of the job) and "
                             f"group_{arg} (a rank of the group)")
        if not isinstance(group_rank, int | np.integer) or not 0 <= group_rank < pg.size():
            raise ValueError(f"{fn}: group_{arg}={group_rank!r} is not a rank of the group "
                             f"(0..{pg.size() - 1})")
        return int(group_rank)
    return None if rank is None else _check_root(pg, fn, arg, rank)


def send_object_list(object_list: list[Any], dst: int | None = None,
                     group: ProcessGroup | None = None, device: Any = None,
                     group_dst: int | None = None, use_batch: bool = False) -> None:
    """Send the objects in ``object_list`` to ``dst`` (a rank of the job; or ``group_dst``, one
    of ``group``), which receives them with ``recv_object_list`` into a list of the same
    length. ``device`` and ``use_batch`` change nothing here (CPU, one MPI message)."""
    pg = _group(group, "send_object_list")
    if pg is None:
        return None
    to = _peer(pg, "send_object_list", "dst", dst, group_dst)
    if to is None:
        raise ValueError("send_object_list: Must specify dst (a rank of the job) or group_dst "
                         "(a rank of the group)")
    if to == pg.rank():
        raise ValueError("Invalid destination rank: destination rank should not be the same as "
                         "the rank of the current process.")
    pg.object_comm.send(list(object_list), dest=to)
    return None


def recv_object_list(object_list: list[Any], src: int | None = None,
                     group: ProcessGroup | None = None, device: Any = None,
                     group_src: int | None = None, use_batch: bool = False) -> int:
    """Replace the objects in ``object_list`` by those ``src`` (a rank of the job; or
    ``group_src``, one of ``group``; neither: whichever rank sends first) sent with
    ``send_object_list``, in a list of the same length. Returns the sender's rank in the job
    (-1 on a rank outside ``group``)."""
    pg = _group(group, "recv_object_list")
    if pg is None:
        return -1
    source = _peer(pg, "recv_object_list", "src", src, group_src)
    if source == pg.rank():
        raise ValueError("Invalid source rank: source rank should not be the same as the rank "
                         "of the current process.")
    MPI = _mpi()
    status = MPI.Status()
    got = pg.object_comm.recv(source=MPI.ANY_SOURCE if source is None else source,
                              status=status)
    sender = pg.ranks[status.Get_source()]
    if len(got) != len(object_list):
        raise ValueError(f"recv_object_list: rank {sender} sent {len(got)} objects but "
                         f"object_list holds {len(object_list)}; the lengths must match")
    object_list[:] = got
    return sender
