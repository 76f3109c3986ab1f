"""Parsing shared by several commands' flags."""

from __future__ import annotations

from collections.abc import Iterable

from inkface.core.errors import InkfaceError


def parse_key_values(items: Iterable[str], flag: str, expected: str) -> dict[str, str]:
    """``["cedar=/data"]`` -> ``{"cedar": "/data"}`` (keys lower-cased); an item without
    both sides is an error naming ``flag`` and what was ``expected``."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value:
            raise InkfaceError(f"{flag} {item!r}: expected {expected}")
        pairs[key.strip().lower()] = value
    return pairs


def parse_roots(items: Iterable[str]) -> dict[str, str]:
    """``--root NAME=DIR`` flags -> ``{name: dir}``."""
    return parse_key_values(items, "--root", "NAME=DIR, e.g. cedar=/data/CEDAR")
