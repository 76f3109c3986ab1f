"""Running a call under a wall-clock limit (no pytest-timeout here): a hang fails."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def within(fn: Callable[[], Any], seconds: float = 60.0) -> Any:
    """``fn()``'s result, or an assertion error when it runs past ``seconds`` (a hang);
    an exception raised by ``fn`` is re-raised here."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (hang)"
    if "error" in out:
        raise out["error"]
    return out["value"]
