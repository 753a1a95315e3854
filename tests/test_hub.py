"""ndgrad.hub against torch.hub: the same checkpoint downloaded from a local HTTP server into
the cache, hash checks, the cache reused, and a local hubconf.py's entry points."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import ndgrad


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, served directory, paths requested) of an HTTP server on localhost."""
    served = tmp_path / "www"
    served.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            requests.append(self.path)
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)  # (shutdown waits up to one poll interval)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served, requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _checkpoint(served: Path) -> tuple[str, dict[str, torch.Tensor]]:
    """A torch checkpoint named as torchvision's: <name>-<sha256 prefix>.pth."""
    state = {"weight": torch.randn(3, 4, dtype=torch.float64), "bias": torch.arange(3)}
    raw = served / "raw.pth"
    torch.save(state, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    name = f"net-{digest[:8]}.pth"
    raw.rename(served / name)
    return name, state


def test_load_state_dict_from_url_downloads_once(server: tuple[str, Path, list[str]],
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url, served, requests = server
    name, state = _checkpoint(served)
    monkeypatch.setenv("NDGRAD_HOME", str(tmp_path / "home"))
    assert ndgrad.hub.get_dir() == str(tmp_path / "home" / "hub")
    got = ndgrad.hub.load_state_dict_from_url(f"{url}/{name}", progress=False,
                                              check_hash=True)
    for key, value in state.items():
        np.testing.assert_array_equal(got[key].numpy(), value.numpy())
    cached = tmp_path / "home" / "hub" / "checkpoints" / name
    assert cached.is_file() and requests == [f"/{name}"]
    ndgrad.hub.load_state_dict_from_url(f"{url}/{name}", progress=False)  # from the cache
    assert requests == [f"/{name}"]
    theirs = torch.hub.load_state_dict_from_url(f"{url}/{name}", model_dir=str(tmp_path / "t"),
                                                progress=False, check_hash=True)
    assert sorted(theirs) == sorted(got)


def test_hash_mismatch_leaves_nothing_behind(server: tuple[str, Path, list[str]],
                                             tmp_path: Path) -> None:
    url, served, _ = server
    name, _ = _checkpoint(served)
    bad = "net-00000000.pth"
    (served / name).rename(served / bad)
    for lib in (torch, ndgrad):
        model_dir = tmp_path / lib.__name__
        with pytest.raises(RuntimeError, match='invalid hash value \\(expected "00000000"'):
            lib.hub.load_state_dict_from_url(f"{url}/{bad}", model_dir=str(model_dir),
                                             progress=False, check_hash=True)
        assert list(model_dir.iterdir()) == []  # no partial file, no cached file


def test_download_url_to_file_and_set_dir(server: tuple[str, Path, list[str]],
                                          tmp_path: Path) -> None:
    url, served, _ = server
    (served / "data.bin").write_bytes(b"x" * 300_000)
    dst = tmp_path / "copy.bin"
    ndgrad.hub.download_url_to_file(f"{url}/data.bin", str(dst), progress=True)
    assert dst.read_bytes() == b"x" * 300_000
    with pytest.raises(Exception, match="404"):
        ndgrad.hub.download_url_to_file(f"{url}/missing.bin", str(tmp_path / "m"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "www"]
    old = ndgrad.hub._hub_dir
    try:
        ndgrad.hub.set_dir(tmp_path / "elsewhere")
        assert ndgrad.hub.get_dir() == str(tmp_path / "elsewhere")
    finally:
        ndgrad.hub._hub_dir = old


def test_local_hubconf(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "nets.py").write_text("def width():\n    return 5\n")
    (repo / "hubconf.py").write_text(
        "dependencies = ['numpy']\n"
        "from nets import width\n"
        "def mlp(hidden=3, *, out=2):\n"
        "    '''A small MLP.'''\n"
        "    import ndgrad\n"
        "    return ndgrad.nn.Sequential(ndgrad.nn.Linear(width(), hidden),\n"
        "                                ndgrad.nn.Linear(hidden, out))\n"
        "not_callable = 3\n")
    model = ndgrad.hub.load(str(repo), "mlp", 4, source="local", out=1)
    assert model(ndgrad.ones(2, 5)).shape == (2, 1)
    with pytest.raises(RuntimeError, match="Cannot find callable not_callable in hubconf"):
        ndgrad.hub.load(str(repo), "not_callable", source="local")
    with pytest.raises(ValueError, match='Unknown source: "svn"'):
        ndgrad.hub.load(str(repo), "mlp", source="svn")
    (repo / "hubconf.py").write_text("dependencies = ['no_such_package_xyz']\n"
                                     "def f():\n    return 1\n")
    with pytest.raises(RuntimeError, match="Missing dependencies: no_such_package_xyz"):
        ndgrad.hub.load(str(repo), "f", source="local")
    with pytest.raises(RuntimeError, match="does not fetch GitHub repositories"):
        ndgrad.hub.load("pytorch/vision", "resnet18")
    with pytest.raises(RuntimeError, match="does not fetch GitHub repositories"):
        ndgrad.hub.list("pytorch/vision")


def test_collect_env_reports_versions() -> None:
    """python -m ndgrad.utils.collect_env (in this file: both are for bug reports and setup)."""
    import subprocess
    import sys

    from ndgrad.utils import collect_env
    env = collect_env.get_env_info()
    assert env.ndgrad_version == ndgrad.__version__ and env.numpy_version == np.__version__
    assert env.packages["torch"] == torch.__version__.split("+")[0] or \
        env.packages["torch"] == torch.__version__
    out = subprocess.run([sys.executable, "-m", "ndgrad.utils.collect_env"], check=True,
                         capture_output=True, text=True).stdout
    assert f"ndgrad version: {ndgrad.__version__}" in out and "NumPy's BLAS:" in out
