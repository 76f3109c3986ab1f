"""Exception types. Every user-facing failure is one of these, with a one-line message
that names the offending file or field; the CLI prints it and exits non-zero."""

from __future__ import annotations


class InkfaceError(Exception):
    """Base class for errors caused by user input (files, options, saved runs)."""


class DatasetError(InkfaceError):
    """A dataset folder does not match its published layout."""


class ImageError(InkfaceError):
    """An image file cannot be decoded or has an unsupported mode."""
