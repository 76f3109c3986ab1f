/* app.js: start-up (load after common.js, faces.js, webcam.js and signatures.js). */
"use strict";

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
