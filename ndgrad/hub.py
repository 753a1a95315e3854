"""ndgrad.hub: torch.hub's download-and-cache of pretrained weights, and models from a local
``hubconf.py``.

``load_state_dict_from_url(url)`` downloads a checkpoint once into ``get_dir()/checkpoints``
(a temporary file, renamed into place when complete, its SHA256 checked against the hash in the
file name with ``check_hash=True``) and reads it with ``ndgrad.load``, which never runs code
from a file. The cache is ``$NDGRAD_HOME/hub``, ``NDGRAD_HOME`` defaulting to
``$XDG_CACHE_HOME/ndgrad`` (``~/.cache/ndgrad``), or what ``set_dir`` says.

``load(dir, name, source="local")`` imports ``dir/hubconf.py`` and calls its entry point, as
torch's. Repositories on GitHub are not fetched: their hubconf.py files import torch, not
ndgrad; clone one and pass its directory with ``source="local"``.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from urllib.parse import urlparse
from urllib.request import Request, urlopen

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load",
           "load_state_dict_from_url", "set_dir"]

HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")  # resnet18-5c106cde.pth: the SHA256 prefix
ENV_NDGRAD_HOME = "NDGRAD_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
VAR_DEPENDENCY = "dependencies"
MODULE_HUBCONF = "hubconf.py"
READ_DATA_CHUNK = 128 * 1024

_hub_dir: str | None = None


def get_dir() -> str:
    """The cache directory: ``set_dir``'s, else ``$NDGRAD_HOME/hub``."""
    if _hub_dir is not None:
        return _hub_dir
    home = os.getenv(ENV_NDGRAD_HOME, os.path.join(
        os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "ndgrad"))
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d: str | os.PathLike[str]) -> None:
    """Use ``d`` as the cache directory from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Download ``url`` to the path ``dst``: into a temporary file beside it, moved into place
    only when complete (and, with ``hash_prefix``, when its SHA256 starts with it), so an
    interrupted or corrupt download never replaces ``dst``. ``progress`` shows a tqdm bar on
    stderr when tqdm is installed."""
    dst = os.path.expanduser(dst)
    tmp = f"{dst}.{uuid.uuid4().hex}.partial"
    sha256 = hashlib.sha256() if hash_prefix is not None else None
    try:
        with open(tmp, "xb") as f, urlopen(Request(url, headers={"User-Agent": "ndgrad.hub"})) \
                as response:
            length = response.headers.get("Content-Length")
            with _progress(int(length) if length else None, progress) as bar:
                while chunk := response.read(READ_DATA_CHUNK):
                    f.write(chunk)
                    if sha256 is not None:
                        sha256.update(chunk)
                    bar(len(chunk))
        if sha256 is not None and hash_prefix is not None:
            digest = sha256.hexdigest()
            if digest[:len(hash_prefix)] != hash_prefix:
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                   f'"{digest}")')
        shutil.move(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextmanager
def _progress(total: int | None, show: bool) -> Iterator[Any]:
    """A callable that advances a tqdm bar by n bytes (a no-op without tqdm or ``show``)."""
    try:
        from tqdm import tqdm
    except ImportError:
        show = False
    if not show:
        yield lambda n: None
        return
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024) as bar:
        yield bar.update


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location: Any = None,
                             progress: bool = True, check_hash: bool = False,
                             file_name: str | None = None,
                             weights_only: bool = False) -> dict[str, Any]:
    """The checkpoint at ``url``, downloaded into ``model_dir`` (default
    ``get_dir()/checkpoints``) unless a file of that name is already there, read with
    ``ndgrad.load`` (torch ``.pth``/``.pt`` files and safetensors; no code from the file runs,
    whatever ``weights_only`` says). ``check_hash``: the file name's ``-<hex>.`` part must
    begin the file's SHA256, as in torchvision's weight URLs."""
    from ndgrad.serialization import load as load_file
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        match = HASH_REGEX.search(filename) if check_hash else None
        download_url_to_file(url, cached_file, match.group(1) if match else None,
                             progress=progress)
    return load_file(cached_file, map_location=map_location,  # type: ignore[no-any-return]
                     weights_only=weights_only)


# -- entry points of a hubconf.py ----------------------------------------------------------------
def load(repo_or_dir: str, model: str, *args: Any, source: str = "github",
         trust_repo: Any = None, force_reload: bool = False, verbose: bool = True,
         skip_validation: bool = False, **kwargs: Any) -> Any:
    """``model(*args, **kwargs)``, the entry point of ``repo_or_dir/hubconf.py``, with
    ``source="local"`` (ndgrad does not fetch GitHub repositories: see the module docstring)."""
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        _no_github(repo_or_dir)
    with _hubconf(repo_or_dir) as module:
        return _entry(module, model)(*args, **kwargs)


def list(github: str, force_reload: bool = False, skip_validation: bool = False,  # noqa: A001
         trust_repo: Any = None, verbose: bool = True) -> builtins.list[str]:
    """torch.hub.list lists a GitHub repository's entry points; ndgrad does not fetch GitHub
    repositories, so this raises (a local directory's: ``dir(hubconf)``)."""
    _no_github(github)
    return []


def help(github: str, model: str, force_reload: bool = False,  # noqa: A001
         skip_validation: bool = False, trust_repo: Any = None) -> str:
    """torch.hub.help shows a GitHub entry point's docstring; raises here, as ``list``."""
    _no_github(github)
    return ""


def _no_github(repo: str) -> None:
    raise RuntimeError(f"ndgrad.hub does not fetch GitHub repositories ({repo!r}): their "
                       f"hubconf.py files import torch, not ndgrad. Clone the repository and "
                       f"call ndgrad.hub.load(<its directory>, <entry point>, "
                       f"source='local')")


@contextmanager
def _hubconf(directory: str) -> Iterator[ModuleType]:
    """``directory/hubconf.py`` imported, with ``directory`` on sys.path meanwhile (its
    entry points import their own modules)."""
    path = os.path.join(directory, MODULE_HUBCONF)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no {MODULE_HUBCONF} in {directory!r}")
    sys.path.insert(0, directory)
    try:
        spec = importlib.util.spec_from_file_location(MODULE_HUBCONF, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(directory)


def _entry(module: ModuleType, model: str) -> Any:
    """The callable ``model`` of a hubconf, after its ``dependencies`` are checked."""
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    missing = [name for name in getattr(module, VAR_DEPENDENCY, None) or []
               if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")
    func = getattr(module, model, None)
    if func is None or not callable(func):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return func
