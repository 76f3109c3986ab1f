"""The web page in a real browser: Debian's Chromium, driven by Playwright, against
``inkface serve`` processes this module starts on 127.0.0.1 (photo, webcam and
signature tabs, error messages, the token prompt, tabs whose model is not loaded).

Chromium and Playwright are required, not optional: CI installs both (``.ci/run``
and the ``dev`` extra), so their absence fails these tests with what to install.
Set ``INKFACE_SCREENSHOTS=FOLDER`` to also keep each tab's screenshot there.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from service_runs import face_head, face_png, verifier_run

from inkface.faces.synth.generator import render_single
from inkface.signatures.synth.generator import generate_signatures

try:  # a dev dependency: without it the fixture below fails with what to install
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:
    sync_playwright = None

pytestmark = pytest.mark.slow
TOKEN = "s3cret-token"
WAIT_MS = 20_000  # generous: two servers and a browser share two cores
REQUEST_ID = re.compile(r"Request id: [0-9a-f]{32}")
# Fields of every verification answer (the rest is what a verifier adds).
BASIC_VERIFY = frozenset(
    [
        "model",
        "questioned",
        "references",
        "distances",
        "distance",
        "similarity",
        "threshold",
        "decision",
        "request_id",
    ]
)
INSTALL = (
    "the browser tests need Debian's chromium (apt-get install chromium) and the "
    "playwright package (pip install -e '.[dev]'); Playwright's own browser download "
    "is not used"
)


# -- files and runs --------------------------------------------------------------------
def _camera_y4m(path: Path) -> Path:
    """A 320x240 Y4M clip of a synthetic face: Chromium's fake camera plays it in a loop."""
    face = render_single("smile", "smile", np.random.default_rng(1), 200).image
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[20:220, 60:260] = face
    planes = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W320 H240 F10:1 Ip A1:1 C420jpeg\n")
        out.write(b"FRAME\n" + planes + b"FRAME\n" + planes)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("browser-files")
    (root / "face.png").write_bytes(face_png())
    (root / "notes.txt").write_text("not a picture\n")
    sigs = root / "signatures"
    generate_signatures(
        sigs, writers=2, genuine=3, forgeries=0, layout="folder", seed=4, progress=False, workers=1
    )
    return {
        "face": root / "face.png",
        "text": root / "notes.txt",
        "ref1": sigs / "writer_01" / "001.png",
        "ref2": sigs / "writer_01" / "002.png",
        "questioned": sigs / "writer_02" / "003.png",
        "camera": _camera_y4m(root / "camera.y4m"),
    }


# -- servers ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``inkface serve`` in a subprocess on a free port, its output in ``log``."""

    def __init__(self, runs: dict[str, Path], log: Path, *extra: str) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.log = log
        command = [str(Path(sys.executable).parent / "inkface"), "serve", "--plain-logs"]
        command += [f"--run={name}={folder}" for name, folder in runs.items()]
        command += ["--port", self.url.rsplit(":", 1)[1], "--threads", "1", *extra]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        tail = self.log.read_text(errors="replace")[-2000:]
        raise AssertionError(f"inkface serve never became ready at {self.url}:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def analyze_requests(self, token: str | None = None) -> float:
        """``/v1/faces/analyze`` requests the server has counted (from ``/metrics``)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        text = httpx.get(f"{self.url}/metrics", headers=headers, timeout=5).text
        pattern = r'^inkface_requests_total\{[^}]*route="/v1/faces/analyze"[^}]*\} (\S+)$'
        return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """``full``: a smile head and a verifier; ``locked``: the smile head only, behind a
    bearer token. Both start at once (their imports overlap) and always stop."""
    root = tmp_path_factory.mktemp("browser-runs")
    smile = face_head(root / "smile")
    sig = verifier_run(root / "sig")
    started: dict[str, Server] = {}
    try:
        started["full"] = Server({"smile": smile, "sig": sig}, root / "full.log")
        started["locked"] = Server({"smile": smile}, root / "locked.log", "--token", TOKEN)
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            server.stop()


# -- browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(files: dict[str, Path]) -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert sync_playwright is not None, f"playwright is not installed: {INSTALL}"
    assert chromium is not None, f"chromium is not on PATH: {INSTALL}"
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=chromium,
            args=[
                "--use-fake-ui-for-media-stream",  # grant the camera without asking
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={files['camera']}",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (own session storage); a JavaScript exception fails the test."""
    context = browser.new_context(viewport={"width": 900, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot under tmp_path (and INKFACE_SCREENSHOTS when set)."""

    def save(page: Page, name: str) -> Path:
        path = tmp_path / name
        page.screenshot(path=str(path), full_page=True)
        keep = os.environ.get("INKFACE_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(keep) / name)
        assert path.stat().st_size > 1000
        return path

    return save


def _api_verdict(server: Server, image: Path) -> dict:
    response = httpx.post(
        f"{server.url}/v1/faces/analyze", files={"image": (image.name, image.read_bytes())}
    )
    response.raise_for_status()
    (face,) = response.json()["faces"]
    return face


def _overlay_size(page: Page, selector: str) -> tuple[int, int, int]:
    """The overlay canvas's own width and height, and its width on screen (CSS px)."""
    script = (
        "(s) => { const c = document.querySelector(s); return [c.width, c.height, c.clientWidth]; }"
    )
    return tuple(page.evaluate(script, selector))


def _overlay_alpha(page: Page, selector: str, x: float, y: float) -> int:
    """The overlay's opacity at (x, y) in canvas pixels: 0 where nothing is drawn."""
    script = """([s, x, y]) => document.querySelector(s).getContext("2d")
        .getImageData(Math.round(x), Math.round(y), 1, 1).data[3]"""
    return page.evaluate(script, [selector, x, y])


# -- photo tab -------------------------------------------------------------------------
def test_photo_upload_draws_labelled_boxes_and_a_probability_table(
    page: Page, servers: dict[str, Server], files: dict[str, Path], screenshot: Callable
) -> None:
    full = servers["full"]
    face = _api_verdict(full, files["face"])
    label = face["heads"]["smile"]["label"]
    page.goto(full.url)
    page.set_input_files("#photo-file", files["face"])
    rows = page.locator("#photo-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_contain_text(["1", "smile", label])
    expect(rows.first.locator("meter")).to_have_count(2)
    expect(page.locator("#photo-faces li")).to_have_text(re.compile(f"smile: {label} "))
    expect(page.locator("#photo-status")).to_contain_text("1 face(s) found")
    overlay = page.locator("#photo-overlay")
    expect(overlay).to_have_attribute("data-faces", "1")
    # The canvas is drawn at its size on screen, in the uploaded image's proportions.
    width, height, shown = _overlay_size(page, "#photo-overlay")
    assert width == shown > 160 and height == width  # the face image is 160 x 160
    x1, y1, x2, y2 = (v * width / 160 for v in face["box"])
    assert _overlay_alpha(page, "#photo-overlay", x2, y2) > 0  # the box's corner
    assert _overlay_alpha(page, "#photo-overlay", (x1 + x2) / 2, (y1 + y2) / 2) == 0
    screenshot(page, "photo-tab.png")


def test_a_photo_dropped_on_the_page_is_analysed(
    page: Page, servers: dict[str, Server], files: dict[str, Path]
) -> None:
    page.goto(servers["full"].url)
    expect(page.locator("#photo-drop")).to_be_visible()
    data = list(files["face"].read_bytes())
    transfer = page.evaluate_handle(
        """(bytes) => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"});
            transfer.items.add(file);
            return transfer;
        }""",
        data,
    )
    page.dispatch_event("#photo-drop", "drop", {"dataTransfer": transfer})
    expect(page.locator("#photo-table tbody tr")).to_have_count(1)
    expect(page.locator("#photo-status")).to_contain_text("dropped.png")


def test_a_non_image_shows_the_servers_message_and_request_id(
    page: Page, servers: dict[str, Server], files: dict[str, Path]
) -> None:
    page.goto(servers["full"].url)
    page.set_input_files("#photo-file", files["text"])
    error = page.locator("#photo-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Error 415")
    expect(error).to_contain_text("not an image")
    expect(error).to_contain_text(REQUEST_ID)
    expect(page.locator("#photo-stage")).to_be_hidden()


@pytest.mark.parametrize(
    ("status", "headers", "message", "advice"),
    [
        (503, {"Retry-After": "3"}, "server busy: 32 inference requests", "retry in 3 s"),
        (413, {}, "request body is over the 10,485,760-byte limit", "Choose a smaller file"),
    ],
)
def test_busy_and_too_large_answers_say_what_to_do(
    page: Page,
    servers: dict[str, Server],
    files: dict[str, Path],
    status: int,
    headers: dict,
    message: str,
    advice: str,
) -> None:
    body = {"error": "x", "message": message, "request_id": "ab" * 16}
    page.route(
        "**/v1/faces/analyze",
        lambda route: route.fulfill(status=status, headers=headers, json=body),
    )
    page.goto(servers["full"].url)
    page.set_input_files("#photo-file", files["face"])
    error = page.locator("#photo-error")
    expect(error).to_contain_text(f"Error {status}: {message}")
    expect(error).to_contain_text(advice)
    expect(error).to_contain_text(REQUEST_ID)


def test_tabs_follow_the_keyboard(page: Page, servers: dict[str, Server]) -> None:
    page.goto(servers["full"].url)
    page.focus("#tab-photo")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-webcam")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-webcam")).to_be_focused()
    expect(page.locator("#panel-webcam")).to_be_visible()
    expect(page.locator("#panel-photo")).to_be_hidden()
    page.keyboard.press("End")
    expect(page.locator("#tab-signatures")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowRight")  # wraps round
    expect(page.locator("#tab-photo")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-signatures")).to_have_attribute("tabindex", "-1")


def test_the_page_fits_a_phone_screen(
    browser: Browser, servers: dict[str, Server], files: dict[str, Path]
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    try:
        phone = context.new_page()
        phone.goto(servers["full"].url)
        phone.set_input_files("#photo-file", files["face"])
        expect(phone.locator("#photo-table tbody tr")).to_have_count(1, timeout=WAIT_MS)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the page is {width} px wide on a 360 px screen"
    finally:
        context.close()


# -- signatures tab --------------------------------------------------------------------
def _verify_form(page: Page, url: str, references: list[Path], questioned: Path) -> None:
    page.goto(url)
    page.click("#tab-signatures")
    page.set_input_files("#sig-references", references)
    page.set_input_files("#sig-questioned", questioned)


def test_signatures_show_the_decision_and_the_distance_against_the_threshold(
    page: Page, servers: dict[str, Server], files: dict[str, Path], screenshot: Callable
) -> None:
    full = servers["full"]
    refs = [files["ref1"], files["ref2"]]
    upload = [("references", (p.name, p.read_bytes())) for p in refs]
    upload.append(("questioned", (files["questioned"].name, files["questioned"].read_bytes())))
    expected = httpx.post(f"{full.url}/v1/signatures/verify", files=upload).json()
    _verify_form(page, full.url, refs, files["questioned"])
    expect(page.locator("#sig-images img")).to_have_count(3)
    page.click("#sig-form button[type=submit]")
    expect(page.locator("#sig-decision")).to_have_text(expected["decision"])
    expect(page.locator("#sig-numbers")).to_contain_text(f"threshold {expected['threshold']:.3f}")
    marker = page.locator("#sig-bar .threshold")
    expect(marker).to_be_visible()
    expect(marker).to_contain_text("threshold 0.600")
    end = max(2 * expected["threshold"], 1.1 * expected["distance"])
    left = float(marker.evaluate("node => node.style.left").rstrip("%"))
    assert left == pytest.approx(100 * expected["threshold"] / end, abs=0.01)
    fill = float(page.locator("#sig-bar .fill").evaluate("node => node.style.width").rstrip("%"))
    assert fill == pytest.approx(100 * expected["distance"] / end, abs=0.01)
    # What the verifier adds beyond the basic answer (operating point, rates, notes).
    extra = {k: v for k, v in expected.items() if k not in BASIC_VERIFY and v is not None}
    notes = extra.pop("notes", [])
    expect(page.locator("#sig-extra dt")).to_have_count(len(extra))
    if "operating_point" in extra:
        expect(page.locator("#sig-extra")).to_contain_text(extra["operating_point"])
    expect(page.locator("#sig-notes li")).to_have_text(notes)
    screenshot(page, "signatures-tab.png")


def test_operating_point_and_promised_rates_are_shown_when_present(
    page: Page, servers: dict[str, Server], files: dict[str, Path]
) -> None:
    answer = {
        "model": "sig",
        "questioned": "003.png",
        "references": ["001.png"],
        "distances": [0.7],
        "distance": 0.7,
        "similarity": 0.45,
        "threshold": 0.6,
        "decision": "forged",
        "request_id": "cd" * 16,
        "operating_point": "far=0.01",
        "far": 0.01,
        "frr": 0.2,
        "p_genuine": 0.07,
        "notes": ["a note from the verifier"],
    }
    sent: list[bytes] = []

    def answer_with_rates(route) -> None:  # the shape a run with operating points answers
        sent.append(route.request.post_data_buffer or b"")
        route.fulfill(json=answer)

    page.route("**/v1/signatures/verify", answer_with_rates)
    _verify_form(page, servers["full"].url, [files["ref1"]], files["questioned"])
    page.fill("#sig-operating-point", "far=0.01")
    page.click("#sig-form button[type=submit]")
    expect(page.locator("#sig-decision")).to_have_text("forged")
    expect(page.locator("#sig-extra dt")).to_have_count(4)
    terms = page.locator("#sig-extra dt").all_inner_texts()
    values = page.locator("#sig-extra dd").all_inner_texts()
    assert dict(zip(terms, values, strict=True)) == {
        "Operating point": "far=0.01",
        "Promised false-accept rate (FAR)": "1.0 %",
        "Promised false-reject rate (FRR)": "20.0 %",
        "Probability genuine": "7.0 %",
    }
    expect(page.locator("#sig-notes li")).to_have_text(["a note from the verifier"])
    (body,) = sent
    assert b'name="operating_point"\r\n\r\nfar=0.01\r\n' in body


def test_an_operating_point_the_run_lacks_is_explained(
    page: Page, servers: dict[str, Server], files: dict[str, Path]
) -> None:
    _verify_form(page, servers["full"].url, [files["ref1"]], files["questioned"])
    page.fill("#sig-operating-point", "far=0.5")
    page.click("#sig-form button[type=submit]")
    error = page.locator("#sig-error")
    expect(error).to_contain_text("Error 422")
    expect(error).to_contain_text("not stored in this run")
    expect(error).to_contain_text(REQUEST_ID)
    expect(page.locator("#sig-result")).to_be_hidden()


# -- webcam tab ------------------------------------------------------------------------
# Counts fetch() calls in flight, so the test can check the page never sends two at once.
COUNT_IN_FLIGHT = """
(() => {
  const plain = window.fetch.bind(window);
  window.inFlight = 0;
  window.mostInFlight = 0;
  window.fetch = async (...args) => {
    window.inFlight += 1;
    window.mostInFlight = Math.max(window.mostInFlight, window.inFlight);
    try { return await plain(...args); } finally { window.inFlight -= 1; }
  };
})();
"""


def test_webcam_frames_go_to_the_server_and_labels_are_drawn_live(
    page: Page, servers: dict[str, Server], screenshot: Callable
) -> None:
    full = servers["full"]
    before = full.analyze_requests()
    page.add_init_script(COUNT_IN_FLIGHT)
    page.goto(full.url)
    page.click("#tab-webcam")
    page.click("#cam-toggle")
    expect(page.locator("#cam-toggle")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        "Number(document.querySelector('#cam-status').dataset.frames) >= 4"
        " && Number(document.querySelector('#cam-overlay').dataset.draws) >= 3"
    )
    expect(page.locator("#cam-overlay")).to_have_attribute("data-faces", "1")
    expect(page.locator("#cam-faces li")).to_contain_text("smile: ")
    expect(page.locator("#cam-status")).to_contain_text("Live. Frames sent:")
    width, height, shown = _overlay_size(page, "#cam-overlay")
    assert width == shown and height == round(width * 240 / 320)  # the camera's 320 x 240
    screenshot(page, "webcam-tab.png")
    page.click("#cam-toggle")
    expect(page.locator("#cam-status")).to_have_text("Camera off.")
    assert page.evaluate("document.querySelector('#cam-video').srcObject") is None
    sent = int(page.locator("#cam-status").get_attribute("data-frames") or 0)
    assert sent >= 4
    assert full.analyze_requests() - before >= sent
    assert page.evaluate("window.mostInFlight") == 1


def test_a_denied_camera_says_so(page: Page, servers: dict[str, Server]) -> None:
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    page.goto(servers["full"].url)
    page.click("#tab-webcam")
    page.click("#cam-toggle")
    expect(page.locator("#cam-error")).to_contain_text("Camera permission was denied")
    expect(page.locator("#cam-status")).to_have_text("Camera unavailable.")
    expect(page.locator("#cam-toggle")).to_have_text("Start camera")


# -- token and missing models ----------------------------------------------------------
def test_the_token_prompt_appears_on_401_and_the_token_is_then_sent(
    page: Page, servers: dict[str, Server], files: dict[str, Path]
) -> None:
    page.goto(servers["locked"].url)
    prompt = page.locator("#token-form")
    expect(prompt).to_be_visible()
    expect(page.locator("#server-status")).to_contain_text("bearer token")
    expect(page.locator("#photo-file")).to_be_hidden()
    page.fill("#token-input", "wrong")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-reason")).to_contain_text("The token was refused")
    page.fill("#token-input", TOKEN)
    page.click("#token-form button[type=submit]")
    expect(prompt).to_be_hidden()
    page.set_input_files("#photo-file", files["face"])
    expect(page.locator("#photo-table tbody tr")).to_have_count(1)
    assert page.evaluate("sessionStorage.getItem('inkface.token')") == TOKEN


def test_a_tab_without_its_model_says_how_to_start_the_server(
    page: Page, servers: dict[str, Server], screenshot: Callable
) -> None:
    page.add_init_script(f"sessionStorage.setItem('inkface.token', '{TOKEN}')")
    page.goto(servers["locked"].url)
    expect(page.locator("#photo-file")).to_be_visible()  # the face head is loaded
    page.click("#tab-signatures")
    hint = page.locator('#panel-signatures [data-needs="verifier"]')
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Start the server with one")
    expect(hint).to_contain_text("inkface serve --run sig=RUN_DIR")
    expect(page.locator("#sig-form")).to_be_hidden()
    screenshot(page, "signatures-without-verifier.png")


def test_face_tabs_without_a_face_head_say_how_to_start_the_server(
    page: Page, servers: dict[str, Server]
) -> None:
    full = servers["full"]

    def verifier_only(route) -> None:  # the listing of a server started with a verifier only
        listing = httpx.get(f"{full.url}/v1/models").json()
        listing["models"] = [m for m in listing["models"] if m["role"] == "verifier"]
        route.fulfill(json=listing)

    page.route("**/v1/models", verifier_only)
    page.goto(full.url)
    for tab in ("photo", "webcam"):
        page.click(f"#tab-{tab}")
        hint = page.locator(f'#panel-{tab} [data-needs="face-head"]')
        expect(hint).to_contain_text("Start the server with one")
        expect(hint).to_contain_text("inkface serve --run mask=RUN_DIR")
        expect(page.locator(f'#panel-{tab} [data-tool="face-head"]')).to_be_hidden()
    page.click("#tab-signatures")
    expect(page.locator("#sig-form")).to_be_visible()
