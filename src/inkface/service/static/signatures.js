/* signatures.js: the verification tab: decision, distance against the threshold, images. */
"use strict";

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
