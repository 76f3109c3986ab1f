"""Paths: where inkface keeps its caches (preprocessed images, downloaded weights), how a
name read from a dataset's index file is joined to its root, and the file names OpenCV
can be given."""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath

from inkface.core.errors import DatasetError, InkfaceError

CACHE_ENV = "INKFACE_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$INKFACE_CACHE_DIR`` when set, else ``~/.cache/inkface``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "inkface")


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path | None:
    """The folder for a cache: ``None`` means :func:`default_cache_dir`, ``""`` means none
    (keep everything in memory, write nothing), anything else is that folder."""
    if cache_dir is None:
        return default_cache_dir()
    if cache_dir == "":
        return None
    return Path(cache_dir)


def resolve_inside(root: str | os.PathLike[str], name: str, what: str) -> Path:
    """``root / name`` for a file name read from an index file (a CSV row, an XML tag),
    refused unless it stays inside ``root``.

    ``what`` says where the name came from (``labels.csv:12``); the one-line
    :class:`DatasetError` names it and the entry. Absolute names, drive or UNC prefixes,
    NUL bytes and ``..`` steps that climb out of ``root`` are refused; the check is made
    on the normalised name, so symbolic links placed inside the dataset folder keep
    working (they are trusted like the folder itself).
    """
    text = name.replace("\\", "/")
    if not text.strip() or "\0" in text:
        raise DatasetError(f"{what}: entry {name!r} is not a valid file name")
    if text.startswith("/") or PureWindowsPath(name).drive:
        raise DatasetError(
            f"{what}: entry {name!r} is an absolute path; expected a name inside {root}"
        )
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise DatasetError(f"{what}: entry {name!r} points outside {root}")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise DatasetError(f"{what}: entry {name!r} is not a valid file name")
    return Path(root).joinpath(*parts)


def opencv_path(path: str | os.PathLike[str], what: str) -> str:
    """``path`` as the ``str`` OpenCV needs, refused (one line) when it cannot be encoded
    as UTF-8: OpenCV's Python binding crashes the process on such names (Linux file
    names are bytes; undecodable ones reach Python as lone surrogates)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
        raise InkfaceError(
            f"{shown}: {what} name is not valid UTF-8, which OpenCV cannot open; rename it"
        ) from None
    return text
