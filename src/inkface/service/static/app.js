/* inkface's web page: three tools over the service's JSON API, no framework, no build.
 *
 * Every call goes through api(), which adds the bearer token kept in sessionStorage
 * and turns an error answer into an ApiFailure carrying the server's one-line message
 * and request id. At load the page reads /v1/models and shows each tool only when a
 * model for it is loaded (otherwise a hint on how to start the server with one). */
"use strict";

const TOKEN_KEY = "inkface.token";
const CAMERA_INTERVAL_MS = 250; // at most about four frames a second
const CAMERA_MAX_WIDTH = 640; // frames are scaled down to this width before upload
const CAMERA_JPEG_QUALITY = 0.8;
// Label colours, dark enough for white text on them.
const PALETTE = [
  "#0b7a75", "#c2410c", "#6d28d9", "#be185d", "#15803d", "#b45309", "#1d4ed8", "#7c2d12",
];
// Fields every verification answer has; the rest (operating point, rates...) are shown as extra.
const VERIFY_FIELDS = new Set([
  "model", "questioned", "references", "distances", "distance", "similarity", "threshold",
  "decision", "request_id",
]);
const EXTRA_LABELS = {
  operating_point: "Operating point",
  k: "References given",
  k_threshold: "Threshold set for (references)",
  rule: "Distances combined by",
  far: "Promised false-accept rate (FAR)",
  frr: "Promised false-reject rate (FRR)",
  far_random: "Promised FAR on random forgeries",
  p_genuine: "Probability genuine",
};
const RATE_FIELDS = new Set(["far", "frr", "far_random", "p_genuine"]);

const $ = (id) => document.getElementById(id);

/* ---- API ------------------------------------------------------------------------ */

/** An error answer (or no answer: status 0) from the service. */
class ApiFailure extends Error {
  constructor(status, message, requestId = "", retryAfter = null) {
    super(message);
    this.status = status;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/** fetch() with the bearer token; resolves to the JSON body, rejects with ApiFailure. */
async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (err) {
    throw new ApiFailure(0, "Could not reach the server (is it still running?).");
  }
  const body = await response.json().catch(() => null);
  const requestId = (body && body.request_id) || response.headers.get("X-Request-ID") || "";
  if (response.ok && body) return body;
  const message = (body && body.message) || `HTTP ${response.status} ${response.statusText}`;
  throw new ApiFailure(response.status, message, requestId, response.headers.get("Retry-After"));
}

/** What the user can do about a failure, in a sentence (added after the server's message). */
function advice(failure) {
  switch (failure.status) {
    case 0: return "";
    case 401: return "Enter the server's access token in the box at the top of the page.";
    case 413: return "Choose a smaller file (the server sets the limit with --max-body-mb).";
    case 404: return "The models this server has loaded are listed at the top of the page.";
    case 415: return "Choose an image file.";
    case 503: {
      const wait = failure.retryAfter ? `${failure.retryAfter} s` : "a few seconds";
      return `The server is busy: retry in ${wait}.`;
    }
    default:
      return failure.status >= 500 ? "A server error: give the request id to its operator." : "";
  }
}

/** Show `failure` in the alert box `box` (message, advice, request id); 401 asks for a token. */
function showError(box, failure) {
  box.replaceChildren();
  const title = failure.status ? `Error ${failure.status}: ` : "";
  box.append(element("p", "", `${title}${failure.message} ${advice(failure)}`.trim()));
  if (failure.requestId) {
    const line = element("p", "request-id", "Request id: ");
    line.append(element("code", "", failure.requestId));
    box.append(line);
  }
  box.hidden = false;
  if (failure.status === 401) askForToken(failure.message);
}

function hideError(box) {
  box.hidden = true;
  box.replaceChildren();
}

/** A new element with a class and text (text is never parsed as HTML). */
function element(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

const percent = (p) => `${(100 * p).toFixed(1)} %`;
const fixed = (x) => Number(x).toFixed(3);

/* ---- Token ---------------------------------------------------------------------- */

function askForToken(reason) {
  const refused = sessionStorage.getItem(TOKEN_KEY) ? "The token was refused. " : "";
  $("token-reason").textContent = `${refused}This server needs an access token (${reason}).`;
  $("token-form").hidden = false;
  $("token-input").focus();
}

/** The token form keeps the token for this tab's session and reloads the model list. */
function setupToken(onToken) {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    $("token-form").hidden = true;
    onToken();
  });
}

/* ---- Tabs (WAI-ARIA tabs pattern: arrow keys, Home and End move between tabs) ------- */

function setupTabs(onChange) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => selectTab(tabs, tab, onChange));
    tab.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
      selectTab(tabs, next, onChange);
      next.focus();
    });
  });
}

function selectTab(tabs, chosen, onChange) {
  for (const tab of tabs) {
    const selected = tab === chosen;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  onChange(chosen.id);
}

/* ---- Models --------------------------------------------------------------------- */

async function loadModels() {
  const status = $("server-status");
  status.textContent = "Loading the model list…";
  try {
    showModels(await api("/v1/models"));
  } catch (failure) {
    const id = failure.requestId ? ` (request id ${failure.requestId})` : "";
    status.textContent = `Could not read the model list: ${failure.message}${id}`;
    if (failure.status === 401) askForToken(failure.message);
  }
}

/** Show each tool whose model is loaded, and the hint to start the server otherwise. */
function showModels(listing) {
  for (const role of ["face-head", "verifier"]) {
    const models = listing.models.filter((m) => m.role === role);
    const loaded = models.length > 0;
    document.querySelectorAll(`[data-needs="${role}"]`).forEach((n) => { n.hidden = loaded; });
    document.querySelectorAll(`[data-tool="${role}"]`).forEach((n) => { n.hidden = !loaded; });
    document.querySelectorAll(`[data-models="${role}"]`).forEach((n) => {
      n.textContent = describeModels(role, models);
    });
  }
  fillVerifierChoice(listing.models.filter((m) => m.role === "verifier"));
  const names = listing.models.map((m) => `${m.name} (${m.role})`).join(", ") || "none";
  $("server-status").textContent = `Models: ${names}. Face detector: ${listing.detector}.`;
}

function describeModels(role, models) {
  if (role === "face-head") {
    const heads = models.map((m) => `${m.name} (${m.classes.join(", ")})`);
    return `Face heads: ${heads.join("; ")}.`;
  }
  const verifiers = models.map((m) => `${m.name} (${m.architecture}, threshold ${m.threshold})`);
  return `Verifier: ${verifiers.join("; ")}.`;
}

/** With several verifiers the request must name one: offer a choice. */
function fillVerifierChoice(verifiers) {
  const select = $("sig-model");
  select.replaceChildren(...verifiers.map((m) => new Option(m.name, m.name)));
  $("sig-model-field").hidden = verifiers.length < 2;
}

/* ---- Drawing faces -------------------------------------------------------------- */

/** The same colour for the same label everywhere on the page. */
function colourFor(label) {
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function faceColour(face) {
  const verdicts = Object.values(face.heads);
  return colourFor(verdicts.length ? verdicts[0].label : "face");
}

/** Boxes and one label line per head over an analysed image of `width` x `height`
 * pixels. CSS stretches the canvas over the photo or video; its own pixels match the
 * size it is shown at, so lines and labels stay sharp and readable at any image size. */
function drawFaces(canvas, width, height, faces) {
  const ratio = window.devicePixelRatio || 1;
  const scale = ((canvas.clientWidth || width) * ratio) / width; // image px -> canvas px
  canvas.width = Math.round(width * scale); // resizing also clears the canvas
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  const fontPx = Math.round(13 * ratio);
  const step = fontPx + Math.round(6 * ratio);
  ctx.font = `${fontPx}px sans-serif`;
  ctx.textBaseline = "middle";
  ctx.lineWidth = 2 * ratio;
  for (const face of faces) {
    const [x1, y1, x2, y2] = face.box.map((v) => v * scale);
    ctx.strokeStyle = faceColour(face);
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const lines = Object.entries(face.heads)
      .map(([head, v]) => [`${head}: ${v.label} ${percent(v.score)}`, v.label]);
    // Labels sit above the box, or inside its top edge when there is no room above.
    let y = y1 - lines.length * step >= 0 ? y1 - lines.length * step : y1;
    for (const [text, label] of lines) {
      ctx.fillStyle = colourFor(label);
      ctx.fillRect(x1, y, ctx.measureText(text).width + 8 * ratio, step);
      ctx.fillStyle = "#fff";
      ctx.fillText(text, x1 + 4 * ratio, y + step / 2);
      y += step;
    }
  }
  canvas.dataset.faces = String(faces.length);
}

/** One list item per face: "Face 1 — smile: smile (61.2 %)". */
function listFaces(list, faces) {
  list.replaceChildren(...faces.map((face, i) => {
    const item = element("li");
    const swatch = element("span", "swatch");
    swatch.style.background = faceColour(face);
    const verdicts = Object.entries(face.heads)
      .map(([head, v]) => `${head}: ${v.label} (${percent(v.score)})`);
    item.append(swatch, `Face ${i + 1} — ${verdicts.join("; ") || "no head"}`);
    return item;
  }));
}

/** One row per face and head; every class's probability as a meter. */
function fillTable(table, faces) {
  const rows = [];
  faces.forEach((face, i) => {
    for (const [head, verdict] of Object.entries(face.heads)) {
      const row = element("tr");
      const label = element("td", "label", verdict.label);
      label.style.color = colourFor(verdict.label);
      const number = element("td", "", String(i + 1));
      row.append(number, element("td", "", head), label, probabilityCell(verdict));
      rows.push(row);
    }
  });
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
}

function probabilityCell(verdict) {
  const cell = element("td", "probabilities");
  const sorted = Object.entries(verdict.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [name, p] of sorted) {
    const meter = element("meter");
    meter.min = 0;
    meter.max = 1;
    meter.value = p;
    meter.setAttribute("aria-label", name);
    const line = element("div", "probability");
    line.append(element("span", "class-name", name), meter, element("span", "", percent(p)));
    cell.append(line);
  }
  return cell;
}

/* ---- Photo tab ------------------------------------------------------------------ */

function setupPhoto() {
  const input = $("photo-file");
  input.addEventListener("change", () => input.files[0] && analysePhoto(input.files[0]));
  const drop = $("photo-drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault(); // without it the browser would open the dropped file itself
    drop.classList.add("dragging");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) analysePhoto(file);
  });
}

async function analysePhoto(file) {
  const image = $("photo-image");
  hideError($("photo-error"));
  $("photo-status").textContent = `Analysing ${file.name}…`;
  if (image.src) URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(file);
  $("photo-stage").hidden = false;
  drawFaces($("photo-overlay"), 1, 1, []);
  listFaces($("photo-faces"), []);
  fillTable($("photo-table"), []);
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const result = await api("/v1/faces/analyze", { method: "POST", body: form });
    drawFaces($("photo-overlay"), result.width, result.height, result.faces);
    listFaces($("photo-faces"), result.faces);
    fillTable($("photo-table"), result.faces);
    const ms = Object.values(result.timings_ms).reduce((a, b) => a + b, 0);
    const found = result.faces.length ? `${result.faces.length} face(s)` : "No face";
    const size = `${result.width}×${result.height}`;
    const took = `${ms.toFixed(0)} ms`;
    $("photo-status").textContent = `${found} found in ${result.name} (${size}, ${took}).`;
  } catch (failure) {
    $("photo-stage").hidden = true;
    $("photo-status").textContent = "";
    showError($("photo-error"), failure);
  }
}

/* ---- Webcam tab ----------------------------------------------------------------- */

/** The camera's state; `generation` changes on every stop so late answers are dropped. */
function newCamera() {
  return {
    stream: null, timer: null, generation: 0, sent: 0, answered: 0, frame: element("canvas"),
  };
}

function setupWebcam(camera) {
  $("cam-toggle").addEventListener("click", () => {
    if (camera.stream) stopCamera(camera, "Camera off.");
    else startCamera(camera);
  });
}

async function startCamera(camera) {
  hideError($("cam-error"));
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showCameraProblem("This browser gives the page no camera: open it over HTTPS or from "
      + "localhost (http://127.0.0.1:PORT), in a browser with camera support.");
    return;
  }
  $("cam-status").textContent = "Asking for the camera…";
  try {
    camera.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
  } catch (err) {
    showCameraProblem(cameraMessage(err));
    return;
  }
  const video = $("cam-video");
  video.srcObject = camera.stream;
  await video.play().catch(() => {}); // a muted inline video may autoplay; frames still flow
  $("cam-stage").hidden = false;
  $("cam-toggle").textContent = "Stop camera";
  $("cam-toggle").setAttribute("aria-pressed", "true");
  camera.sent = 0;
  camera.answered = 0;
  scheduleFrame(camera, 0);
}

function cameraMessage(err) {
  switch (err && err.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera permission was denied. Allow the camera for this site in the browser's "
        + "settings, then press Start camera again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found on this device.";
    case "NotReadableError":
    case "AbortError":
      return "The camera is busy (another application may be using it) or could not start.";
    default:
      return `The camera could not start (${err && err.name}: ${err && err.message}).`;
  }
}

function showCameraProblem(message) {
  $("cam-status").textContent = "Camera unavailable.";
  $("cam-error").replaceChildren(element("p", "", message));
  $("cam-error").hidden = false;
}

function stopCamera(camera, note) {
  camera.generation += 1;
  clearTimeout(camera.timer);
  if (camera.stream) camera.stream.getTracks().forEach((track) => track.stop());
  camera.stream = null;
  $("cam-video").srcObject = null;
  $("cam-stage").hidden = true;
  $("cam-toggle").textContent = "Start camera";
  $("cam-toggle").setAttribute("aria-pressed", "false");
  $("cam-status").textContent = note;
}

/** The next frame goes out `delay` ms from now; frames are only scheduled after the
 * previous answer, so at most one request is ever in flight. */
function scheduleFrame(camera, delay) {
  const generation = camera.generation;
  camera.timer = setTimeout(() => sendFrame(camera, generation), Math.max(0, delay));
}

async function sendFrame(camera, generation) {
  const video = $("cam-video");
  if (generation !== camera.generation) return;
  if (!video.videoWidth) return scheduleFrame(camera, 50); // no frame decoded yet
  const started = performance.now();
  const blob = await grabFrame(video, camera.frame);
  if (!blob) return scheduleFrame(camera, CAMERA_INTERVAL_MS); // the encoder gave nothing
  const form = new FormData();
  form.append("image", blob, "frame.jpg");
  camera.sent += 1;
  try {
    const result = await api("/v1/faces/analyze", { method: "POST", body: form });
    if (generation !== camera.generation) return; // stopped while the frame was out
    camera.answered += 1;
    showFrameResult(camera, result, performance.now() - started);
    scheduleFrame(camera, CAMERA_INTERVAL_MS - (performance.now() - started));
  } catch (failure) {
    if (generation !== camera.generation) return;
    if (failure.status === 503) { // busy: wait as told and keep going
      $("cam-status").textContent = `Server busy; retrying. Frames sent: ${camera.sent}.`;
      return scheduleFrame(camera, 1000 * (Number(failure.retryAfter) || 1));
    }
    stopCamera(camera, "Camera stopped after an error.");
    showError($("cam-error"), failure);
  }
}

/** The current video frame as a JPEG, at most CAMERA_MAX_WIDTH wide. */
function grabFrame(video, canvas) {
  const scale = Math.min(1, CAMERA_MAX_WIDTH / video.videoWidth);
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", CAMERA_JPEG_QUALITY));
}

function showFrameResult(camera, result, ms) {
  const overlay = $("cam-overlay");
  drawFaces(overlay, result.width, result.height, result.faces);
  overlay.dataset.draws = String(Number(overlay.dataset.draws) + 1);
  listFaces($("cam-faces"), result.faces);
  const status = $("cam-status");
  status.dataset.frames = String(camera.sent);
  status.textContent = `Live. Frames sent: ${camera.sent}; faces in the latest: `
    + `${result.faces.length}; round trip ${ms.toFixed(0)} ms.`;
}

/* ---- Signatures tab ------------------------------------------------------------- */

function setupSignatures() {
  const previews = () => {
    showSignatureImages([...$("sig-references").files], $("sig-questioned").files[0]);
  };
  $("sig-references").addEventListener("change", previews);
  $("sig-questioned").addEventListener("change", previews);
  $("sig-form").addEventListener("submit", (event) => {
    event.preventDefault();
    verifySignatures();
  });
}

async function verifySignatures() {
  const form = new FormData();
  for (const file of $("sig-references").files) form.append("references", file, file.name);
  form.append("questioned", $("sig-questioned").files[0]);
  const point = $("sig-operating-point").value.trim();
  if (point) form.append("operating_point", point);
  if (!$("sig-model-field").hidden) form.append("model", $("sig-model").value);
  hideError($("sig-error"));
  $("sig-result").hidden = true;
  $("sig-status").textContent = "Verifying…";
  try {
    showDecision(await api("/v1/signatures/verify", { method: "POST", body: form }));
    $("sig-status").textContent = "";
  } catch (failure) {
    $("sig-status").textContent = "";
    showError($("sig-error"), failure);
  }
}

/** The decision, the distance on a bar with the threshold marked, and any extra fields. */
function showDecision(result) {
  const decision = $("sig-decision");
  decision.textContent = result.decision;
  decision.className = result.decision === "genuine" ? "genuine" : "forged";
  // The bar runs from 0 to twice the threshold (further when the distance is beyond it).
  const end = Math.max(2 * result.threshold, 1.1 * result.distance);
  const bar = $("sig-bar");
  bar.querySelector(".fill").style.width = `${(100 * result.distance) / end}%`;
  bar.querySelector(".fill").className = `fill ${decision.className}`;
  bar.querySelector(".threshold").style.left = `${(100 * result.threshold) / end}%`;
  bar.querySelector(".threshold span").textContent = `threshold ${fixed(result.threshold)}`;
  bar.setAttribute("aria-label", `distance ${fixed(result.distance)} against the threshold `
    + `${fixed(result.threshold)}: genuine at or below it, forged above`);
  $("sig-numbers").textContent = `Distance ${fixed(result.distance)} (${result.rule || "mean"} `
    + `over ${result.distances.length} reference(s): ${result.distances.map(fixed).join(", ")}); `
    + `threshold ${fixed(result.threshold)}; similarity ${fixed(result.similarity)}. `
    + `Model: ${result.model}.`;
  showExtraFields(result);
  $("sig-result").hidden = false;
}

/** Operating point, promised error rates, p_genuine, notes... whatever the verifier adds
 * (fields it leaves null, such as rates a run does not know, are left out). */
function showExtraFields(result) {
  const list = $("sig-extra");
  list.replaceChildren();
  for (const [key, value] of Object.entries(result)) {
    if (VERIFY_FIELDS.has(key) || key === "notes" || value === null || value === undefined) {
      continue;
    }
    const term = element("dt", "", EXTRA_LABELS[key] || key);
    list.append(term, element("dd", "", formatValue(key, value)));
  }
  const notes = Array.isArray(result.notes) ? result.notes : [];
  $("sig-notes").replaceChildren(...notes.map((note) => element("li", "", String(note))));
}

function formatValue(key, value) {
  if (typeof value === "number") return RATE_FIELDS.has(key) ? percent(value) : String(value);
  if (Array.isArray(value)) return value.map((v) => formatValue(key, v)).join("; ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${k}: ${formatValue(k, v)}`).join(", ");
  }
  return String(value);
}

/** The references and the questioned signature side by side (local files, not uploaded). */
function showSignatureImages(references, questioned) {
  const box = $("sig-images");
  for (const img of box.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  const items = references.map((file, i) => [file, `Reference ${i + 1}`]);
  if (questioned) items.push([questioned, "Questioned"]);
  box.replaceChildren(...items.map(([file, role]) => {
    const figure = element("figure", role === "Questioned" ? "questioned" : "");
    const img = element("img");
    img.src = URL.createObjectURL(file);
    img.alt = `${role}: ${file.name}`;
    figure.append(img, element("figcaption", "", `${role}: ${file.name}`));
    return figure;
  }));
}

/* ---- Start ---------------------------------------------------------------------- */

function main() {
  const camera = newCamera();
  setupTabs((tabId) => {
    if (tabId !== "tab-webcam" && camera.stream) stopCamera(camera, "Camera off.");
  });
  setupToken(loadModels);
  setupPhoto();
  setupWebcam(camera);
  setupSignatures();
  loadModels();
}

document.addEventListener("DOMContentLoaded", main);
