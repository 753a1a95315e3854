"""A small writer of pickle protocol 2: the format of ``data.pkl`` inside a ``torch.save`` file.

``pickle.Pickler`` cannot be used here: it writes a reference to a function only after checking
that the function can be imported in this process, and a PyTorch checkpoint refers to
``torch._utils._rebuild_tensor_v2`` and ``torch.FloatStorage``, which ndgrad (running without
torch) cannot import. Writing the dozen opcodes ourselves is short, and emits only what
``torch.load(weights_only=True)`` reads.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple


class Global(NamedTuple):
    """A reference to ``module.name`` (written as the GLOBAL opcode, never imported)."""
    module: str
    name: str


class PersistentId(NamedTuple):
    """A value written as a persistent id (BINPERSID): PyTorch's storages."""
    pid: tuple[Any, ...]


class Reduce(NamedTuple):
    """``func(*args)``, then ``__setstate__(state)`` unless state is None."""
    func: Any
    args: tuple[Any, ...]
    state: Any = None


class Pickler:
    """Pickles plain values (None, bool, int, float, str, bytes, list, tuple, dict,
    OrderedDict); ``reducer(obj)`` gives a :class:`Reduce` or :class:`Global` for any other
    object (tensors, NumPy arrays), or None to refuse it."""

    def __init__(self, reducer: Callable[[Any], Reduce | Global | None]) -> None:
        self.reducer = reducer
        self.out = bytearray()
        self.memo: dict[Any, tuple[int, Any]] = {}  # id(obj) -> (index, obj kept alive)

    def dumps(self, obj: Any) -> bytes:
        self.out += pickle.PROTO + b"\x02"
        self.save(obj)
        self.out += pickle.STOP
        return bytes(self.out)

    def save(self, obj: Any) -> None:
        t = type(obj)
        if obj is None:
            self.out += pickle.NONE
        elif t is bool:
            self.out += pickle.NEWTRUE if obj else pickle.NEWFALSE
        elif t is int:
            self.save_int(obj)
        elif t is float:
            self.out += pickle.BINFLOAT + struct.pack(">d", obj)
        elif t is str:
            data = obj.encode("utf-8", "surrogatepass")
            self.out += pickle.BINUNICODE + struct.pack("<I", len(data)) + data
        elif t is Global:
            self.save_global(obj)
        elif t is PersistentId:
            self.save(obj.pid)
            self.out += pickle.BINPERSID
        elif id(obj) in self.memo:
            self.get(id(obj))
        elif t is bytes:  # protocol 2 has no bytes opcode: _codecs.encode(latin-1 text)
            args = (obj.decode("latin1"), "latin1") if obj else ()
            func = Global("_codecs", "encode") if obj else Global("__builtin__", "bytes")
            self.save_reduce(obj, Reduce(func, args))
        elif t is OrderedDict:
            self.save_reduce(obj, Reduce(Global("collections", "OrderedDict"), ()))
            self.save_items(obj)
        else:
            custom = self.reducer(obj)
            if isinstance(custom, Global):
                self.save_global(custom)
            elif custom is not None:
                self.save_reduce(obj, custom)
            elif isinstance(obj, dict):  # defaultdict and other dicts: as a plain dict
                self.out += pickle.EMPTY_DICT
                self.put(obj)
                self.save_items(obj)
            elif isinstance(obj, list):
                self.out += pickle.EMPTY_LIST
                self.put(obj)
                if obj:
                    self.out += pickle.MARK
                    for item in obj:
                        self.save(item)
                    self.out += pickle.APPENDS
            elif isinstance(obj, tuple):  # named tuples too, as plain tuples
                self.save_tuple(obj)
            else:
                raise TypeError(f"{type(obj).__module__}.{type(obj).__qualname__}")

    def save_int(self, n: int) -> None:
        if 0 <= n < 256:
            self.out += pickle.BININT1 + bytes([n])
        elif 0 <= n < 65536:
            self.out += pickle.BININT2 + struct.pack("<H", n)
        elif -(2 ** 31) <= n < 2 ** 31:
            self.out += pickle.BININT + struct.pack("<i", n)
        else:  # two's complement, little-endian, as few bytes as hold the sign
            data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
            self.out += pickle.LONG1 + bytes([len(data)]) + data if len(data) < 256 else \
                pickle.LONG4 + struct.pack("<i", len(data)) + data

    def save_tuple(self, obj: tuple[Any, ...]) -> None:
        if not obj:
            self.out += pickle.EMPTY_TUPLE
            return
        if len(obj) > 3:
            self.out += pickle.MARK
        for item in obj:
            self.save(item)
        self.out += {1: pickle.TUPLE1, 2: pickle.TUPLE2, 3: pickle.TUPLE3}.get(len(obj),
                                                                             pickle.TUPLE)
        self.put(obj)

    def save_items(self, obj: dict[Any, Any]) -> None:
        if obj:
            self.out += pickle.MARK
            for k, v in obj.items():
                self.save(k)
                self.save(v)
            self.out += pickle.SETITEMS

    def save_global(self, g: Global) -> None:
        if g in self.memo:
            self.get(g)
            return
        self.out += pickle.GLOBAL + f"{g.module}\n{g.name}\n".encode()
        self.put(g, key=g)

    def save_reduce(self, obj: Any, r: Reduce) -> None:
        self.save(r.func)
        self.save_tuple(r.args)
        self.out += pickle.REDUCE
        self.put(obj)
        if r.state is not None:
            self.save(r.state)
            self.out += pickle.BUILD

    def put(self, obj: Any, key: Any = None) -> None:
        index = len(self.memo)
        self.memo[id(obj) if key is None else key] = (index, obj)
        self.out += pickle.BINPUT + bytes([index]) if index < 256 else \
            pickle.LONG_BINPUT + struct.pack("<I", index)

    def get(self, key: Any) -> None:
        index = self.memo[key][0]
        self.out += pickle.BINGET + bytes([index]) if index < 256 else \
            pickle.LONG_BINGET + struct.pack("<I", index)
