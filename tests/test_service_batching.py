"""Micro-batching: concurrent requests share model calls and each gets its own rows;
and the server process itself (CLI errors, graceful shutdown)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from service_runs import face_head, face_png

from inkface.service import ServiceConfig, create_app, load_models
from inkface.service.batching import MicroBatcher

pytestmark = pytest.mark.usefixtures("one_torch_thread")
INKFACE = str(Path(sys.executable).parent / "inkface")


class CountingModel:
    """Row i of the output is 10 x input i; records each call's size."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.calls: list[int] = []
        self.delay_s = delay_s

    def __call__(self, items: list[float]) -> np.ndarray:
        self.calls.append(len(items))
        time.sleep(self.delay_s)
        if any(x < 0 for x in items):
            raise ValueError("negative input")
        return np.array([[10 * x] for x in items], dtype=np.float32)


def run_requests(batcher_kwargs: dict, requests: list[list[float]], model: CountingModel):
    async def scenario() -> list[np.ndarray]:
        with ThreadPoolExecutor(2) as pool:
            batcher = MicroBatcher(model, pool, **batcher_kwargs)
            try:
                return await asyncio.gather(*(batcher.submit(r) for r in requests))
            finally:
                await batcher.close()

    return asyncio.run(scenario())


def test_concurrent_requests_share_calls_and_get_their_own_rows() -> None:
    model = CountingModel()
    requests = [[float(i)] for i in range(8)] + [[8.0, 9.0]]
    rows = run_requests({"max_batch": 32, "max_wait_s": 0.05, "slots": 1}, requests, model)
    for request, out in zip(requests, rows, strict=True):
        assert out[:, 0].tolist() == [10 * x for x in request]
    assert sum(model.calls) == 10 and len(model.calls) < 4


def test_batches_never_exceed_max_batch_or_split_a_request() -> None:
    model = CountingModel(delay_s=0.0)
    requests = [[1.0, 2.0, 3.0]] * 5
    run_requests({"max_batch": 7, "max_wait_s": 0.05, "slots": 2}, requests, model)
    assert sum(model.calls) == 15 and all(c % 3 == 0 and c <= 7 for c in model.calls)


def test_without_batching_every_request_is_its_own_call() -> None:
    model = CountingModel(delay_s=0.0)
    run_requests({"max_batch": 32, "max_wait_s": 0.0}, [[1.0]] * 6, model)
    assert model.calls == [1] * 6


def test_an_error_reaches_every_request_of_the_batch_and_no_other() -> None:
    model = CountingModel()

    async def scenario() -> tuple[list, list]:
        with ThreadPoolExecutor(1) as pool:
            batcher = MicroBatcher(model, pool, max_batch=4, max_wait_s=0.05, slots=1)
            first = await asyncio.gather(
                batcher.submit([1.0]), batcher.submit([-1.0]), return_exceptions=True
            )
            second = await asyncio.gather(batcher.submit([2.0]), return_exceptions=True)
            await batcher.close()
            return first, second

    first, second = asyncio.run(scenario())
    assert all(isinstance(r, ValueError) for r in first)
    assert second[0][0, 0] == 20.0


@pytest.fixture(scope="module")
def smile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return face_head(tmp_path_factory.mktemp("batching") / "smile")


def test_eight_concurrent_faces_cost_fewer_model_calls(smile_run: Path) -> None:
    app = create_app(load_models({"smile": smile_run}), ServiceConfig(threads=2, batch_wait_ms=50))
    images = [face_png(i) for i in range(8)]

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(client.post("/v1/faces/analyze", files={"image": ("f.png", im)}) for im in images)
            )

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * 8
    faces = sum(len(r.json()["faces"]) for r in responses)
    registry = app.state.service.metrics.registry
    calls = registry.get_sample_value("inkface_batch_size_count", {"model": "smile"})
    classified = registry.get_sample_value("inkface_batch_size_sum", {"model": "smile"})
    assert classified == faces >= 6 and calls < faces
    app.state.service.executor.shutdown(wait=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_shutdown_lets_in_flight_requests_finish(smile_run: Path) -> None:
    models = load_models({"smile": smile_run})
    head = models.models["smile"].predictor
    real = head.predict_proba
    started = threading.Event()

    def slow(crops: list) -> np.ndarray:
        started.set()
        time.sleep(1.0)
        return real(crops)

    port = _free_port()
    config = uvicorn.Config(
        create_app(models, ServiceConfig(threads=1)),
        host="127.0.0.1",
        port=port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    # Slow the head only now: the warm-up ran the real one (the batcher binds it lazily).
    head.predict_proba = slow  # type: ignore[method-assign]
    result: dict = {}

    def request() -> None:
        files = {"image": ("f.png", face_png(0))}
        try:
            result["response"] = httpx.post(f"{url}/v1/faces/analyze", files=files, timeout=20)
        except Exception as exc:  # reported by the assertion below
            result["error"] = repr(exc)

    client = threading.Thread(target=request)
    client.start()
    assert started.wait(20)
    server.should_exit = True  # what SIGTERM does
    client.join(20)
    thread.join(20)
    assert "error" not in result, result["error"]
    assert result["response"].status_code == 200, result["response"].text
    assert len(result["response"].json()["faces"]) == 1
    assert not thread.is_alive()


def test_serve_refuses_bad_runs_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inkface.cli.main import main

    cases = [
        (["--run", "nothing"], "expected NAME=RUN_DIR"),
        (["--run", f"x={tmp_path / 'missing'}"], "missing"),
        (["--run", "x=a", "--port", "0"], "--port"),
        ([], "--run: give at least one"),
        (["--run", "x=a", "--max-pending", "0"], "max_pending"),
    ]
    for args, fragment in cases:
        assert main(["serve", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and fragment in err and err.count("\n") == 1
    # and as a real process: one line, no traceback
    proc = subprocess.run(
        [INKFACE, "serve", "--run", f"x={tmp_path}"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_serve_command_answers_and_stops_on_sigterm(smile_run: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [INKFACE, "serve", "--run", f"smile={smile_run}", "--port", str(port), "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "INKFACE_TOKEN": "token-123456"},
    )
    try:
        ready = None
        for _ in range(600):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert ready is not None and ready.status_code == 200
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5)
        assert models.status_code == 401  # the token came from INKFACE_TOKEN
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM (the conventional exit status).
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert f"http://127.0.0.1:{port}" in out
    assert '"msg": "service stopped"' in err and '"status": 401' in err


def test_the_demo_prints_a_serve_command_that_parses() -> None:
    from inkface.cli.demo import serve_command
    from inkface.cli.main import build_parser

    runs = {"sig": Path("runs/demo/signatures/run"), "mask": Path("runs/demo/faces/run")}
    line = serve_command(runs, Path("runs/demo/gallery.db"))
    assert line.split()[1] == "serve"
    args = build_parser().parse_args(line.split()[1:])
    assert args.run == ["sig=runs/demo/signatures/run", "mask=runs/demo/faces/run"]
    assert args.gallery == Path("runs/demo/gallery.db") and args.port == 8000


def test_the_allocator_is_tuned_on_glibc() -> None:
    import platform

    from inkface.service.server import tune_allocator

    tuned = tune_allocator()
    if platform.libc_ver()[0] == "glibc":
        assert tuned is True
    else:
        assert tuned is False
