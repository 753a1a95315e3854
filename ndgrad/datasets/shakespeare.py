"""Tiny Shakespeare: the 1 MB of Shakespeare that char-rnn and nanoGPT train character models on.

Where the text is looked for, in order (``input.txt`` or ``input.txt.gz``):
``<d>/tinyshakespeare/``, ``<d>/shakespeare_char/`` (nanoGPT's layout) and ``<d>/`` itself, where
``<d>`` is ``root`` or else the ``NDGRAD_DATA`` environment variable; then the copy shipped inside
ndgrad; then the download cache (``$XDG_CACHE_HOME/ndgrad/datasets/tinyshakespeare``, default
``~/.cache/...``). Only when none is found is it downloaded there (``download=True``), checked
against the MD5 of the file served. Whatever the source, the text must match the SHA-256 of the
original, so a truncated or different file is refused.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import numpy as np

from ndgrad.datasets import _files
from ndgrad.datasets._files import DatasetFileError
from ndgrad.tensor import Tensor


class TinyShakespeare:
    """The text as characters and as int64 ids, split 90/10 as nanoGPT's shakespeare_char.

    ``text`` is the whole corpus (1,115,394 characters); ``chars`` its 65 distinct characters,
    sorted, whose positions are the ids (``encode``/``decode`` convert). ``train_data`` holds
    the ids of the first 90% of the text and ``val_data`` the rest, as int64 Tensors.
    """

    url = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
    filename = "input.txt"
    md5 = "6fb458f1232090904fb40fe944165e91"  # of the file as served (plain text)
    sha256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    subdirs = ("tinyshakespeare", "shakespeare_char")  # layouts searched under the data dir
    cache_name = "tinyshakespeare"

    def __init__(self, root: str | os.PathLike[str] | None = None, download: bool = True) -> None:
        self.root = root
        self.path = self._locate(download)
        buf = _files.read_bytes(self.path)
        _files.check_sha256(self.path, buf, self.sha256)
        self.text = buf.decode("utf-8")
        self.chars = sorted(set(self.text))
        self.vocab_size = len(self.chars)
        self._stoi = {c: i for i, c in enumerate(self.chars)}
        ids = np.array(self.encode(self.text), dtype=np.int64)
        n = int(len(ids) * 0.9)  # nanoGPT's prepare.py: the first 90% trains
        self.train_data = Tensor._make(ids[:n])
        self.val_data = Tensor._make(ids[n:])

    def encode(self, s: str) -> list[int]:
        """The ids of the characters of ``s``; a character outside the corpus is an error."""
        try:
            return [self._stoi[c] for c in s]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in Tiny Shakespeare's vocabulary "
                             f"of {self.vocab_size} characters") from None

    def decode(self, ids: list[int] | np.ndarray | Tensor) -> str:
        """The characters of the ids (a list, array or 1-D Tensor)."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return "".join(self.chars[int(i)] for i in ids)

    # -- finding the file ---------------------------------------------------------------------
    def _search_dirs(self) -> list[Path]:
        base = self.root if self.root is not None else os.environ.get("NDGRAD_DATA")
        dirs = []
        if base:
            b = Path(base).expanduser()
            dirs = [b / s for s in self.subdirs] + [b]
        return dirs + [shipped_dir(), _files.cache_dir(self.cache_name)]

    def _locate(self, download: bool) -> Path:
        dirs = self._search_dirs()
        found = _files.find_file(dirs, self.filename)
        if found is not None:
            return found
        failure = "\n(download=False, so nothing was downloaded)"
        if download:
            try:
                return _files.download([self.url], self.filename, self.md5,
                                       _files.cache_dir(self.cache_name))
            except DatasetFileError as e:
                failure = "\n" + str(e)
        where = "\n  ".join(str(d) for d in dirs)
        raise DatasetFileError(
            f"TinyShakespeare: {self.filename}[.gz] not found. Looked in:\n  {where}{failure}\n"
            f"To supply it, put input.txt (or input.txt.gz) in a directory and set the "
            f"NDGRAD_DATA environment variable to it or pass root=<dir>.")

    def __repr__(self) -> str:
        return (f"Dataset TinyShakespeare\n    Number of characters: {len(self.text)}\n"
                f"    Vocabulary: {self.vocab_size} characters\n    Location: {self.path}")


def shipped_dir() -> Path:
    """Where the copy of the text that comes with ndgrad lives (package data)."""
    return Path(str(importlib.resources.files("ndgrad.datasets"))) / "data" / "tinyshakespeare"
