"""ndgrad.datasets.TinyShakespeare: the shipped copy, where it looks, the checksum, the split."""

import gzip
import hashlib

import numpy as np
import pytest

from ndgrad.datasets import DatasetFileError, TinyShakespeare, shakespeare


@pytest.fixture(scope="module")
def shipped_text():
    with gzip.open(shakespeare.shipped_dir() / "input.txt.gz", "rb") as f:
        return f.read()


def test_shipped_copy_is_the_corpus(shipped_text, monkeypatch):
    monkeypatch.delenv("NDGRAD_DATA", raising=False)
    ds = TinyShakespeare()
    assert ds.path == shakespeare.shipped_dir() / "input.txt.gz"
    assert hashlib.sha256(shipped_text).hexdigest() == TinyShakespeare.sha256
    assert len(ds.text) == 1_115_394 and ds.text.startswith("First Citizen:\nBefore we proceed")
    assert ds.vocab_size == 65 and ds.chars == sorted(set(ds.text))
    assert ds.chars[:3] == ["\n", " ", "!"]
    # nanoGPT's prepare.py: the first 90% trains, the rest validates, ids are sorted chars
    assert (len(ds.train_data), len(ds.val_data)) == (1_003_854, 111_540)
    ids = np.concatenate([ds.train_data.numpy(), ds.val_data.numpy()])
    assert ids.dtype == np.int64
    assert ds.decode(ids[:14]) == "First Citizen:"
    assert ds.encode("First") == [ds.chars.index(c) for c in "First"]
    assert ds.decode(ds.val_data[:20]) == ds.text[1_003_854:1_003_874]
    assert "TinyShakespeare" in repr(ds) and "65 characters" in repr(ds)


def test_unknown_character_is_a_clear_error():
    ds = TinyShakespeare()
    with pytest.raises(ValueError, match="character '\\\\t' is not in Tiny Shakespeare's "
                                         "vocabulary of 65 characters"):
        ds.encode("a\tb")


@pytest.mark.parametrize("layout", ["tinyshakespeare/input.txt.gz",
                                    "shakespeare_char/input.txt", "input.txt"])
def test_data_dir_comes_first(tmp_path, shipped_text, layout, monkeypatch):
    path = tmp_path / layout
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout.endswith(".gz"):
        path.write_bytes(gzip.compress(shipped_text))
    else:
        path.write_bytes(shipped_text)
    assert TinyShakespeare(root=tmp_path).path == path
    monkeypatch.setenv("NDGRAD_DATA", str(tmp_path))
    assert TinyShakespeare().path == path


def test_a_different_text_is_refused(tmp_path, shipped_text):
    (tmp_path / "input.txt").write_bytes(shipped_text[:-1])  # one character short
    with pytest.raises(DatasetFileError, match="contents do not match the original file"):
        TinyShakespeare(root=tmp_path)


def test_not_found_anywhere(tmp_path, monkeypatch):
    """Without the shipped copy it downloads (here from a port nothing listens on), and says
    where it looked and how to supply the file."""
    monkeypatch.setattr(shakespeare, "shipped_dir", lambda: tmp_path / "not-shipped")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(TinyShakespeare, "url", "http://127.0.0.1:9/")
    with pytest.raises(DatasetFileError, match="(?s)input.txt\\[.gz\\] not found.*"
                                               "not-shipped.*could not download.*NDGRAD_DATA"):
        TinyShakespeare(root=tmp_path / "empty")
    with pytest.raises(DatasetFileError, match="download=False"):
        TinyShakespeare(root=tmp_path / "empty", download=False)
    assert not (tmp_path / "cache" / "ndgrad" / "datasets" / "tinyshakespeare" /
                "input.txt").exists()


def test_download_is_checked(tmp_path, shipped_text, monkeypatch):
    """A file served from a local HTTP server lands in the cache only if its MD5 matches."""
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "input.txt").write_bytes(shipped_text)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(shakespeare, "shipped_dir", lambda: tmp_path / "not-shipped")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        monkeypatch.setattr(TinyShakespeare, "url", f"http://127.0.0.1:{server.server_port}/")
        ds = TinyShakespeare(root=tmp_path / "empty")
        assert ds.path == tmp_path / "cache" / "ndgrad" / "datasets" / "tinyshakespeare" / \
            "input.txt"
        assert len(ds.text) == 1_115_394
        ds.path.unlink()
        (served / "input.txt").write_bytes(shipped_text.replace(b"Citizen", b"citizen"))
        with pytest.raises(DatasetFileError, match="checksum mismatch"):
            TinyShakespeare(root=tmp_path / "empty")
        assert not ds.path.exists()
    finally:
        server.shutdown()
        server.server_close()
