"""Pinned downloads of third-party model files into a local cache, checked by SHA-256.

Each file has one URL and the SHA-256 of its expected bytes. A download streams into a
temporary file beside the destination while it is hashed; only a file whose hash matches
is renamed into place (atomically), so the cache never holds a partial or substituted
file. A file already present with the right hash is not downloaded again.

This module knows no particular file: callers pin their own as :class:`RemoteFile`
constants; the files of a model ``name`` are cached under ``<cache>/models/<name>/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from inkface.core.errors import InkfaceError
from inkface.core.paths import default_cache_dir

_CHUNK = 1 << 16


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


def cached_path(name: str, filename: str) -> Path | None:
    """The cached file of model ``name`` if it is present (not re-hashed: see fetch)."""
    path = cache_dir() / name / filename
    return path if path.is_file() else None


def fetch(
    remote: RemoteFile, dest_dir: Path | None = None, timeout: float = 30, progress: bool = True
) -> Path:
    """Download ``remote`` into ``dest_dir`` (default: the model's cache folder) unless a
    file with the pinned hash is already there; return its path.

    Raises InkfaceError naming the URL on network or HTTP errors, and
    ``sha256 mismatch for <file>`` when the bytes differ from the pin; nothing is left
    behind in either case.
    """
    folder = _model_dir(remote.name, dest_dir)
    target = folder / remote.filename
    expected = remote.sha256.lower()
    if target.is_file() and sha256_of(target) == expected:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(remote, out, digest, timeout, progress)
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


def _stream(remote: RemoteFile, out, digest, timeout: float, progress: bool) -> None:
    request = urllib.request.Request(remote.url, headers={"User-Agent": "inkface"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else remote.size
            received = 0
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=remote.filename,
                disable=not progress,
            ) as bar:
                while block := response.read(_CHUNK):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            if length and length.isdigit() and received < int(length):
                raise InkfaceError(
                    f"{remote.url}: connection closed after {received} of {length} bytes"
                )
    except urllib.error.HTTPError as exc:
        raise InkfaceError(f"{remote.url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise InkfaceError(f"{remote.url}: cannot download ({exc.reason})") from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, resets, cuts
        raise InkfaceError(f"{remote.url}: download failed ({exc})") from exc
