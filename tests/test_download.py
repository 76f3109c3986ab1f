"""Pinned downloads: hash checks, caching, and clean failure, against a loopback server."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inkface.cli.main import main
from inkface.core import download
from inkface.core.download import RemoteFile, cached_path, fetch
from inkface.core.errors import InkfaceError
from inkface.faces.detection import weights
from inkface.faces.detection.weights import KNOWN_MODELS, fetch_model, model_status

PAYLOAD = bytes(range(256)) * 1000  # 256 kB, several read chunks


class _Server:
    """A loopback HTTP server: ``/good`` serves PAYLOAD, ``/cut`` promises more bytes than
    it sends, ``/trickle`` sends one body byte every 20 ms, ``/slow-headers`` one header
    byte every 20 ms, ``/endless`` an endless body without a length; anything else is a
    404. Counts the requests it answers; ``stop`` ends the endless answers."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.stop = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                try:
                    self._answer()
                except OSError:  # the client hung up, as it should
                    self.close_connection = True

            def _drip(self, data: bytes) -> None:
                # At most 15 s: a client without a deadline fails the test, not hangs it.
                end = time.monotonic() + 15
                while not owner.stop.is_set() and time.monotonic() < end:
                    self.wfile.write(data)
                    self.wfile.flush()
                    if len(data) < 100:
                        time.sleep(0.02)

            def _answer(self) -> None:
                if self.path == "/trickle":
                    self.send_response(200)
                    self.end_headers()
                    self._drip(b"x")
                elif self.path == "/slow-headers":
                    self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
                    self._drip(b"a")
                elif self.path == "/endless":
                    self.send_response(200)
                    self.end_headers()
                    self._drip(bytes(65536))
                elif self.path == "/good":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PAYLOAD)))
                    self.end_headers()
                    self.wfile.write(PAYLOAD)
                elif self.path == "/cut":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PAYLOAD)))
                    self.end_headers()
                    self.wfile.write(PAYLOAD[:1000])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.send_error(404, "Not Found")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def remote(self, path: str, sha: str | None = None, name: str = "toy") -> RemoteFile:
        digest = sha or hashlib.sha256(PAYLOAD).hexdigest()
        return RemoteFile(name=name, url=self.base + path, sha256=digest, filename="toy.bin")


@pytest.fixture()
def server() -> Iterator[_Server]:
    srv = _Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_verifies_and_caches(server: _Server, tmp_path: Path) -> None:
    path = fetch(server.remote("/good"), tmp_path, timeout=5, progress=False)
    assert path == tmp_path / "toy.bin"
    assert path.read_bytes() == PAYLOAD
    assert _listing(tmp_path) == ["toy.bin"]  # no temporary file left
    again = fetch(server.remote("/good"), tmp_path, timeout=5, progress=False)
    assert again == path and server.requests == ["/good"]  # second call: no request


def test_fetch_replaces_a_corrupt_cached_file(server: _Server, tmp_path: Path) -> None:
    (tmp_path / "toy.bin").write_bytes(b"stale")
    path = fetch(server.remote("/good"), tmp_path, timeout=5, progress=False)
    assert path.read_bytes() == PAYLOAD and server.requests == ["/good"]


def test_wrong_hash_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(InkfaceError, match=f"sha256 mismatch for toy.bin: expected {wrong}"):
        fetch(server.remote("/good", sha=wrong), tmp_path, timeout=5, progress=False)
    assert _listing(tmp_path) == []


def test_http_error_names_the_url(server: _Server, tmp_path: Path) -> None:
    remote = server.remote("/missing")
    with pytest.raises(InkfaceError, match="404") as info:
        fetch(remote, tmp_path, timeout=5, progress=False)
    assert remote.url in str(info.value)
    assert _listing(tmp_path) == []


def test_connection_cut_mid_transfer_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    remote = server.remote("/cut")
    with pytest.raises(InkfaceError) as info:
        fetch(remote, tmp_path, timeout=5, progress=False)
    assert remote.url in str(info.value)
    assert _listing(tmp_path) == []


def test_unreachable_host_is_an_inkface_error(tmp_path: Path) -> None:
    with socket_closed_port() as port:
        remote = RemoteFile("toy", f"http://127.0.0.1:{port}/x", "0" * 64, "toy.bin")
        with pytest.raises(InkfaceError, match=f"127.0.0.1:{port}/x"):
            fetch(remote, tmp_path, timeout=2, progress=False)
    assert _listing(tmp_path) == []


class socket_closed_port:
    """A loopback port with nothing listening on it (bound then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        return None


def test_cache_dir_and_fetch_model(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INKFACE_CACHE_DIR", str(tmp_path))
    assert download.cache_dir() == tmp_path / "models"
    assert cached_path("toy", "toy.bin") is None
    fake = {"toy": (server.remote("/good"),)}
    monkeypatch.setattr(weights, "KNOWN_MODELS", fake)
    assert model_status("toy") == [(fake["toy"][0], None)]
    assert not weights.weights_status("toy")[0]
    paths = fetch_model("toy", timeout=5, progress=False)
    assert paths == [tmp_path / "models" / "toy" / "toy.bin"]
    assert cached_path("toy", "toy.bin") == paths[0]
    assert model_status("toy") == [(fake["toy"][0], paths[0])]
    assert weights.weights_status("toy")[0]
    with pytest.raises(InkfaceError, match=r"unknown 'nope'.*toy"):
        fetch_model("nope")


# --- bounded downloads: deadline, size cap, clean failure, re-hashed cache --------------


@pytest.mark.parametrize("path", ["/trickle", "/slow-headers"])
def test_a_trickling_server_hits_the_deadline(server: _Server, tmp_path: Path, path: str) -> None:
    """Every single wait is far below ``timeout``; only the total deadline can stop it."""
    started = time.monotonic()
    with pytest.raises(InkfaceError, match=r"did not finish within its 1 s deadline") as info:
        fetch(server.remote(path), tmp_path, timeout=10, progress=False, deadline=1)
    assert time.monotonic() - started < 8
    assert server.remote(path).url in str(info.value)
    assert _listing(tmp_path) == []


def test_an_endless_body_stops_at_the_pinned_size(server: _Server, tmp_path: Path) -> None:
    remote = RemoteFile("toy", server.base + "/endless", "0" * 64, "toy.bin", size=300_000)
    with pytest.raises(InkfaceError, match=r"exceeds the pinned size of 300,000 bytes"):
        fetch(remote, tmp_path, timeout=10, progress=False, deadline=60)
    assert _listing(tmp_path) == []


def test_an_endless_body_stops_at_the_default_cap(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "DEFAULT_MAX_BYTES", 500_000)
    with pytest.raises(InkfaceError, match=r"exceeds the download limit of 500,000 bytes"):
        fetch(server.remote("/endless"), tmp_path, timeout=10, progress=False, deadline=60)
    assert _listing(tmp_path) == []


def test_an_announced_oversize_is_refused_before_reading(server: _Server, tmp_path: Path) -> None:
    small = RemoteFile("toy", server.base + "/good", "0" * 64, "toy.bin", size=1000)
    with pytest.raises(InkfaceError, match=r"announces 256,000 bytes, more than the pinned size"):
        fetch(small, tmp_path, timeout=5, progress=False)
    assert _listing(tmp_path) == []


def test_ctrl_c_mid_download_leaves_nothing(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Interrupting:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> Interrupting:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: int) -> None:
            assert any(p.suffix == ".part" for p in tmp_path.iterdir())  # mid-download
            raise KeyboardInterrupt

    monkeypatch.setattr(download, "tqdm", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        fetch(server.remote("/good"), tmp_path, timeout=5, progress=False)
    assert _listing(tmp_path) == []


def test_junk_in_the_cache_is_not_taken_for_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INKFACE_CACHE_DIR", str(tmp_path))
    yunet = KNOWN_MODELS["yunet"][0]
    junk = tmp_path / "models" / "yunet" / yunet.filename
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"not an onnx file")
    assert cached_path("yunet", yunet.filename) == junk  # present...
    assert cached_path("yunet", yunet.filename, yunet.sha256) is None  # ...but not the pin
    assert model_status("yunet") == [(yunet, None)]
    assert main(["models", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]["yunet"][0]
    assert listed["cached"] is None
    with pytest.raises(InkfaceError, match="do not match their pinned SHA-256") as info:
        weights.resolve_weights("yunet", yunet.filename, None, "model_path")
    assert "inkface models fetch yunet" in str(info.value)
