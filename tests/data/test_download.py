"""Full-size data on request, against a local HTTP server on 127.0.0.1 serving generated IDX files.

No test reaches the network: the registry is pointed at the local server, and the cache at tmp_path.
Cases: a good download (then read from the cache, with no request), a corrupt one (refused, nothing
kept), an interrupted one, a server that is down, and files put in the cache by hand.
"""
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

import minigan as mg
import minigan.cli  # noqa: F401
from minigan.data import download


def _files(rng):
    """{file name: gzip'd IDX bytes} of a small MNIST-format data set: 30 train and 10 test images."""
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": (np.arange(30) % 10).astype(np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": np.arange(10).astype(np.uint8)}
    return arrays


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` ({name: bytes}); ``server.mode`` "good", "corrupt" or "cut" (half, then close)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        if self.server.mode == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 1])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if self.server.mode == "cut" else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local server of a generated 'mnist', the registry pointed at it, the cache in tmp_path/cache."""
    rng = np.random.default_rng(0)
    raw = _files(rng)
    files = {}
    for name, array in raw.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(exist_ok=True)
        mg.data.write_idx(path, array)
        files[name + ".gz"] = gzip.compress(path.read_bytes(), mtime=0)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.mode, httpd.requests, httpd.raw = files, "good", [], raw
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    sums = {name: "md5:" + hashlib.md5(body).hexdigest() for name, body in files.items()}
    monkeypatch.setitem(download.DATASETS, "mnist", download.DataSet("MNIST", (url,), sums))
    monkeypatch.setenv(download.ENV, str(tmp_path / "cache"))
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_a_good_download_is_cached_and_read_without_asking_again(server, tmp_path):
    images, labels = mg.data.load_mnist("mnist")
    assert images.shape == (30, 1, 28, 28) and np.array_equal(labels, np.arange(30) % 10)
    assert np.array_equal((images[:, 0] * 255).round().astype(np.uint8), server.raw["train-images-idx3-ubyte"])
    assert sorted(server.requests) == ["/train-images-idx3-ubyte.gz", "/train-labels-idx1-ubyte.gz"]
    test_images, _ = mg.data.load_mnist("mnist", split="test")
    assert test_images.shape == (10, 1, 28, 28) and len(server.requests) == 4
    mg.data.load_mnist("mnist")
    assert len(server.requests) == 4                                   # from the cache
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(server.files)


@pytest.mark.parametrize("mode", ["corrupt", "cut"])
def test_a_corrupt_or_interrupted_download_is_refused_and_nothing_is_kept(server, tmp_path, mode):
    server.mode = mode
    with pytest.raises(download.DownloadError) as error:
        mg.data.load_mnist("mnist")
    message = str(error.value)
    assert "MNIST could not be fetched" in message and "Nothing partial was kept" in message
    assert ("checksum is wrong" in message) == (mode == "corrupt")
    assert str(tmp_path / "cache" / "mnist") in message and "train-images-idx3-ubyte.gz" in message
    cache = tmp_path / "cache" / "mnist"
    assert not cache.exists() or list(cache.iterdir()) == []
    server.mode = "good"                                               # the next try fetches it whole
    assert mg.data.load_mnist("mnist")[0].shape == (30, 1, 28, 28)


def test_a_server_that_is_down_says_where_to_put_the_files_by_hand(server, tmp_path, capsys):
    server.shutdown()
    server.server_close()
    assert mg.cli.main(["train", "--data", "mnist", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minigan train: MNIST could not be fetched")
    assert f"by hand into {tmp_path / 'cache' / 'mnist'}" in err[0] and "minigan data, with no name, lists" in err[0]
    assert mg.cli.main(["data"]) == 0 and "missing" in capsys.readouterr().out         # which works offline
    assert not (tmp_path / "run").exists()


def test_files_put_in_the_cache_by_hand_are_checked_and_used(server, tmp_path):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    for name, body in server.files.items():
        (cache / name).write_bytes(body)
    assert mg.data.load_mnist("mnist")[0].shape == (30, 1, 28, 28) and server.requests == []
    (cache / "train-labels-idx1-ubyte.gz").write_bytes(b"not these")      # a wrong file is fetched again
    assert mg.data.load_mnist("mnist")[1].shape == (30,) and server.requests == ["/train-labels-idx1-ubyte.gz"]


def test_minigan_data_lists_and_fetches(server, tmp_path, capsys):
    assert mg.cli.main(["data"]) == 0
    listing = capsys.readouterr().out
    assert f"mnist (MNIST): {tmp_path / 'cache' / 'mnist'}" in listing and "missing" in listing
    assert "fashion-mnist (Fashion-MNIST)" in listing
    assert mg.cli.main(["data", "mnist"]) == 0
    fetched = capsys.readouterr().out
    assert fetched.count("cached") == 4 and "missing" not in fetched


def test_a_folder_named_like_a_data_set_is_given_as_a_path(server, tmp_path, monkeypatch):
    assert download.is_name("mnist") and not download.is_name("./mnist") and not download.is_name(None)
    monkeypatch.chdir(tmp_path / "src")
    images, _ = mg.data.load_mnist(".")
    assert images.shape == (30, 1, 28, 28) and server.requests == []
