"""Finding, downloading and checking dataset files; reading the IDX format.

Downloads go to a temporary file next to the destination, are checked against the published
MD5, and only then renamed into place (``os.replace``), so the cache never holds a partial or
unverified file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# IDX type codes (third byte of the magic number) and the big-endian dtypes they hold.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetFileError(RuntimeError):
    """A dataset file is missing, corrupt, or could not be downloaded."""


def cache_dir(name: str) -> Path:
    """Where downloads go: $XDG_CACHE_HOME/ndgrad/datasets/<name>, default ~/.cache/..."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ndgrad" / "datasets" / name


def find_file(dirs: Sequence[Path], name: str) -> Path | None:
    """The first of ``<dir>/<name>`` or ``<dir>/<name>.gz`` that exists, over ``dirs``."""
    for d in dirs:
        for candidate in (d / name, d / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def download(mirrors: Sequence[str], filename: str, md5: str, dest_dir: Path,
             timeout: float = 60.0) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with the right MD5.

    Raises DatasetFileError listing every mirror's failure when none does.
    """
    import urllib.error
    import urllib.request
    from http.client import HTTPException

    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        print(f"Downloading {url} to {dest}", file=sys.stderr)
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=dest_dir)
        try:
            digest = hashlib.md5(usedforsecurity=False)
            request = urllib.request.Request(url, headers={"User-Agent": "ndgrad"})
            with os.fdopen(fd, "wb") as out, \
                    urllib.request.urlopen(request, timeout=timeout) as response:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != md5:
                errors.append(f"{url}: checksum mismatch (md5 {digest.hexdigest()}, "
                              f"expected {md5})")
                continue
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a cache is shared as usual
            os.replace(tmp, dest)
            return dest
        except (OSError, urllib.error.URLError, HTTPException, ValueError) as e:
            errors.append(f"{url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DatasetFileError("could not download " + filename + ":\n  " + "\n  ".join(errors))


def read_bytes(path: Path) -> bytes:
    """The file's contents, decompressed if it ends in .gz (a broken archive is an error)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetFileError(f"{path}: cannot read the file ({e}); it is corrupt or "
                               f"truncated") from e


def sha256(buf: bytes) -> str:
    return hashlib.sha256(buf).hexdigest()


def check_sha256(path: Path, buf: bytes, expected: str | None) -> None:
    """Compare the decompressed contents with a known digest, when one is known."""
    if expected is None:
        return
    got = sha256(buf)
    if got != expected:
        raise DatasetFileError(f"{path}: contents do not match the original file (sha256 of "
                               f"the decompressed data is {got}, expected {expected}); the file "
                               f"is corrupt or a different dataset")


def parse_idx(buf: bytes, path: Path, ndim: int, type_code: int = 0x08) -> np.ndarray:
    """Decode an IDX file (magic 0 0 type ndim, ndim big-endian int32 sizes, then the data),
    checking that it holds ``ndim`` dims of ``type_code`` (0x08: unsigned bytes)."""
    if len(buf) < 4:
        raise DatasetFileError(f"{path}: {len(buf)} bytes is too short for an IDX file")
    want = type_code << 8 | ndim
    if int.from_bytes(buf[:4], "big") != want:
        raise DatasetFileError(f"{path}: bad IDX magic number 0x{buf[:4].hex()} (expected "
                               f"0x{want:08x}: type 0x{type_code:02x}, {ndim} dims); the file "
                               f"is corrupt or not this kind of IDX file")
    nd = ndim
    header = 4 + 4 * nd
    if len(buf) < header:
        raise DatasetFileError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(buf[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    dtype = np.dtype(_IDX_DTYPES[type_code])  # KeyError only for a bad type_code argument
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(buf) != expected:
        raise DatasetFileError(f"{path}: size mismatch: dims {dims} need {expected} bytes, the "
                               f"file has {len(buf)}; it is truncated or corrupt")
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # native order, and writable (a copy)
