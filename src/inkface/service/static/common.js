/* inkface's web page: three tools over the service's JSON API, no framework, no build.
 *
 * Every call goes through api(), which adds the bearer token kept in sessionStorage
 * and turns an error answer into an ApiFailure carrying the server's one-line message
 * and request id. At load the page reads /v1/models and shows each tool only when a
 * model for it is loaded (otherwise a hint on how to start the server with one). */
"use strict";
/* common.js: settings, the API client, errors, token, tabs and the model list. */
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
