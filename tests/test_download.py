"""Pinned downloads: hash checks, caching, and clean failure, against a loopback server."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from inkface.core import download
from inkface.core.download import RemoteFile, cached_path, fetch
from inkface.core.errors import InkfaceError
from inkface.faces.detection import weights
from inkface.faces.detection.weights import KNOWN_MODELS, fetch_model, model_status

PAYLOAD = bytes(range(256)) * 1000  # 256 kB, several read chunks


class _Server:
    """A loopback HTTP server: ``/good`` serves PAYLOAD, ``/cut`` promises more bytes than
    it sends, anything else is a 404. Counts the requests it answers."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                if self.path == "/good":
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


def test_known_models_are_pinned() -> None:
    assert set(KNOWN_MODELS) == {"yunet", "ssd", "blazeface"}
    names = {r.filename for files in KNOWN_MODELS.values() for r in files}
    assert names == {
        "face_detection_yunet_2023mar.onnx",
        "deploy.prototxt",
        "res10_300x300_ssd_iter_140000.caffemodel",
        "blaze_face_short_range.tflite",
    }
    for files in KNOWN_MODELS.values():
        for remote in files:
            assert remote.url.startswith("https://")
            assert len(remote.sha256) == 64 and int(remote.sha256, 16) >= 0
