"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One PyTorch thread: fast and steady on a shared 2-core machine (restored after).

    Modules whose tests run many small forward passes use it for all their tests
    (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``); module-scoped, so
    that the module's own fixtures run under it too.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
