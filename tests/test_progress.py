"""Progress bars only on a terminal: a log gets no bar redraws."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from inkface.core.progress import show_bars


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_need_a_request_and_a_terminal() -> None:
    assert show_bars(True, _Terminal()) is True
    assert show_bars(False, _Terminal()) is False
    assert show_bars(True, io.StringIO()) is False
    assert show_bars(True, object()) is False  # type: ignore[arg-type]


def test_generators_draw_no_bar_into_a_log(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from inkface.signatures.synth.generator import generate_signatures

    generate_signatures(tmp_path / "sigs", writers=2, genuine=2, forgeries=0, layout="folder")
    captured = capsys.readouterr()
    assert "writers" not in captured.err and "it/s" not in captured.err
