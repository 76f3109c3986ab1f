"""Pinned downloads of third-party model files into a local cache, checked by SHA-256.

Each file has one URL and the SHA-256 of its expected bytes. A download streams into a
temporary file beside the destination while it is hashed; only a file whose hash matches
is renamed into place (atomically), so the cache never holds a partial or substituted
file. A file already present with the right hash is not downloaded again, and a cached
file is re-hashed when it is looked up (:func:`cached_path` with its pin), so a junk
file in the cache is never taken for the real one.

A download is bounded: ``timeout`` per network wait, a total deadline enforced by a
watchdog that shuts the socket down (a server that trickles bytes would otherwise hold
the command forever), and a size cap (the pinned size, else ``DEFAULT_MAX_BYTES``).

This module knows no particular file: callers pin their own as :class:`RemoteFile`
constants; the files of a model ``name`` are cached under ``<cache>/models/<name>/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tqdm.auto import tqdm

from inkface.core.atomic import check_output_path
from inkface.core.errors import InkfaceError
from inkface.core.paths import default_cache_dir
from inkface.core.progress import show_bars

_CHUNK = 1 << 16
# The download limits (README, "Limits"): the whole download must finish within
# DEFAULT_DEADLINE_S, and its body may not exceed the pinned size, or DEFAULT_MAX_BYTES
# for a file pinned without one.
DEFAULT_DEADLINE_S = 600.0
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where from, what it must hash to, and under which name."""

    name: str
    url: str
    sha256: str
    filename: str
    size: int | None = None
    license: str = ""


def cache_dir() -> Path:
    """``$INKFACE_CACHE_DIR/models``, else ``~/.cache/inkface/models``."""
    return default_cache_dir() / "models"


def _model_dir(name: str, dest_dir: Path | None) -> Path:
    return Path(dest_dir) if dest_dir is not None else cache_dir() / name


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_path(name: str, filename: str, sha256: str | None = None) -> Path | None:
    """The cached file of model ``name`` if it is present; with ``sha256``, only if its
    bytes still hash to it (a junk or truncated file in the cache is not "cached")."""
    path = cache_dir() / name / filename
    if not path.is_file():
        return None
    return path if sha256 is None or matches_pin(path, sha256) else None


def matches_pin(path: Path, sha256: str) -> bool:
    """Whether ``path`` hashes to the pinned ``sha256`` (re-hashed on every call: the
    weights are read once per detector, and a few megabytes hash in milliseconds)."""
    try:
        return sha256_of(path) == sha256.lower()
    except OSError:
        return False


def fetch(
    remote: RemoteFile,
    dest_dir: Path | None = None,
    timeout: float = 30,
    progress: bool = True,
    deadline: float | None = None,
) -> Path:
    """Download ``remote`` into ``dest_dir`` (default: the model's cache folder) unless a
    file with the pinned hash is already there; return its path.

    ``timeout`` bounds each network wait, ``deadline`` (default ``DEFAULT_DEADLINE_S``)
    the whole download, and the body may not exceed the pinned ``size`` (or
    ``DEFAULT_MAX_BYTES`` when no size is pinned). Raises InkfaceError naming the URL on
    network or HTTP errors, a deadline or size overrun, and ``sha256 mismatch for
    <file>`` when the bytes differ from the pin. The temporary ``.part`` file is removed
    on every failure, Ctrl-C included, so nothing is left behind.
    """
    folder = _model_dir(remote.name, dest_dir)
    target = folder / remote.filename
    expected = remote.sha256.lower()
    if target.is_file() and matches_pin(target, expected):
        return target
    check_output_path(folder, "download folder", folder=True)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    seconds = DEFAULT_DEADLINE_S if deadline is None else float(deadline)
    try:
        with os.fdopen(fd, "wb") as out, _Watchdog(seconds) as watchdog:
            _stream(remote, out, digest, timeout, progress, watchdog)
        actual = digest.hexdigest()
        if actual != expected:
            raise InkfaceError(
                f"sha256 mismatch for {remote.filename}: expected {expected}, got {actual}"
            )
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target


class _Watchdog:
    """Shuts a download's sockets down when its deadline passes.

    The socket timeout bounds each single wait only: a server that sends one byte every
    few seconds (headers or body) never trips it. Shutting the sockets down from a timer
    thread wakes the blocked read, which then fails; ``expired`` tells why.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = threading.Event()
        self._end = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
        if self.expired.is_set():
            self._expire()

    def check(self) -> None:
        """Mark the deadline as passed once the time is up (also between reads)."""
        if time.monotonic() >= self._end:
            self._expire()
        if self.expired.is_set():
            raise _DeadlineExceeded

    def _expire(self) -> None:
        self.expired.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    # The plain-socket method, also for TLS sockets: it only wakes the
                    # reader and leaves the TLS object to fail on its next read.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _DeadlineExceeded(Exception):
    """Raised inside a download when its watchdog has expired."""


class _WatchedConnections:
    """Mixin for urllib handlers: every connection they open is given to a watchdog."""

    watchdog: _Watchdog

    def do_open(self, http_class, req, **kwargs):  # type: ignore[no-untyped-def]
        watchdog = self.watchdog

        def connection(host: str, **options: Any) -> http.client.HTTPConnection:
            conn = http_class(host, **options)
            connect = conn.connect

            def watched_connect() -> None:
                connect()
                watchdog.watch(conn.sock)

            conn.connect = watched_connect
            return conn

        return super().do_open(connection, req, **kwargs)  # type: ignore[misc]


class _HTTPHandler(_WatchedConnections, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_WatchedConnections, urllib.request.HTTPSHandler):
    pass


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    handlers = [_HTTPHandler(), _HTTPSHandler()]
    for handler in handlers:
        handler.watchdog = watchdog
    return urllib.request.build_opener(*handlers)


def _stream(
    remote: RemoteFile,
    out: BinaryIO,
    digest: Any,
    timeout: float,
    progress: bool,
    watchdog: _Watchdog,
) -> None:
    limit = remote.size if remote.size is not None else DEFAULT_MAX_BYTES
    request = urllib.request.Request(remote.url, headers={"User-Agent": "inkface"})
    try:
        with _opener(watchdog).open(request, timeout=timeout) as response:
            watchdog.check()
            length = response.headers.get("Content-Length")
            declared = int(length) if length and length.isdigit() else None
            if declared is not None and declared > limit:
                raise InkfaceError(
                    f"{remote.url}: server announces {declared:,} bytes, more than the "
                    f"{_limit_words(remote, limit)}"
                )
            received = 0
            with tqdm(
                total=declared or remote.size,
                unit="B",
                unit_scale=True,
                desc=remote.filename,
                disable=not show_bars(progress),
            ) as bar:
                # read1: return what one socket read brings, so the deadline is checked
                # between reads even when the server sends a few bytes at a time.
                while block := response.read1(_CHUNK):
                    received += len(block)
                    if received > limit:
                        raise InkfaceError(
                            f"{remote.url}: download exceeds the {_limit_words(remote, limit)}"
                        )
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
                    watchdog.check()
            watchdog.check()
            if declared is not None and received < declared:
                raise InkfaceError(
                    f"{remote.url}: connection closed after {received} of {declared} bytes"
                )
    except InkfaceError:
        raise
    except _DeadlineExceeded:
        raise InkfaceError(_deadline_words(remote, watchdog)) from None
    except urllib.error.HTTPError as exc:
        raise InkfaceError(f"{remote.url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # Timeouts, resets, cuts, and the errors of a socket the watchdog shut down.
        if watchdog.expired.is_set():
            raise InkfaceError(_deadline_words(remote, watchdog)) from None
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        verb = "cannot download" if isinstance(exc, urllib.error.URLError) else "download failed"
        raise InkfaceError(f"{remote.url}: {verb} ({reason})") from None


def _limit_words(remote: RemoteFile, limit: int) -> str:
    what = "pinned size" if remote.size is not None else "download limit"
    return f"{what} of {limit:,} bytes"


def _deadline_words(remote: RemoteFile, watchdog: _Watchdog) -> str:
    return (
        f"{remote.url}: download did not finish within its {watchdog.seconds:g} s deadline "
        "(server too slow or stalled); try again, or allow more seconds with "
        "`inkface models fetch --deadline`"
    )
