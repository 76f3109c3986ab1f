"""The overlapped stages (order, bounded queues, live-source dropping, shutdown on errors),
the thread budget and the lower-resolution detection pass; no models, every test under a
wall-clock limit so a hang fails instead of blocking the run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pytest
import torch
from deadline import within

from inkface.core.errors import InkfaceError
from inkface.faces.pipeline.face_pipeline import ScaledDetector
from inkface.faces.pipeline.stages import Overlapped, Stage
from inkface.faces.pipeline.threads import (
    MAX_DEFAULT_THREADS,
    plan_threads,
    process_threads,
    usable_cores,
)
from inkface.faces.types import Face


def _jitter(k: int) -> None:
    time.sleep(0.001 * ((k * 7) % 5))


def _stage_threads_alive() -> list[str]:
    names = ("read", "a", "b")
    return [t.name for t in threading.enumerate() if t.name.split("-")[0] in names]


def test_results_come_back_in_order() -> None:
    def a(k: int) -> int:
        _jitter(k)
        return k * 10

    def b(k: int) -> int:
        _jitter(k + 3)
        return k + 1

    seen_by_b: list[int] = []

    def run(stages: list[Stage]) -> list[int]:
        with Overlapped(range(60), stages, in_flight=6, slots=3) as flow:
            return list(flow)

    def serial_b(k: int) -> int:
        seen_by_b.append(k)
        return b(k)

    # parallel then serial: the serial stage sees items in order, and so does the caller
    got = within(lambda: run([Stage.of("a", a, workers=3), Stage.of("b", serial_b)]))
    assert got == [k * 10 + 1 for k in range(60)] and seen_by_b == [k * 10 for k in range(60)]
    # serial then parallel: the caller still gets them in order
    got = within(lambda: run([Stage.of("a", a), Stage.of("b", b, workers=3)]))
    assert got == [k * 10 + 1 for k in range(60)]
    assert not _stage_threads_alive()
    with pytest.raises(ValueError, match="parallel"):
        Overlapped(range(3), [Stage.of("a", a, workers=2), Stage.of("b", b, workers=2)])


def test_slots_cap_the_work_running_at_once() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def work(k: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.005)
        with lock:
            running[0] -= 1
        return k

    stages = [Stage.of("a", work, workers=4), Stage.of("b", lambda k: k),
              Stage.of("c", work, workers=4)]  # fmt: skip

    def run() -> list[int]:
        with Overlapped(range(40), stages, in_flight=12, slots=2) as flow:
            return list(flow)

    assert within(run) == list(range(40))
    assert peak[0] == 2


def test_in_flight_tokens_make_the_reader_wait() -> None:
    produced = []
    consumed = []
    gap = []

    def items() -> Iterator[int]:
        for k in range(40):
            produced.append(k)
            gap.append(len(produced) - len(consumed))
            yield k

    def run() -> None:
        stages = [Stage.of("a", lambda k: k, workers=2), Stage.of("b", lambda k: k)]
        with Overlapped(items(), stages, in_flight=3) as flow:
            for k in flow:
                time.sleep(0.004)  # the slowest step: the caller
                consumed.append(k)

    within(run)
    assert consumed == list(range(40))
    # 3 frames hold tokens (the one the caller works on included) + 1 in the reader's hand
    assert max(gap) <= 3 + 1


def test_live_sources_drop_and_count_files_never_drop() -> None:
    def slow(k: int) -> int:
        time.sleep(0.01)
        return k

    def run(live: bool) -> tuple[list[int], int, int]:
        with Overlapped(range(100), [Stage.of("a", slow)], in_flight=2, live=live) as flow:
            got = list(flow)
            return got, flow.dropped, flow.read

    got, dropped, read = within(lambda: run(True))
    assert read == 100 and dropped > 0 and len(got) + dropped == 100
    assert got == sorted(got)
    got, dropped, _ = within(lambda: run(False))
    assert got == list(range(100)) and dropped == 0


def test_admit_numbers_the_frames_let_in() -> None:
    def run() -> tuple[list[tuple[int, int]], int]:
        stage = Stage.of("a", lambda item: (time.sleep(0.01), item)[1])
        with Overlapped(range(50), [stage], in_flight=1, live=True,
                        admit=lambda seq, k: (seq, k)) as flow:  # fmt: skip
            return list(flow), flow.dropped

    got, dropped = within(run)
    assert [seq for seq, _ in got] == list(range(len(got))) and dropped > 0


@pytest.mark.parametrize("where", ["read", "a", "b"])
def test_an_error_in_any_thread_stops_all_and_is_raised(where: str) -> None:
    def items() -> Iterator[int]:
        for k in range(1000):
            if where == "read" and k == 5:
                raise OSError("camera unplugged")
            yield k

    def fail_at(name: str) -> Callable[[int], int]:
        def fn(k: int) -> int:
            if where == name and k == 5:
                raise RuntimeError(f"{name} died")
            return k

        return fn

    def run() -> list[int]:
        seen = []
        stages = [Stage.of("a", fail_at("a"), workers=2), Stage.of("b", fail_at("b"))]
        with Overlapped(items(), stages) as flow:
            for k in flow:
                seen.append(k)
        return seen

    with pytest.raises((OSError, RuntimeError), match=r"unplugged|died"):
        within(run)
    assert not _stage_threads_alive()


def test_leaving_early_stops_the_threads_and_limit_caps_reading() -> None:
    def endless() -> Iterator[int]:
        k = 0
        while True:
            yield k
            k += 1

    def run() -> tuple[list[int], int]:
        with Overlapped(endless(), [Stage.of("a", lambda k: k, workers=2)]) as flow:
            got = []
            for k in flow:
                got.append(k)
                if k == 9:
                    break
        with Overlapped(endless(), [Stage.of("a", lambda k: k)], limit=7) as capped:
            return got, len(list(capped))

    got, capped = within(run)
    assert got == list(range(10)) and capped == 7
    assert not _stage_threads_alive()


def test_each_worker_makes_its_function_in_its_own_thread() -> None:
    names = []
    lock = threading.Lock()

    def make() -> Callable[[int], int]:
        with lock:
            names.append(threading.current_thread().name)
        return lambda k: k

    with Overlapped(range(5), [Stage("a", make, workers=3)]) as flow:
        assert within(lambda: list(flow)) == list(range(5))
    assert sorted(names) == ["a-0", "a-1", "a-2"]


def test_thread_budget_splits_the_total() -> None:
    one = plan_threads(1)
    assert (one.overlap, one.workers, one.intra, one.slots) == (False, 1, 1, 1)
    two = plan_threads(2)
    assert (two.overlap, two.workers, two.intra, two.slots) == (True, 2, 1, 2)
    flat = plan_threads(4, overlap=False)
    assert (flat.overlap, flat.workers, flat.intra) == (False, 1, 4)
    default = plan_threads()
    assert default.total == min(usable_cores(), MAX_DEFAULT_THREADS)
    assert default.slots * default.intra <= default.total
    with pytest.raises(InkfaceError, match="threads"):
        plan_threads(0)
    before = (torch.get_num_threads(), cv2.getNumThreads())
    with process_threads(plan_threads(3, overlap=False)):
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (3, 3)
    assert (torch.get_num_threads(), cv2.getNumThreads()) == before


class _Corner:
    """Finds one 'face' at a fixed fraction of whatever frame it is given, and records
    the frame sizes it saw."""

    name = "corner"

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, image: np.ndarray) -> list[Face]:
        self.shapes.append(image.shape)
        h, w = image.shape[:2]
        marks = np.float32([[w / 2, h / 2]] * 5)
        return [Face((w // 4, h // 4, w // 2, h // 2), 0.9, marks)]


def test_detect_size_maps_boxes_back() -> None:
    inner = _Corner()
    scaled = ScaledDetector(inner, 200)
    (face,) = scaled.detect(np.zeros((300, 400, 3), np.uint8))
    assert inner.shapes[-1][:2] == (150, 200)
    assert face.box == (100, 74, 200, 150) and face.score == 0.9
    assert np.allclose(face.landmarks[0], (200, 150))
    scaled.detect(np.zeros((100, 120, 3), np.uint8))  # already small: unchanged
    assert inner.shapes[-1][:2] == (100, 120)
    with pytest.raises(InkfaceError, match="detect_size"):
        ScaledDetector(inner, 8)
