"""ndgrad.datasets: MNIST from the shared data, the layouts searched, strict parsing, and
downloads (from a local HTTP server: the machine has no internet)."""

import gzip
import hashlib
import http.server
import os
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import ndgrad
from ndgrad.datasets import MNIST, DatasetFileError, FashionMNIST, _files
from ndgrad.utils.data import DataLoader

SHARED_MNIST = Path(os.environ.get("NDGRAD_DATA", "/nonexistent")) / "mnist"
needs_mnist = pytest.mark.skipif(not (SHARED_MNIST / "t10k-labels-idx1-ubyte.gz").is_file(),
                                 reason="the shared MNIST files are not available")
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def fake_split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n, dtype=np.uint8))


def write_split(folder: Path, prefix: str = "t10k", n: int = 5, gz: bool = False,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Write fake images/labels IDX files for one split into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = fake_split(n, seed)
    for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
        path = folder / f"{prefix}-{kind}-ubyte"
        data = idx_bytes(arr)
        if gz:
            Path(f"{path}.gz").write_bytes(gzip.compress(data))
        else:
            path.write_bytes(data)
    return images, labels


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No shared data (NDGRAD_DATA is an empty tmp/data), an empty cache, no shipped copy, and
    no checksum table for the fake files."""
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(MNIST, "bundled_dir", tmp_path / "bundled")
    monkeypatch.setattr(MNIST, "raw_sha256", {})
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens on 9
    return tmp_path


CACHE = Path("cache", "ndgrad", "datasets", "mnist")


# -- the real data ---------------------------------------------------------------------------
@needs_mnist
def test_real_mnist_test_split():
    ds = MNIST(train=False)
    assert len(ds) == 10000
    assert ds.data.dtype == ndgrad.uint8 and tuple(ds.data.shape) == (10000, 28, 28)
    assert ds.targets.dtype == ndgrad.int64
    assert np.bincount(ds.targets.numpy()).tolist() == TEST_COUNTS
    img, label = ds[0]
    assert label == 7 and isinstance(label, int)  # the first test digit is a 7
    assert img.dtype == ndgrad.float32 and tuple(img.shape) == (1, 28, 28)
    assert img.numpy().min() == 0.0 and img.numpy().max() == 1.0
    np.testing.assert_array_equal(img.numpy()[0], ds.data.numpy()[0] / np.float32(255))
    assert "Number of datapoints: 10000" in repr(ds) and "Split: Test" in repr(ds)


@needs_mnist
def test_real_mnist_batches_equal_items():
    ds = MNIST(train=False)
    x, y = next(iter(DataLoader(ds, batch_size=16)))
    assert tuple(x.shape) == (16, 1, 28, 28) and x.dtype == ndgrad.float32
    assert y.dtype == ndgrad.int64
    for i in (0, 7, 15):
        np.testing.assert_array_equal(x.numpy()[i], ds[i][0].numpy())
        assert y[i].item() == ds[i][1]


@needs_mnist
def test_transforms_are_applied():
    ds = MNIST(train=False, transform=lambda x: (x - 0.1307) / 0.3081,
               target_transform=lambda t: t * 10)
    img, label = ds[0]
    assert label == 70
    np.testing.assert_allclose(img.numpy(), (MNIST(train=False)[0][0].numpy() - 0.1307) / 0.3081,
                               rtol=1e-6)
    x, y = next(iter(DataLoader(ds, batch_size=4)))  # item by item, then collated
    assert tuple(x.shape) == (4, 1, 28, 28) and y.tolist()[0] == 70


def test_subclass_items_reach_the_loader(isolated):
    # DataLoader builds plain MNIST batches from the arrays; a subclass's __getitem__ is used
    images, labels = write_split(isolated / "data" / "mnist", n=6)

    class Inverted(MNIST):
        def __getitem__(self, index):
            img, label = super().__getitem__(index)
            return 1 - img, label

    x, y = next(iter(DataLoader(Inverted(train=False), batch_size=6)))
    np.testing.assert_allclose(x.numpy()[:, 0], 1 - images / np.float32(255), rtol=1e-6)
    assert y.tolist() == labels.tolist()


@needs_mnist
def test_modified_original_is_rejected(tmp_path):
    raw = gzip.decompress((SHARED_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes())
    write_split(tmp_path / "mnist")  # fake images; labels replaced below by a tampered copy
    tampered = bytearray(raw)
    tampered[100] = (tampered[100] + 1) % 10  # still a valid IDX file, one label changed
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(bytes(tampered))
    with pytest.raises(DatasetFileError, match="do not match the original file"):
        MNIST(root=tmp_path, train=False)


# -- where files are found -------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["mnist", "MNIST/raw", "."])
@pytest.mark.parametrize("gz", [False, True])
def test_layouts(isolated, layout, gz):
    images, labels = write_split(isolated / "data" / layout, gz=gz)
    ds = MNIST(train=False)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.targets.tolist() == labels.tolist()
    assert ds.files[0].name == "t10k-images-idx3-ubyte" + (".gz" if gz else "")


def test_root_overrides_env(isolated):
    write_split(isolated / "data" / "mnist", seed=1)
    _, labels = write_split(isolated / "other" / "MNIST" / "raw", seed=2)
    assert MNIST(root=isolated / "other", train=False).targets.tolist() == labels.tolist()
    assert MNIST(root=str(isolated / "other"), train=False).train is False


def test_missing_files_message(isolated):
    (isolated / "data").mkdir()
    with pytest.raises(DatasetFileError) as info:
        MNIST(train=True, download=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte[.gz]" in msg
    assert str(isolated / "data" / "MNIST" / "raw") in msg
    assert "NDGRAD_DATA environment variable names it: only there" in msg
    assert f"download=True would fetch them into {isolated / 'data' / 'MNIST' / 'raw'}" in msg
    assert str(isolated / CACHE) not in msg and "root=" in msg
    # with no data directory: the shipped copy, then the cache
    os.environ.pop("NDGRAD_DATA")
    with pytest.raises(DatasetFileError) as info:
        MNIST(train=True, download=False)
    msg = str(info.value)
    assert str(isolated / "bundled") in msg and str(isolated / CACHE) in msg
    assert "no root= was given and NDGRAD_DATA is not set" in msg


def test_an_explicit_directory_is_the_only_place(isolated, monkeypatch):
    # files in the cache (and in the shipped copy) do not stand in for an explicit directory
    # that lacks them, and a download goes into that directory, as torchvision's root= does
    write_split(isolated / CACHE, seed=1)
    write_split(isolated / "bundled", seed=2)
    downloads = []
    monkeypatch.setattr(_files, "download", lambda mirrors, name, md5, dest, **kw:
                        downloads.append((name, dest)) or (_ for _ in ()).throw(
                            DatasetFileError(f"could not download {name}: offline")))
    for kwargs in ({"root": isolated / "empty"}, {}):  # root=, or NDGRAD_DATA
        expected = isolated / ("empty" if kwargs else "data") / "MNIST" / "raw"
        with pytest.raises(DatasetFileError, match="not found"):
            MNIST(train=False, download=False, **kwargs)
        assert downloads == []
        with pytest.raises(DatasetFileError, match="offline"):
            MNIST(train=False, **kwargs)
        assert downloads == [("t10k-images-idx3-ubyte.gz", expected)]
        downloads.clear()
    # without a data directory the shipped copy comes first, then the cache
    monkeypatch.delenv("NDGRAD_DATA")
    assert MNIST(train=False).files[0].parent == isolated / "bundled"
    monkeypatch.setattr(MNIST, "bundled_dir", None)
    assert MNIST(train=False).files[0].parent == isolated / CACHE


# -- strict parsing --------------------------------------------------------------------------
def corrupt(folder: Path, how: str) -> None:
    path = folder / "t10k-images-idx3-ubyte"
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[:-3])
    elif how == "magic":
        path.write_bytes(b"\x00\x00\x09\x03" + data[4:])
    elif how == "dims":
        path.write_bytes(data[:4] + (6).to_bytes(4, "big") + data[8:])
    elif how == "gz":
        Path(f"{path}.gz").write_bytes(gzip.compress(data)[:-20])  # cut-off archive
        path.unlink()
    elif how == "size28":
        images = np.zeros((5, 27, 27), np.uint8)
        path.write_bytes(idx_bytes(images))
    elif how == "labels":
        (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(5, 12, np.uint8)))
    elif how == "count":
        (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))


@pytest.mark.parametrize("how,message", [
    ("truncated", "size mismatch.*truncated"), ("magic", "bad IDX magic number 0x00000903"),
    ("dims", "size mismatch"), ("gz", "corrupt or truncated"), ("size28", "expected 28x28"),
    ("labels", "label 12 is out of range"), ("count", "has 4 labels but"),
])
def test_corrupt_files_are_errors(isolated, how, message):
    folder = isolated / "data" / "mnist"
    write_split(folder)
    corrupt(folder, how)
    with pytest.raises(DatasetFileError, match=message) as info:
        MNIST(train=False, download=False)
    assert "t10k" in str(info.value)


# -- downloads -------------------------------------------------------------------------------
class Server:
    """A local HTTP server for ``folder``; ``lying`` files announce more bytes than they send."""

    def __init__(self, folder: Path, lying: tuple[str, ...] = ()):
        served = folder

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(served), **kw)

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                name = self.path.lstrip("/").split("/")[-1]
                if name in lying:
                    body = (served / name).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body) + 1000))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    return
                super().do_GET()

        server = self
        self.requests: list[str] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mirror(isolated, monkeypatch):
    """Fake gz files served on 127.0.0.1, with MNIST's mirror list and MD5s pointing at them."""
    folder = isolated / "served"
    images, labels = write_split(folder, gz=True, n=7)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    monkeypatch.setattr(MNIST, "resources", [(n, md5.get(n, "0" * 32)) for n, _ in
                                             MNIST.resources])
    servers = []

    def start(**kw):
        s = Server(folder, **kw)
        servers.append(s)
        return s

    yield start, images, labels
    for s in servers:
        s.close()


def downloaded(isolated: Path) -> list[str]:
    """The files in the cache and the data directory."""
    return sorted(p.name for d in ("cache", "data") for p in (isolated / d).rglob("*")
                  if p.is_file())


def test_download_verifies_and_caches(isolated, mirror, monkeypatch):
    start, images, labels = mirror
    server = start()
    # the first mirror 404s, the second one serves the files
    monkeypatch.setattr(MNIST, "mirrors", [server.url + "missing/", server.url])
    monkeypatch.delenv("NDGRAD_DATA")  # no data directory: downloads go to the cache
    ds = MNIST(train=False)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.targets.tolist() == labels.tolist()
    assert downloaded(isolated) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert ds.files[0].parent == isolated / CACHE
    n = len(server.requests)
    MNIST(train=False)  # the second time comes from the cache
    assert len(server.requests) == n


def test_download_into_the_data_directory(isolated, mirror, monkeypatch):
    start, images, _ = mirror
    monkeypatch.setattr(MNIST, "mirrors", [start().url])
    ds = MNIST(root=isolated / "mine", train=False)
    assert ds.files[0].parent == isolated / "mine" / "MNIST" / "raw"
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert downloaded(isolated) == []  # nothing in the cache or in NDGRAD_DATA


def test_download_checksum_mismatch_leaves_nothing(isolated, mirror, monkeypatch):
    start, _, _ = mirror
    server = start()
    monkeypatch.setattr(MNIST, "mirrors", [server.url])
    monkeypatch.setattr(MNIST, "resources", [(n, "0" * 32) for n, _ in MNIST.resources])
    with pytest.raises(DatasetFileError, match="checksum mismatch") as info:
        MNIST(train=False)
    assert "NDGRAD_DATA" in str(info.value)
    assert downloaded(isolated) == []


def test_interrupted_download_leaves_nothing(isolated, mirror, monkeypatch):
    start, _, _ = mirror
    server = start(lying=("t10k-labels-idx1-ubyte.gz",))
    monkeypatch.setattr(MNIST, "mirrors", [server.url])
    with pytest.raises(DatasetFileError, match="could not download t10k-labels"):
        MNIST(train=False)
    # the images arrived whole and verified; the cut-off labels file left no trace
    assert downloaded(isolated) == ["t10k-images-idx3-ubyte.gz"]


def test_no_network_error(isolated):
    with pytest.raises(DatasetFileError) as info:
        MNIST(train=False)
    msg = str(info.value)
    assert "could not download t10k-images-idx3-ubyte.gz" in msg and "127.0.0.1:9" in msg
    assert downloaded(isolated) == []


# -- the copy shipped inside the package -----------------------------------------------------
def test_shipped_mnist_is_found_first(tmp_path, monkeypatch):
    monkeypatch.delenv("NDGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # offline
    folder = Path(ndgrad.datasets.__file__).parent / "data" / "mnist"
    assert MNIST.bundled_dir == folder
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    ds = MNIST(train=False)  # the decompressed files are checked against the originals
    assert ds.files[0].parent == folder and len(ds) == 10000
    assert np.bincount(ds.targets.numpy()).tolist() == TEST_COUNTS
    assert not (tmp_path / "cache").exists()


@pytest.mark.filterwarnings("ignore:`project.license` as a TOML table")  # setuptools 77+
def test_the_wheel_ships_mnist(tmp_path):
    # what `pip install .` installs: build the wheel from a copy of the project
    build_meta = pytest.importorskip("setuptools.build_meta")
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    shutil.copytree(root / "ndgrad", src / "ndgrad",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    cwd = os.getcwd()
    os.chdir(src)
    try:
        wheel = build_meta.build_wheel(str(tmp_path))
    finally:
        os.chdir(cwd)
    names = zipfile.ZipFile(tmp_path / wheel).namelist()
    for name in [r[0] for r in MNIST.resources] + ["SHA256SUMS"]:
        assert f"ndgrad/datasets/data/mnist/{name}" in names


# -- Fashion-MNIST ---------------------------------------------------------------------------
def test_fashion_mnist(isolated):
    _, labels = write_split(isolated / "data" / "fashion-mnist", prefix="train", gz=True)
    ds = FashionMNIST()
    assert ds.targets.tolist() == labels.tolist() and ds.classes[9] == "Ankle boot"
    assert ds.class_to_idx["Bag"] == 8
    assert FashionMNIST.resources[0] == ("train-images-idx3-ubyte.gz",
                                         "8d4fb7e6c68d591d4c3dfef9ec88bf0d")


@needs_mnist
def test_fashion_mnist_refuses_mnist_files(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetFileError, match="is an MNIST file, not Fashion-MNIST"):
        FashionMNIST(root=SHARED_MNIST, train=False, download=False)
