"""MNIST and Fashion-MNIST, like torchvision.datasets, without PIL.

Where the files are looked for (raw ``train-images-idx3-ubyte`` or ``.gz`` each): with a data
directory ``<d>`` (``root``, else the ``NDGRAD_DATA`` environment variable) in ``<d>/mnist/``,
``<d>/MNIST/raw/`` (torchvision's layout) and ``<d>/`` itself, and nowhere else: an explicit
directory is where the data is, as torchvision's ``root`` is, and ``download=True`` fetches
missing files into ``<d>/MNIST/raw/``. Without one, in the copy of MNIST shipped inside this
package (``ndgrad/datasets/data/mnist``, 11 MB), then in the download cache
(``$XDG_CACHE_HOME/ndgrad/datasets/mnist``, default ``~/.cache/...``), where missing files are
downloaded. Downloads come from the public mirrors and are checked against the published MD5
of the .gz files. Every file is parsed strictly (IDX magic number, dims, size), and MNIST's
decompressed contents are also compared with the SHA-256 of the original files.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ndgrad.datasets import _files
from ndgrad.datasets._files import DatasetFileError
from ndgrad.tensor import Tensor
from ndgrad.utils.data.dataset import Dataset, _items_are_plain


class MNIST(Dataset[tuple[Any, Any]]):
    """The MNIST digits: 60,000 training and 10,000 test images of 28x28 grey pixels.

    ``data`` is a uint8 Tensor (N, 28, 28) and ``targets`` an int64 Tensor (N,). Item ``i`` is
    ``(image, label)`` with ``image`` a float32 Tensor (1, 28, 28) in [0, 1] (what
    torchvision's ``ToTensor()`` gives; there is no PIL here) passed through ``transform`` if
    given, and ``label`` an int passed through ``target_transform``. Without transforms, the
    DataLoader builds whole batches from the arrays at once.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    # The .gz files as published on the mirrors, with their MD5 (torchvision's list).
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    # SHA-256 of the decompressed originals: checks local copies however they were compressed.
    raw_sha256: dict[str, str] = {
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    subdirs = ("mnist", "MNIST/raw")  # layouts searched under a data directory; downloads
    # go to the last one (torchvision's)
    cache_name = "mnist"
    bundled_dir: Path | None = Path(__file__).resolve().parent / "data" / "mnist"

    def __init__(self, root: str | os.PathLike[str] | None = None, train: bool = True,
                 transform: Callable[[Tensor], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None,
                 download: bool = True) -> None:
        self.root = root
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        prefix = "train" if train else "t10k"
        images_path, labels_path = self._locate(
            [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"], download)
        images = self._read(images_path, ndim=3)
        labels = self._read(labels_path, ndim=1)
        if images.shape[1:] != (28, 28):
            raise DatasetFileError(f"{images_path}: images are {images.shape[1]}x"
                                   f"{images.shape[2]}, expected 28x28")
        if len(labels) != len(images):
            raise DatasetFileError(f"{labels_path} has {len(labels)} labels but {images_path} "
                                   f"has {len(images)} images")
        if len(labels) and int(labels.max()) >= len(self.classes):
            raise DatasetFileError(f"{labels_path}: label {int(labels.max())} is out of range "
                                   f"for {len(self.classes)} classes")
        self.files = (images_path, labels_path)
        self.data = Tensor._make(images)  # uint8 (N, 28, 28)
        self.targets = Tensor._make(labels.astype(np.int64))  # int64 (N,)

    # -- finding the files --------------------------------------------------------------------
    def _data_dir(self) -> Path | None:
        """The explicit data directory: ``root``, else $NDGRAD_DATA, else None."""
        base = self.root if self.root is not None else os.environ.get("NDGRAD_DATA")
        return Path(base).expanduser() if base else None

    def _search_dirs(self) -> tuple[list[Path], Path]:
        """(where to look, in order; where downloads go)."""
        base = self._data_dir()
        if base is not None:
            return [base / s for s in self.subdirs] + [base], base / self.subdirs[-1]
        cache = _files.cache_dir(self.cache_name)
        return [d for d in (self.bundled_dir, cache) if d is not None], cache

    def _locate(self, names: list[str], download: bool) -> list[Path]:
        dirs, download_dir = self._search_dirs()
        found = [_files.find_file(dirs, n) for n in names]
        failures = []
        if download and any(f is None for f in found):
            md5 = dict(self.resources)
            for i, name in enumerate(names):
                if found[i] is None:
                    try:
                        found[i] = _files.download(self.mirrors, f"{name}.gz", md5[f"{name}.gz"],
                                                   download_dir)
                    except DatasetFileError as e:
                        failures.append(str(e))
                        break  # the dataset cannot load without it: don't try the rest
        missing = [n for n, f in zip(names, found) if f is None]
        if missing:
            where = "\n  ".join(str(d) for d in dirs)
            if self.root is not None:
                where += "\n(root= was given: only there)"
            elif os.environ.get("NDGRAD_DATA"):
                where += "\n(the NDGRAD_DATA environment variable names it: only there)"
            else:
                where += "\n(no root= was given and NDGRAD_DATA is not set)"
            tried = ("\n" + "\n".join(failures)) if failures else (
                f"\n(download=False: download=True would fetch them into {download_dir})"
                if not download else "")
            raise DatasetFileError(
                f"{type(self).__name__}: {', '.join(n + '[.gz]' for n in missing)} not found. "
                f"Looked in:\n  {where}{tried}\nTo supply the files, put the IDX files (raw or "
                f".gz) in a directory (directly, or in {' or '.join(self.subdirs)} under it) and "
                f"set the NDGRAD_DATA environment variable to it or pass root=<dir>.")
        return found  # type: ignore[return-value]

    def _read(self, path: Path, ndim: int) -> np.ndarray:
        buf = _files.read_bytes(path)
        name = path.name.removesuffix(".gz")
        _files.check_sha256(path, buf, self.raw_sha256.get(name))
        return _files.parse_idx(buf, path, ndim)

    # -- the Dataset protocol -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.targets._data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = operator.index(index)  # one item; batches come from DataLoader's fast path
        img: Any = Tensor._make(_to_float(self.data._data[index])[None])  # (1, 28, 28)
        target: Any = int(self.targets._data[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _get_batch(self, indices: np.ndarray) -> list[Tensor] | None:
        """[images (B, 1, 28, 28) float32, labels (B,) int64]; None with transforms or in a
        subclass with its own ``__getitem__``, whose items the DataLoader must ask for."""
        if self.transform is not None or self.target_transform is not None or \
                not _items_are_plain(self, MNIST):
            return None
        images = _to_float(self.data._data[indices])[:, None]
        return [Tensor._make(images), Tensor._make(self.targets._data[indices])]

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.files[0].parent}",
                 f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


def _to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1], rounded as torch's ``x.float().div(255)``."""
    return np.divide(pixels, np.float32(255), dtype=np.float32)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the MNIST format and sizes, ten kinds of clothing."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/"
               "fashion/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    raw_sha256: dict[str, str] = {}  # not known here: the IDX structure is still checked
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    subdirs = ("fashion-mnist", "FashionMNIST/raw")
    cache_name = "fashion-mnist"
    bundled_dir = None  # only MNIST ships with ndgrad

    def _read(self, path: Path, ndim: int) -> np.ndarray:
        # Same file names as MNIST: refuse MNIST's files found in a shared directory.
        buf = _files.read_bytes(path)
        if _files.sha256(buf) in MNIST.raw_sha256.values():
            raise DatasetFileError(f"{path} is an MNIST file, not Fashion-MNIST; keep "
                                   f"Fashion-MNIST in its own directory (e.g. <dir>/"
                                   f"fashion-mnist/) and point root= or NDGRAD_DATA at <dir>")
        return _files.parse_idx(buf, path, ndim)
