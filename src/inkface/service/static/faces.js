/* faces.js: face boxes drawn over an image, the face list and probability table, the photo tab. */
"use strict";

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
