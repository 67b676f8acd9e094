// The comparison page: pick a file under the root, options (a form built from the JSON Schema), backends;
// POST /compare; every render side by side with its status, metrics and diff image. No external scripts.
// Deep link: ?token=T&input=PATH&backends=a,b&options=JSON&run=1 runs a comparison on load.
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
const state = { dir: params.get("dir") || "", input: params.get("input") || "", fields: {} };

function api(path, init) {
  const opts = Object.assign({}, init || {});
  opts.headers = Object.assign({ "X-Dcmharness-Token": token }, opts.headers || {});
  return fetch(path, opts).then(async (r) => {
    const body = await r.json();
    if (!r.ok && body && body.error) throw new Error(body.error.code + ": " + body.error.message);
    return body;
  });
}
function withToken(url) { return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token); }
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function setStatus(text) { document.getElementById("status-line").textContent = text; }

async function listDir(dir) {
  const body = await api("/files?dir=" + encodeURIComponent(dir));
  state.dir = body.dir;
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); listDir(""); } }, "root"),
    " / " + body.dir);
  const ul = document.getElementById("files");
  ul.replaceChildren();
  if (body.dir) {
    const up = body.dir.split("/").slice(0, -1).join("/");
    ul.append(el("li", { class: "dir", onclick: () => listDir(up) }, ".."));
  }
  if (body.entries.some((e) => !e.dir && e.name === "report.html")) {
    const rel = (body.dir ? body.dir + "/" : "") + "report.html";
    ul.append(el("li", { class: "report" }, el("a", { href: "/root/" + rel, target: "_blank", id: "report-link" },
      "conformance report of this folder")));
  }
  for (const e of body.entries) {
    const li = el("li", { class: e.dir ? "dir" : "file", "data-path": e.path }, e.name);
    li.addEventListener("click", () => {
      if (e.dir) listDir(e.path);
      else if (/\.html?$/i.test(e.name)) window.open("/root/" + e.path, "_blank");  // a report: shown, not run
      else choose(e.path).catch((err) => setStatus(String(err)));
    });
    if (e.path === state.input) li.classList.add("chosen");
    ul.append(li);
  }
}
async function choose(path) {
  state.input = path;
  document.getElementById("selected").textContent = path;
  document.querySelectorAll("#files li").forEach((li) => li.classList.toggle("chosen", li.dataset.path === path));
  document.getElementById("compare").disabled = false;
  const info = document.getElementById("file-info");
  const frameRow = document.getElementById("frame-row");
  info.textContent = "";
  frameRow.hidden = true;
  const resp = await api("/run", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ op: "info", input: path }) });
  if (state.input !== path) return;
  if (!resp.ok) { info.textContent = resp.error.code + ": " + resp.error.message; return; }
  const r = resp.result;
  info.textContent = r.columns + " x " + r.rows + ", " + r.frames + (r.frames === 1 ? " frame, " : " frames, ") +
    (r.modality || "?") + ", " + r.photometric;
  const slider = document.getElementById("frame");
  slider.max = String(Math.max(0, r.frames - 1));
  slider.value = "0";
  document.getElementById("frame-value").textContent = "0";
  frameRow.hidden = r.frames <= 1;
}
function onFrame() {
  const v = document.getElementById("frame").value;
  document.getElementById("frame-value").textContent = v;
  if (state.fields.frame) state.fields.frame.input.value = v;
}
async function onUpload(ev) {
  const file = ev.target.files[0];
  if (!file) return;
  setStatus("uploading " + file.name + "…");
  try {
    const up = await api("/upload?name=" + encodeURIComponent(file.name), { method: "POST", body: file });
    setStatus("uploaded " + file.name + " (" + up.size + " bytes)");
    await choose(up.path);
  } catch (err) { setStatus("upload refused: " + (err.message || err)); }
}

// One form field per option of the schema; a field left empty is not sent (the contract's default applies).
function mainType(prop) {
  const alts = (prop.anyOf || [prop]).filter((a) => a.type !== "null");
  if (alts.length === 1) return alts[0];
  return { type: "json" };
}
function buildForm(schema) {
  const props = schema.$defs.ToImageOptions.properties;
  const form = document.getElementById("options");
  form.replaceChildren();
  for (const [name, prop] of Object.entries(props)) {
    const t = mainType(prop);
    let input;
    if (t.enum) {
      input = el("select", { name }, el("option", { value: "" }, "(default)"));
      for (const v of t.enum) input.append(el("option", { value: JSON.stringify(v) }, String(v)));
    } else if (t.type === "boolean") {
      input = el("select", { name }, el("option", { value: "" }, "(default)"),
        el("option", { value: "true" }, "true"), el("option", { value: "false" }, "false"));
    } else if (t.type === "integer" || t.type === "number") {
      input = el("input", { name, type: "number", step: t.type === "integer" ? "1" : "any" });
      if (t.minimum !== undefined) input.min = t.minimum;
      if (t.maximum !== undefined) input.max = t.maximum;
    } else {
      input = el("input", { name, type: "text", placeholder: "JSON or text" });
    }
    state.fields[name] = { input, type: t.enum ? "enum" : t.type };
    form.append(el("label", { title: prop.description || "" }, name, input));
  }
}
function optionsFromForm() {
  const out = {};
  for (const [name, f] of Object.entries(state.fields)) {
    const raw = f.input.value.trim();
    if (raw === "") continue;
    if (f.type === "enum" || f.type === "boolean") out[name] = JSON.parse(raw);
    else if (f.type === "integer" || f.type === "number") out[name] = Number(raw);
    else { try { out[name] = JSON.parse(raw); } catch (e) { out[name] = raw; } }
  }
  return out;
}
function fillForm(options) {
  for (const [name, v] of Object.entries(options)) {
    const f = state.fields[name];
    if (!f) continue;
    if (f.type === "integer" || f.type === "number") f.input.value = String(v);
    else if (f.type === "enum" || f.type === "boolean") f.input.value = JSON.stringify(v);
    else f.input.value = typeof v === "string" ? v : JSON.stringify(v);
  }
}

async function loadBackends(wanted) {
  const rows = await api("/backends");
  fillOpBackends(rows);
  const box = document.getElementById("backends");
  box.replaceChildren();
  for (const r of rows) {
    if (r.name === "python_ref" || !r.ops.includes("to_image")) continue;
    const cb = el("input", { type: "checkbox", value: r.name });
    cb.disabled = !r.available;
    cb.checked = r.available && (wanted ? wanted.includes(r.name) : true);
    box.append(el("label", { title: r.available ? r.version || "" : r.reason || "" }, cb, " " + r.name), " ");
  }
}
function chosenBackends() {
  return [...document.querySelectorAll("#backends input:checked")].map((c) => c.value);
}

// Pixel probe: the value under the cursor in every render at once (gray: one number; colour: r,g,b).
const pixels = new Map();
function readPixels(img) {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}
function probe(x, y) {
  document.getElementById("probe-at").textContent = "pixel (" + x + ", " + y + ")";
  for (const c of document.querySelectorAll("#results .card")) {
    const data = pixels.get(c.dataset.backend);
    const out = c.querySelector(".probe");
    if (!data || !out) continue;
    if (x < 0 || y < 0 || x >= data.width || y >= data.height) { out.textContent = "outside"; continue; }
    const i = (y * data.width + x) * 4;
    const [r, g, b] = [data.data[i], data.data[i + 1], data.data[i + 2]];
    out.textContent = "value at (" + x + ", " + y + "): " + (r === g && g === b ? r : r + "," + g + "," + b);
    out.dataset.value = r === g && g === b ? String(r) : r + "," + g + "," + b;
  }
}
function allLoaded() {
  const imgs = [...document.querySelectorAll("#results img.render")];
  return Promise.all(imgs.map((img) => (img.complete && img.naturalWidth ? Promise.resolve() :
    new Promise((ok) => { img.addEventListener("load", ok); img.addEventListener("error", ok); }))));
}

// A/B: two renders stacked; the slider fades B over A (0: only A, 100: only B).
function buildAB(res) {
  const box = document.getElementById("ab");
  const ok = [res.reference, ...res.results].filter((r) => r.output_url);
  if (ok.length < 2) { box.hidden = true; return; }
  const pick = (name, chosen) => {
    const sel = el("select", { id: "ab-" + name });
    for (const r of ok) sel.append(el("option", { value: r.backend }, r.backend));
    sel.value = chosen;
    return sel;
  };
  const a = pick("a", ok[0].backend);
  const b = pick("b", ok[1].backend);
  const fade = el("input", { id: "ab-fade", type: "range", min: "0", max: "100", value: "50" });
  const imgA = el("img", { class: "render" });
  const imgB = el("img", { class: "render ab-top" });
  const src = (name) => withToken(ok.find((r) => r.backend === name).output_url);
  const update = () => { imgA.src = src(a.value); imgB.src = src(b.value); imgB.style.opacity = fade.value / 100; };
  for (const e of [a, b, fade]) e.addEventListener("input", update);
  update();
  box.replaceChildren(el("h3", {}, "A/B"), "A ", a, " B ", b, " ", fade, el("div", { class: "ab-stack" }, imgA, imgB));
  box.hidden = false;
}

function fmt(v) { return v === null || v === undefined ? "–" : (typeof v === "number" ? +v.toFixed(4) : v); }
function card(r, isRef) {
  const status = isRef ? (r.ok ? "reference" : "reference_error") : r.status;
  const c = el("div", { class: "card", "data-backend": r.backend, "data-status": status },
    el("h3", {}, (isRef ? "reference: " : "") + r.backend + (r.backend_version ? " " + r.backend_version : "")),
    el("div", { class: "status " + status }, status));
  if (r.output_url) {
    const img = el("img", { class: "render", alt: r.backend });
    img.addEventListener("load", () => {
      img.dataset.loaded = img.naturalWidth + "x" + img.naturalHeight;
      pixels.set(r.backend, readPixels(img));
    });
    img.addEventListener("mousemove", (ev) => {
      const x = Math.floor(ev.offsetX * img.naturalWidth / img.clientWidth);
      const y = Math.floor(ev.offsetY * img.naturalHeight / img.clientHeight);
      probe(x, y);
    });
    img.src = withToken(r.output_url);
    c.append(img);
  }
  if (r.output_url) c.append(el("div", { class: "probe" }));
  if (r.error) c.append(el("div", { class: "why error-message" }, r.error.code + ": " + r.error.message));
  if (!isRef && r.metrics) {
    const m = r.metrics;
    const t = el("table", { class: "metrics" });
    for (const k of ["max_abs_diff", "mean_abs_diff", "rmse", "psnr", "frac_diff_gt1"]) {
      const shown = k === "psnr" && m[k] === null && m.max_abs_diff === 0 ? "∞" : fmt(m[k]);  // identical
      t.append(el("tr", {}, el("td", {}, k), el("td", { class: "metric", "data-metric": k }, shown)));
    }
    c.append(t);
  }
  if (r.diff_image) c.append(el("img", { class: "diff", src: r.diff_image, alt: "difference" }));
  if (r.divergence) {
    c.append(el("div", { class: "why divergence" }, "registry " + r.divergence.id + ": " + r.divergence.cause +
      " (" + r.divergence.source + ")"));
  }
  return c;
}
async function runCompare() {
  const results = document.getElementById("results");
  const body = { input: state.input, options: optionsFromForm(), backends: chosenBackends() };
  setStatus("comparing " + body.input + " on " + body.backends.join(", ") + "…");
  document.body.dataset.state = "running";
  try {
    const res = await api("/compare", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    pixels.clear();
    results.replaceChildren(card(res.reference, true), ...res.results.map((r) => card(r, false)));
    buildAB(res);
    await allLoaded();
    const at = (params.get("probe") || "").split(",").map(Number);
    if (at.length === 2 && at.every(Number.isInteger)) probe(at[0], at[1]);
    setStatus(res.input + ": " + res.results.map((r) => r.backend + " " + r.status).join(", ") +
      " (" + Math.round(res.duration_ms) + " ms)");
  } catch (err) {
    results.replaceChildren(el("div", { class: "card error-message" }, String(err.message || err)));
    setStatus("failed");
  }
  document.body.dataset.state = "done";
}

// The other ops, shown the way people read them: info and stats as tables, histogram as a plot, dump as a tree,
// validate as the list of its findings.
function table(rows, head) {
  const t = el("table", {});
  if (head) t.append(el("tr", {}, ...head.map((h) => el("th", {}, h))));
  for (const r of rows) t.append(el("tr", {}, ...r.map((v) => el("td", {}, fmt(v)))));
  return t;
}
function showInfo(result) {
  return table(Object.entries(result).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v]));
}
function showStats(result) {
  const pcts = Object.keys(result.frames[0] ? result.frames[0].percentiles || {} : {});
  const head = ["frame", "count", "min", "max", "mean", "std", "unique", ...pcts.map((p) => "p" + p)];
  const rows = result.frames.map((f) => [f.frame, f.count, f.min, f.max, f.mean, f.std, f.unique,
    ...pcts.map((p) => f.percentiles[p])]);
  const t = table(rows, head);
  t.classList.add("stats");
  return el("div", {}, "values: " + result.values, t);
}
function showHistogram(result) {
  const box = el("div", {});
  for (const f of result.frames) {
    const w = 512, h = 160, peak = Math.max(1, ...f.counts);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "histogram");
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.dataset.bins = String(f.counts.length);
    f.counts.forEach((n, i) => {
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const bw = w / f.counts.length, bh = (n / peak) * h;
      r.setAttribute("x", (i * bw).toFixed(2)); r.setAttribute("width", Math.max(bw - 0.2, 0.5).toFixed(2));
      r.setAttribute("y", (h - bh).toFixed(2)); r.setAttribute("height", bh.toFixed(2));
      r.setAttribute("data-count", n);
      svg.append(r);
    });
    box.append(el("div", {}, "frame " + f.frame + ": " + f.range[0] + " .. " + f.range[1] + " (" + result.values +
      "), " + f.counts.length + " bins, peak " + peak), svg);
  }
  return box;
}
function dumpNode(tag, item) {
  const vr = item.vr || "";
  const values = item.Value || [];
  if (vr === "SQ") {
    const d = el("details", { "data-tag": tag }, el("summary", {}, tag + " SQ (" + values.length + " items)"));
    values.forEach((ds, i) => {
      const inner = el("details", {}, el("summary", {}, "item " + (i + 1)));
      for (const [t, v] of Object.entries(ds || {})) inner.append(dumpNode(t, v));
      d.append(inner);
    });
    return d;
  }
  const shown = values.map((v) => (v && typeof v === "object" ? (v.Alphabetic || JSON.stringify(v)) : v)).join("\\");
  const bulk = item.BulkDataURI ? "(bulk data)" : item.InlineBinary !== undefined ? "(inline binary)" : "";
  return el("div", { class: "leaf", "data-tag": tag }, tag + " " + vr + " " + (shown || bulk));
}
function showValidate(result) {
  const verdict = el("div", { class: "validity", "data-valid": String(result.valid) },
    (result.valid ? "valid" : "not valid") + " (" + (result.iod || "unknown IOD") + "): " + result.errors +
    " errors, " + result.warnings + " warnings; " + result.validator);
  const rows = result.findings.map((f) => [f.severity, f.kind, f.tag || "", f.keyword || "", f.path || "",
    f.module || "", f.message]);
  const t = table(rows, ["severity", "kind", "tag", "keyword", "path", "module", "message"]);
  t.classList.add("findings");
  return el("div", {}, verdict, t);
}
async function showDump(resp) {
  const r = await fetch(withToken("/outputs?path=" + encodeURIComponent(resp.outputs[0])));
  const ds = await r.json();
  const root = el("details", { open: "" }, el("summary", {}, resp.result.attributes + " attributes"));
  for (const [tag, item] of Object.entries(ds)) root.append(dumpNode(tag, item));
  return root;
}
async function runOp(op, backend) {
  const out = document.getElementById("op-result");
  const req = { op, input: state.input, backend };
  const resp = await api("/run", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(req) });
  const box = el("div", { class: "op-out", "data-op": op, "data-ok": String(resp.ok) },
    el("h3", {}, op + " on " + backend + ": " + state.input));
  if (!resp.ok) box.append(el("div", { class: "why error-message" }, resp.error.code + ": " + resp.error.message));
  else if (op === "info") box.append(showInfo(resp.result));
  else if (op === "stats") box.append(showStats(resp.result));
  else if (op === "histogram") box.append(showHistogram(resp.result));
  else if (op === "dump") box.append(await showDump(resp));
  else if (op === "validate") box.append(showValidate(resp.result));
  else box.append(el("pre", {}, JSON.stringify(resp.result, null, 1)));
  out.prepend(box);
}
function fillOpBackends(rows) {
  const pick = () => {
    const op = document.getElementById("op-name").value;
    const sel = document.getElementById("op-backend");
    sel.replaceChildren(...rows.filter((r) => r.available && r.ops.includes(op))
      .map((r) => el("option", { value: r.name }, r.name)));
  };
  document.getElementById("op-name").addEventListener("change", pick);
  pick();
}

async function start() {
  document.getElementById("compare").addEventListener("click", runCompare);
  document.getElementById("frame").addEventListener("input", onFrame);
  document.getElementById("upload").addEventListener("change", onUpload);
  document.getElementById("op-run").addEventListener("click", () => {
    if (!state.input) { setStatus("pick a file first"); return; }
    runOp(document.getElementById("op-name").value, document.getElementById("op-backend").value)
      .catch((err) => setStatus(String(err.message || err)));
  });
  try {
    const [schema] = await Promise.all([api("/schema"), listDir(state.dir)]);
    buildForm(schema);
    await loadBackends(params.get("backends") ? params.get("backends").split(",") : null);
  } catch (err) {
    setStatus("cannot reach the server: " + (err.message || err) + " (open the URL printed at start)");
    document.body.dataset.state = "done";
    return;
  }
  setStatus("ready");
  const report = document.getElementById("report-link");
  if (params.get("open") === "report" && report) { location.assign(report.href); return; }
  if (state.input) await choose(state.input);
  if (params.get("options")) fillForm(JSON.parse(params.get("options")));
  if (params.get("run") === "1" && state.input) await runCompare();
  for (const op of (params.get("ops") || "").split(",").filter(Boolean).reverse()) {
    if (state.input) await runOp(op, params.get("op_backend") || "python_ref");
  }
  document.body.dataset.state = params.get("run") === "1" || params.get("ops") ? "done" : "ready";
}
start();
