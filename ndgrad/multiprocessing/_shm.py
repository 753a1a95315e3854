"""Shared memory for tensors: segments that several processes map as their own, and moving a
tensor's memory into one (``Tensor.share_memory_``, ``nn.Module.share_memory``).

A segment is an ``mmap`` of a file that lives in RAM, of one of two kinds, as torch's two
sharing strategies (``ndgrad.multiprocessing.set_sharing_strategy``; the strategy in force when
a segment is made decides its kind):

* ``"file_descriptor"`` (the default): an anonymous ``memfd``. It travels to another process as
  a file descriptor (multiprocessing's ``DupFd``: handed to a spawned child at its start, or over
  a Unix socket by the sender's resource sharer), and the kernel frees it when the last process
  that maps it unmaps it and closes its descriptor: nothing is ever left behind, even after a
  crash. Each process holds a descriptor per segment, to send it on (before Python 3.13, two:
  ``mmap`` keeps a duplicate of its own).
* ``"file_system"``: a named file in ``/dev/shm``, sent by name. The process that made it removes
  the name when it drops the segment or exits (multiprocessing's resource tracker does, if it is
  killed); processes that opened it keep the memory until they drop it. So the sender must keep
  the tensor until the receiver has it (torch keeps a count in a manager process instead).

A NumPy array lives in a segment when the end of its ``.base`` chain is one. Arrays over a
segment keep it alive; when the last one goes, the mapping goes.

Moving memory. ndgrad tensors have no storage object that their views share: a view's array is a
NumPy view of its base's. So moving a tensor can repoint only the arrays of the tensors it is
given (for a view, also its base's, as torch moves the whole storage). Any other array over the
same memory (another view, a ``detach()``, a ``Parameter(t)``, a ``from_numpy`` array) would stay
on the old memory and silently stop seeing writes, so ``share_tensors`` counts the references to
that memory and refuses, with an error that says what to do, when there are others.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import secrets
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

FILE_DESCRIPTOR, FILE_SYSTEM = "file_descriptor", "file_system"
ALL_STRATEGIES = ({FILE_DESCRIPTOR, FILE_SYSTEM} if sys.platform.startswith("linux")
                  else {FILE_SYSTEM})
strategy = FILE_DESCRIPTOR if FILE_DESCRIPTOR in ALL_STRATEGIES else FILE_SYSTEM

SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()

OTHER_USERS = (
    "share_memory_(): cannot move this tensor's memory into shared memory: {n} other "
    "array(s) use the same memory (a view of the tensor or of its base, a detach() or .data of "
    "it, a Parameter made from it, a NumPy array from .numpy() or given to from_numpy, or values "
    "saved for backward), and they would not follow the move. Call share_memory_() before "
    "making them, drop them, or share a clone() instead.")


class OtherUsersError(RuntimeError):
    """The memory of a tensor to share has other users, which could not follow a move."""


class Segment(mmap.mmap):
    """A mapping of shared memory. ``fd`` is our descriptor of a "file_descriptor" segment (-1
    for a named one), ``name`` the file name of a "file_system" one, ``length`` its size in
    bytes (``size()`` is mmap's), ``addr`` where it starts."""

    kind: str
    fd: int
    name: str
    length: int
    addr: int


# Python 3.13's mmap can do without a duplicate of the descriptor: one per segment, not two
_MAP_OPTIONS: dict[str, Any] = {"trackfd": False} if sys.version_info >= (3, 13) else {}
FDS_PER_SEGMENT = 1 if _MAP_OPTIONS else 2  # (a "file_descriptor" one)


def _map(fd: int, size: int) -> Segment:
    return Segment(fd, size, **_MAP_OPTIONS)


# One move at a time: a Queue's feeder thread may be moving a tensor that the main thread moves
_lock = threading.Lock()


def _new_lock() -> None:
    global _lock
    _lock = threading.Lock()  # a forked child may have copied it held by another thread


os.register_at_fork(after_in_child=_new_lock)

# Segments this process has, by what identifies them across processes: a segment received
# twice (or sent back to its maker) is mapped once, as torch's shared storage cache does.
_segments: weakref.WeakValueDictionary[tuple[Any, ...], Segment] = weakref.WeakValueDictionary()


def _allocate(fd: int, size: int) -> None:
    """Give the file its pages now: a full /dev/shm then fails here, with an error, instead of
    killing the process with SIGBUS on the first write."""
    os.ftruncate(fd, size)
    if not hasattr(os, "posix_fallocate"):  # (macOS)
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG):
            raise RuntimeError(f"unable to allocate {size} bytes of shared memory: "
                               f"{err.strerror}") from err


def _finish(seg: Segment, kind: str, fd: int, name: str, size: int) -> Segment:
    seg.kind, seg.fd, seg.name, seg.length = kind, fd, name, size
    holder = ctypes.c_char.from_buffer(seg)  # an export of the buffer, released at once
    seg.addr = ctypes.addressof(holder)
    del holder
    if fd >= 0:
        # the OS closes it at exit; closing earlier could break a send still under way
        weakref.finalize(seg, os.close, fd).atexit = False
        st = os.fstat(fd)
        _segments[("fd", st.st_dev, st.st_ino)] = seg
    else:
        _segments[("name", name)] = seg
    return seg


def new_segment(nbytes: int) -> Segment:
    """A new zero-filled segment of at least ``nbytes`` bytes, of the current strategy's kind."""
    size = max(nbytes, 1)  # an empty file cannot be mapped
    if strategy == FILE_SYSTEM:
        name = f"ndgrad_{os.getpid()}_{secrets.token_hex(8)}"
        path = os.path.join(SHM_DIR, name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _allocate(fd, size)
            seg = _map(fd, size)
        except BaseException:
            os.unlink(path)
            raise
        finally:
            os.close(fd)  # the mapping keeps its own
        _track(name, register=True)
        weakref.finalize(seg, _unlink, path, name, os.getpid())
        return _finish(seg, FILE_SYSTEM, -1, name, size)
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ndgrad-shared", os.MFD_CLOEXEC)
    else:  # an unlinked file: freed, as a memfd, when its last descriptor and mapping go
        fd, path = tempfile.mkstemp(prefix="ndgrad_", dir=SHM_DIR)
        os.unlink(path)
    try:
        _allocate(fd, size)
        seg = _map(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return _finish(seg, FILE_DESCRIPTOR, fd, "", size)


def _track(name: str, register: bool) -> None:
    """Tell multiprocessing's resource tracker about a named segment in /dev/shm, so that it is
    removed even if this process is killed (the tracker removes what is still registered)."""
    if SHM_DIR != "/dev/shm":
        return
    from multiprocessing import resource_tracker

    if register:
        resource_tracker.register("/" + name, "shared_memory")
    else:
        resource_tracker.unregister("/" + name, "shared_memory")


def _unlink(path: str, name: str, creator: int) -> None:
    if os.getpid() != creator:  # a forked child inherits the finalizer, not the segment's name
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    _track(name, register=False)


def segment_from_fd(fd: int, size: int) -> Segment:
    """The segment behind a descriptor received from another process (which this owns now)."""
    st = os.fstat(fd)
    seg = _segments.get(("fd", st.st_dev, st.st_ino))
    if seg is not None:
        os.close(fd)
        return seg
    try:
        seg = _map(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return _finish(seg, FILE_DESCRIPTOR, fd, "", size)


def segment_from_name(name: str, size: int) -> Segment:
    """The named segment another process made."""
    seg = _segments.get(("name", name))
    if seg is not None:
        return seg
    try:
        fd = os.open(os.path.join(SHM_DIR, name), os.O_RDWR)
    except FileNotFoundError:
        raise RuntimeError(f"shared memory segment '{name}' no longer exists: the process that "
                           f"sent the tensor freed it before it was received (with the "
                           f"file_system sharing strategy, keep a sent tensor alive until the "
                           f"receiver has it)") from None
    try:
        seg = _map(fd, size)
    finally:
        os.close(fd)
    return _finish(seg, FILE_SYSTEM, -1, name, size)


def _is_link(obj: Any) -> bool:
    """Whether obj is a step of an array's ``.base`` chain: an array, or the stand-in (an object
    with ``__array_interface__`` and ``.base``) that NumPy's ``as_strided``, and so ``expand``,
    puts between its result and the source array."""
    return isinstance(obj, np.ndarray) or (
        hasattr(obj, "__array_interface__") and hasattr(obj, "base"))


def segment_of(arr: np.ndarray) -> Segment | None:
    """The segment an array lives in, None when it is in ordinary memory."""
    obj: Any = arr
    while _is_link(obj):
        obj = obj.base
    return obj if isinstance(obj, Segment) else None


def address(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def array_in(seg: Segment, offset: int, shape: tuple[int, ...], strides: tuple[int, ...],
             dtype: np.dtype, writeable: bool = True) -> np.ndarray:
    """The array at ``offset`` bytes into ``seg`` (an empty one: at 0)."""
    size = int(np.prod(shape))
    arr = np.ndarray(shape, dtype, buffer=seg, offset=offset if size else 0, strides=strides)
    if not writeable:
        arr.flags.writeable = False
    return arr


def _span(arr: np.ndarray) -> tuple[int, int]:
    """The bytes an array's elements occupy, [lo, hi) (negative and zero strides too)."""
    lo = hi = address(arr)
    for n, s in zip(arr.shape, arr.strides, strict=True):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + arr.itemsize


def _owner(arr: np.ndarray) -> np.ndarray:
    """The last array of the ``.base`` chain: the one every view of this memory leads to."""
    owner = arr
    obj: Any = arr.base
    while _is_link(obj):
        if isinstance(obj, np.ndarray):
            owner = obj
        obj = obj.base
    return owner


def _refuse_other_users(tensors: list[Any]) -> None:
    """Raise if anything but these tensors refers to the arrays their memory is reached by.

    Each step of a ``.base`` chain (``_is_link``) is referred to by the tensors whose ``_data``
    it is and by the steps whose ``.base`` it is; any further reference is another user
    (another view over it, or a holder of the array itself). The count is taken against a
    probe array referred to in the same way here, so it does not depend on how the
    interpreter counts locals."""
    nodes: dict[int, Any] = {}
    expected: dict[int, int] = {}
    node: Any = None
    for t in tensors:
        node = t._data
        expected[id(node)] = expected.get(id(node), 0) + 1
        while _is_link(node) and id(node) not in nodes:
            nodes[id(node)] = node
            node = node.base
            if _is_link(node):
                expected[id(node)] = expected.get(id(node), 0) + 1
    del node
    nodes[0] = np.empty(0)  # the probe: referred to by nothing but ``nodes`` (0 is no id)
    counts = {key: sys.getrefcount(node) for key, node in nodes.items()}
    probe = counts.pop(0)
    others = sum(max(0, counts[key] - probe - expected.get(key, 0)) for key in counts)
    nodes.clear()  # the traceback of the error below must not keep the arrays referenced
    if others:
        raise OtherUsersError(OTHER_USERS.format(n=others))


def _copy_to_segment(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The arrays over a new segment holding a copy of the bytes they span, each with its
    layout (strides, expanded dims) and place in that span kept: arrays that shared memory
    still do."""
    spans = [_span(a) for a in arrays if a.size]
    lo = min((s[0] for s in spans), default=0)
    hi = max((s[1] for s in spans), default=0)
    seg = new_segment(hi - lo)
    if hi > lo:
        ctypes.memmove(seg.addr, lo, hi - lo)
    return [array_in(seg, address(a) - lo if a.size else 0, a.shape, a.strides, a.dtype,
                     bool(a.flags.writeable)) for a in arrays]


def copy_to_segment(arr: np.ndarray) -> np.ndarray:
    """A copy of ``arr`` in a new segment of its own, with its layout."""
    return _copy_to_segment([arr])[0]


def share_tensors(tensors: Iterable[Any]) -> None:
    """Move these tensors' memory into shared memory, in place: each keeps its identity, its
    values, shape and strides; a view brings its base, and tensors over one memory (a base
    and its view) land in one segment, still sharing it. Those already shared stay as they
    are. Raises if something else uses the memory (``_refuse_other_users``)."""
    with _lock:
        _share(tensors)


def _share(tensors: Iterable[Any]) -> None:
    todo: dict[int, Any] = {}
    for t in tensors:
        for u in (t,) if t._base is None else (t._base, t):
            if id(u) not in todo and segment_of(u._data) is None:
                todo[id(u)] = u
    if not todo:
        return
    ts = list(todo.values())
    _refuse_other_users(ts)
    groups: dict[int, list[Any]] = {}
    for t in ts:
        groups.setdefault(id(_owner(t._data)), []).append(t)
    for group in groups.values():
        moved = _copy_to_segment([t._data for t in group])
        for t, arr in zip(group, moved, strict=True):
            t._data = arr
