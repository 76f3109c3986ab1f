/* webcam.js: the camera tab; one frame in flight at a time, labels drawn over the video. */
"use strict";

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
