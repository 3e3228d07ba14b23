// Updraft web UI: progressive enhancement only; every form works without this file.
"use strict";

// Forms marked data-confirm ask before they are sent (delete, cancel).
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset && e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

// Elements with data-refresh="N" reload their content from the server every N seconds while the
// tab is visible, so status changes show up without a reload of the page. When the fresh copy no
// longer has data-refresh (a rollout that finished), the refreshing stops.
for (const el of document.querySelectorAll("[data-refresh][id]")) {
  const every = Math.max(2, Number(el.dataset.refresh) || 5) * 1000;
  const timer = setInterval(async () => {
    if (document.hidden) return;
    try {
      const res = await fetch(location.href, { credentials: "same-origin" });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = doc.getElementById(el.id);
      if (!fresh) return;
      if (fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
      if (!fresh.hasAttribute("data-refresh")) {
        clearInterval(timer);
        el.removeAttribute("data-refresh");
      }
    } catch (_) { /* offline for a moment: try again next tick */ }
  }, every);
}

// Artifact upload: drag and drop onto the zone or pick a file; the file streams to the server
// with XMLHttpRequest so a progress bar can follow it.
for (const form of document.querySelectorAll("form[data-upload]")) {
  const input = form.querySelector("input[type=file]");
  const zone = form.querySelector(".dropzone");
  const bar = form.querySelector("progress");
  const status = form.querySelector("[data-upload-status]");
  const send = (file) => {
    const data = new FormData();
    data.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Uploading " + file.name + "…";
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) bar.value = ev.loaded / ev.total; };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        location.href = location.pathname + "?notice=" + encodeURIComponent("Uploaded " + file.name + ".");
        return;
      }
      let msg = "The upload failed (HTTP " + xhr.status + ").";
      try { msg = JSON.parse(xhr.responseText).message || msg; } catch (_) { /* not JSON */ }
      status.textContent = msg;
      status.classList.add("error");
    };
    xhr.onerror = () => { status.textContent = "The upload failed: the server could not be reached."; status.classList.add("error"); };
    xhr.send(data);
  };
  form.addEventListener("submit", (e) => {
    if (input.files.length) { e.preventDefault(); send(input.files[0]); }
  });
  if (zone) {
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
    });
  }
}

// Inputs with data-preview="URL" ask the server, as the user types (debounced), what their value
// matches; the answer (a small HTML fragment) fills the element named by data-preview-out. The form's
// "Preview" button does the same without JavaScript.
for (const input of document.querySelectorAll("input[data-preview]")) {
  const out = document.getElementById(input.dataset.previewOut);
  const form = input.form;
  let timer = 0;
  let latest = 0;
  const run = async () => {
    const seq = ++latest;
    const params = new URLSearchParams({ q: input.value });
    if (form.elements.ds) params.set("ds", form.elements.ds.value);
    try {
      const res = await fetch(input.dataset.preview + "?" + params, { credentials: "same-origin" });
      const html = await res.text();
      if (seq !== latest || !(res.ok || res.status === 400)) return;
      out.innerHTML = html;
      if (res.status === 400) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    } catch (_) { /* offline for a moment: the next keystroke tries again */ }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(run, 400); };
  input.addEventListener("input", later);
  if (form.elements.ds) form.elements.ds.addEventListener("change", later);
}

// Copy buttons (data-copy="ID") appear only where this script runs and copy the text of element ID
// (an artifact's SHA-256); without the script one click selects the whole value.
for (const btn of document.querySelectorAll("button[data-copy]")) {
  const src = document.getElementById(btn.dataset.copy);
  if (!src) continue;
  btn.hidden = false;
  btn.addEventListener("click", async () => {
    const text = src.textContent.trim();
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch (_) {
      // No clipboard API (plain HTTP on another host): select the value and try the old way.
      const range = document.createRange();
      range.selectNodeContents(src);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copied = document.execCommand("copy");
    }
    btn.firstChild.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
  });
}
