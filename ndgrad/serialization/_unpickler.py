"""A restricted pickle reader: how ndgrad reads the pickle inside PyTorch's ``.pt`` files.

It can build only plain values (None, bools, numbers, strings, bytes, lists, tuples, dicts,
sets, ``OrderedDict``/``Counter``), numeric NumPy arrays, scalars and dtypes, and whatever the
caller's ``find_global`` and ``persistent_load`` allow (tensors, for ``torch.save``'s files).
Anything else a file names is refused: no code from a file ever runs.

Why a hand-written reader of the opcodes rather than a ``pickle.Unpickler`` subclass whose
``find_class`` checks an allow-list: ``find_class`` decides which callables a file may *name*,
but the standard unpickler then lets the file drive them: BUILD calls the ``__setstate__`` of
whatever object REDUCE made, and NumPy's ``ndarray.__setstate__`` and ``dtype.__setstate__``
are C code that trust their input (NumPy documents that its pickles must come from trusted
sources). Checkpoints hold NumPy arrays often, so their state has to be checked here before
NumPy sees it, and BUILD has to *replace* a half-made object by the checked array, which the
standard unpickler cannot do. The binary opcodes of protocols 2-5 are about forty, one small
method each (the table at the bottom lists them); the loop is iterative, so a deeply nested
file cannot raise RecursionError. PyTorch's own ``weights_only`` unpickler is hand-written for
the same reasons.
"""

from __future__ import annotations

import pickle
import struct
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from ndgrad.serialization._allowlist import (
    MAX_TUPLE_DEPTH,
    NDARRAY,
    PLAIN_GLOBALS,
    PY2_MODULES,
    CorruptError,
    Pending,
    RefusedError,
    is_user_global,
    set_state,
    unsupported_global,
)


class Unpickler:
    """Reads one pickle from ``data`` starting at ``pos``; ``load()`` returns the object and
    leaves ``pos`` just after its STOP opcode.

    ``find_global(module, name)`` returns what a GLOBAL names or raises :class:`RefusedError`;
    REDUCE and NEWOBJ call only objects it returned. ``persistent_load(pid)`` turns a
    persistent id (PyTorch's storages) into an object."""

    def __init__(self, data: bytes, pos: int = 0, *,
                 find_global: Callable[[str, str], Any] | None = None,
                 persistent_load: Callable[[Any], Any] | None = None) -> None:
        self.data, self.pos = data, pos
        self.find_global = find_global or _no_extra_globals
        self.persistent_load = persistent_load or _no_persistent_ids
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []  # the stacks saved by MARK
        self.memo: dict[int, Any] = {}
        self.named: dict[int, Any] = {}  # id -> object for everything a GLOBAL produced
        self.unfinished: dict[int, Pending] = {}  # Pending objects BUILD has not finished
        self.pending_memo: dict[int, list[int]] = {}  # id(Pending) -> its memo keys
        self.tuple_depth: dict[int, tuple[int, Any]] = {}  # id -> (depth, tuple) if nested

    def load(self) -> Any:
        data = self.data
        while True:
            if self.pos >= len(data):
                raise CorruptError("the pickle ends before its STOP opcode (truncated?)")
            start, code = self.pos, data[self.pos]
            self.pos += 1
            op = _OPS.get(code)
            if op is None:
                raise CorruptError(f"unsupported pickle opcode {bytes([code])!r} at byte {start}")
            if op is Unpickler.stop:
                return self.stop()
            try:
                op(self)
            except (CorruptError, RefusedError):
                raise
            except (IndexError, KeyError, TypeError, ValueError, AttributeError,
                    OverflowError, UnicodeDecodeError, RuntimeError, struct.error) as e:
                # (RuntimeError covers RecursionError, and an ndgrad op given a wrong value)
                opname = op.__name__.strip("_").upper()
                raise CorruptError(f"damaged pickle at byte {start} ({opname}: "
                                   f"{type(e).__name__}: {e})") from None

    # reading bytes
    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise CorruptError(f"the pickle asks for {n} bytes at byte {self.pos}, past its end "
                               f"(truncated?)")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def read_struct(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def read_line(self) -> str:
        end = self.data.find(b"\n", self.pos, self.pos + 1024)
        if end < 0:
            raise CorruptError(f"a GLOBAL name at byte {self.pos} has no end")
        line = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return line

    def push(self, obj: Any) -> None:
        self.stack.append(obj)

    def pop_mark(self) -> list[Any]:
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    # protocol and framing
    def proto(self) -> None:
        if self.read(1)[0] > pickle.HIGHEST_PROTOCOL:
            raise CorruptError("unknown pickle protocol")

    def frame(self) -> None:
        self.read(8)  # the whole pickle is in memory: frames need no buffering

    def stop(self) -> Any:
        if self.unfinished:
            raise CorruptError("a numpy array or dtype is missing its state (BUILD)")
        if len(self.stack) != 1 or self.metastack:
            raise CorruptError("the pickle's stack is unbalanced at STOP")
        return self.stack.pop()

    # constants and numbers
    def none(self) -> None:
        self.push(None)

    def newtrue(self) -> None:
        self.push(True)

    def newfalse(self) -> None:
        self.push(False)

    def binint(self) -> None:
        self.push(self.read_struct("<i"))

    def binint1(self) -> None:
        self.push(self.read(1)[0])

    def binint2(self) -> None:
        self.push(self.read_struct("<H"))

    def long1(self) -> None:
        self.push(int.from_bytes(self.read(self.read(1)[0]), "little", signed=True))

    def long4(self) -> None:
        self.push(int.from_bytes(self.read(self.read_struct("<i")), "little", signed=True))

    def binfloat(self) -> None:
        self.push(self.read_struct(">d"))

    # strings and bytes
    def _text(self, n: int) -> None:
        self.push(self.read(n).decode("utf-8", "surrogatepass"))

    def binunicode(self) -> None:
        self._text(self.read_struct("<I"))

    def short_binunicode(self) -> None:
        self._text(self.read(1)[0])

    def binunicode8(self) -> None:
        self._text(self.read_struct("<Q"))

    def short_binstring(self) -> None:  # Python 2's str (old checkpoints): text, as torch reads
        self._text(self.read(1)[0])

    def binstring(self) -> None:
        self._text(self.read_struct("<i"))

    def short_binbytes(self) -> None:
        self.push(self.read(self.read(1)[0]))

    def binbytes(self) -> None:
        self.push(self.read(self.read_struct("<I")))

    def binbytes8(self) -> None:
        self.push(self.read(self.read_struct("<Q")))

    def bytearray8(self) -> None:
        self.push(bytearray(self.read(self.read_struct("<Q"))))

    # containers
    def empty_tuple(self) -> None:
        self.push(())

    def tuple_(self) -> None:
        self.push(self._tuple(self.pop_mark()))

    def tuple1(self) -> None:
        self.stack[-1] = self._tuple(self.stack[-1:])

    def tuple2(self) -> None:
        self.stack[-2:] = [self._tuple(self.stack[-2:])]

    def tuple3(self) -> None:
        self.stack[-3:] = [self._tuple(self.stack[-3:])]

    def _tuple(self, items: list[Any]) -> tuple[Any, ...]:
        """Tuples nested deeper than Python's pickler can write are refused: hashing one (as a
        dict key) recurses in C, past any recursion limit, and would crash the process."""
        t = tuple(items)
        depth = 1 + max((self.tuple_depth.get(id(x), (1,))[0] for x in t if type(x) is tuple),
                        default=0)
        if depth > MAX_TUPLE_DEPTH:
            raise CorruptError(f"tuples nested more than {MAX_TUPLE_DEPTH} deep")
        if depth > 1:
            self.tuple_depth[id(t)] = (depth, t)  # (keeps t alive, so its id stays its own)
        return t

    def empty_list(self) -> None:
        self.push([])

    def list_(self) -> None:
        self.push(self.pop_mark())

    def append(self) -> None:
        item = self.stack.pop()
        self._target(list, "APPEND").append(item)

    def appends(self) -> None:
        items = self.pop_mark()
        self._target(list, "APPENDS").extend(items)

    def empty_dict(self) -> None:
        self.push({})

    def dict_(self) -> None:
        items = self.pop_mark()
        self.push(dict(zip(items[::2], items[1::2])))

    def setitem(self) -> None:
        value, key = self.stack.pop(), self.stack.pop()
        self._target((dict, OrderedDict, Counter), "SETITEM")[key] = value

    def setitems(self) -> None:
        items = self.pop_mark()
        target = self._target((dict, OrderedDict, Counter), "SETITEMS")
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def empty_set(self) -> None:
        self.push(set())

    def additems(self) -> None:
        items = self.pop_mark()
        self._target(set, "ADDITEMS").update(items)

    def frozenset_(self) -> None:
        self.push(frozenset(self.pop_mark()))

    def _target(self, types: Any, opcode: str) -> Any:
        """APPEND/SETITEM may only fill plain containers (never call a method of another
        object)."""
        target = self.stack[-1]
        if type(target) not in (types if isinstance(types, tuple) else (types,)):
            raise CorruptError(f"{opcode} into a {type(target).__name__}")
        return target

    # stack and memo
    def mark(self) -> None:
        self.metastack.append(self.stack)
        self.stack = []

    def pop(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def pop_mark_op(self) -> None:
        self.pop_mark()

    def dup(self) -> None:
        self._push_again(self.stack[-1])

    def _push_again(self, obj: Any) -> None:
        """A second reference: never to a half-made object, which BUILD replaces only once."""
        if id(obj) in self.unfinished:
            raise CorruptError("a numpy array or dtype is used before its state (BUILD)")
        self.push(obj)

    def _put(self, key: int) -> None:
        obj = self.memo[key] = self.stack[-1]
        if isinstance(obj, Pending):
            self.pending_memo.setdefault(id(obj), []).append(key)

    def binput(self) -> None:
        self._put(self.read(1)[0])

    def long_binput(self) -> None:
        self._put(self.read_struct("<I"))

    def memoize(self) -> None:
        self._put(len(self.memo))

    def binget(self) -> None:
        self._push_again(self.memo[self.read(1)[0]])

    def long_binget(self) -> None:
        self._push_again(self.memo[self.read_struct("<I")])

    # the opcodes that reach Python objects: each one checked
    def global_(self) -> None:
        module = self.read_line()
        self._named(module, self.read_line())

    def stack_global(self) -> None:
        name, module = self.stack.pop(), self.stack.pop()
        if not (isinstance(module, str) and isinstance(name, str)):
            raise CorruptError("STACK_GLOBAL needs two strings")
        self._named(module, name)

    def _named(self, module: str, name: str) -> None:
        module = PY2_MODULES.get(module, module)
        obj = PLAIN_GLOBALS.get((module, name))
        if obj is None:
            obj = self.find_global(module, name)
        self.named[id(obj)] = obj
        self.push(obj)

    def _callable(self, obj: Any, opcode: str) -> Any:
        if self.named.get(id(obj)) is not obj or obj is NDARRAY or not callable(obj):
            raise RefusedError(f"{opcode} of a {type(obj).__name__}: a file may only call the "
                               f"allowed globals it names")
        return obj

    def reduce(self) -> None:
        args = self.stack.pop()
        func = self._callable(self.stack[-1], "REDUCE")
        if not isinstance(args, tuple):
            raise CorruptError("REDUCE needs a tuple of arguments")
        result = func(*args)
        if isinstance(result, Pending):
            self.unfinished[id(result)] = result
        self.stack[-1] = result

    def newobj(self) -> None:
        args = self.stack.pop()
        self._new(self.stack.pop(), args, {})

    def newobj_ex(self) -> None:
        kwargs, args = self.stack.pop(), self.stack.pop()
        self._new(self.stack.pop(), args, kwargs)

    def _new(self, cls: Any, args: Any, kwargs: Any) -> None:
        cls = self._callable(cls, "NEWOBJ")
        if not (cls in (OrderedDict, Counter) or is_user_global(cls)) \
                or not isinstance(args, tuple) or type(kwargs) is not dict:
            raise RefusedError(f"NEWOBJ of {cls!r:.60}: only classes the allow-list names")
        self.push(cls.__new__(cls, *args, **kwargs))

    def build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, Pending) and id(inst) in self.unfinished:
            del self.unfinished[id(inst)]
            done = self.stack[-1] = inst.build(state)
            for key in self.pending_memo.pop(id(inst), []):
                self.memo[key] = done
        elif type(inst) is OrderedDict and type(state) is dict \
                and all(isinstance(k, str) for k in state):
            inst.__dict__.update(state)  # a state_dict's _metadata (module versions)
        elif self.named.get(id(type(inst))) is type(inst) and is_user_global(type(inst)):
            set_state(inst, state)
        else:
            raise RefusedError(f"BUILD (setting the state) of a {type(inst).__name__}")

    def binpersid(self) -> None:
        self.push(self.persistent_load(self.stack.pop()))

    def next_buffer(self) -> None:
        raise RefusedError("out-of-band pickle buffers (protocol 5)")


def _no_extra_globals(module: str, name: str) -> Any:
    raise RefusedError(unsupported_global(module, name))


def _no_persistent_ids(pid: Any) -> Any:
    raise RefusedError("a persistent id outside a PyTorch checkpoint")


_OPS: dict[int, Callable[[Unpickler], Any]] = {
    op[0]: fn for op, fn in [
        (pickle.PROTO, Unpickler.proto), (pickle.FRAME, Unpickler.frame),
        (pickle.STOP, Unpickler.stop),
        (pickle.NONE, Unpickler.none), (pickle.NEWTRUE, Unpickler.newtrue),
        (pickle.NEWFALSE, Unpickler.newfalse),
        (pickle.BININT, Unpickler.binint), (pickle.BININT1, Unpickler.binint1),
        (pickle.BININT2, Unpickler.binint2), (pickle.LONG1, Unpickler.long1),
        (pickle.LONG4, Unpickler.long4), (pickle.BINFLOAT, Unpickler.binfloat),
        (pickle.BINUNICODE, Unpickler.binunicode),
        (pickle.SHORT_BINUNICODE, Unpickler.short_binunicode),
        (pickle.BINUNICODE8, Unpickler.binunicode8),
        (pickle.SHORT_BINSTRING, Unpickler.short_binstring),
        (pickle.BINSTRING, Unpickler.binstring),
        (pickle.SHORT_BINBYTES, Unpickler.short_binbytes), (pickle.BINBYTES, Unpickler.binbytes),
        (pickle.BINBYTES8, Unpickler.binbytes8), (pickle.BYTEARRAY8, Unpickler.bytearray8),
        (pickle.EMPTY_TUPLE, Unpickler.empty_tuple), (pickle.TUPLE, Unpickler.tuple_),
        (pickle.TUPLE1, Unpickler.tuple1), (pickle.TUPLE2, Unpickler.tuple2),
        (pickle.TUPLE3, Unpickler.tuple3),
        (pickle.EMPTY_LIST, Unpickler.empty_list), (pickle.LIST, Unpickler.list_),
        (pickle.APPEND, Unpickler.append), (pickle.APPENDS, Unpickler.appends),
        (pickle.EMPTY_DICT, Unpickler.empty_dict), (pickle.DICT, Unpickler.dict_),
        (pickle.SETITEM, Unpickler.setitem), (pickle.SETITEMS, Unpickler.setitems),
        (pickle.EMPTY_SET, Unpickler.empty_set), (pickle.ADDITEMS, Unpickler.additems),
        (pickle.FROZENSET, Unpickler.frozenset_),
        (pickle.MARK, Unpickler.mark), (pickle.POP, Unpickler.pop),
        (pickle.POP_MARK, Unpickler.pop_mark_op), (pickle.DUP, Unpickler.dup),
        (pickle.BINPUT, Unpickler.binput), (pickle.LONG_BINPUT, Unpickler.long_binput),
        (pickle.MEMOIZE, Unpickler.memoize),
        (pickle.BINGET, Unpickler.binget), (pickle.LONG_BINGET, Unpickler.long_binget),
        (pickle.GLOBAL, Unpickler.global_), (pickle.STACK_GLOBAL, Unpickler.stack_global),
        (pickle.REDUCE, Unpickler.reduce), (pickle.NEWOBJ, Unpickler.newobj),
        (pickle.NEWOBJ_EX, Unpickler.newobj_ex), (pickle.BUILD, Unpickler.build),
        (pickle.BINPERSID, Unpickler.binpersid),
        (pickle.NEXT_BUFFER, Unpickler.next_buffer),
        (pickle.READONLY_BUFFER, Unpickler.next_buffer),
    ]
}

