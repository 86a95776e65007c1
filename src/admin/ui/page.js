"use strict";
// The control page: reads /ui/state and /ui/feed every second and changes
// things through the admin API, each change carrying the page token.
const csrf = document.querySelector("meta[name=brownout-csrf]").content;
const view = document.querySelector("meta[name=brownout-view]").content;
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));

async function api(method, path, body) {
  const init = {method, credentials: "same-origin", headers: {"x-brownout-csrf": csrf}};
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!resp.ok) throw new Error((data && data.error) || text || String(resp.status));
  return data;
}

// === Token ===
if (view === "login") {
  $("login").classList.remove("hidden");
  $("status").textContent = "signed out";
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/ui/login", {token: $("token").value});
      location.reload();
    } catch (e) { $("login-error").textContent = e.message; }
  });
} else {
  $("control").classList.remove("hidden");
  start();
}

// === Control ===
let kinds = null;
let state = null;
let lastFeed = 0;
const feed = [];

async function start() {
  kinds = await api("GET", "/ui/kinds");
  $("fault-target").addEventListener("change", fillKinds);
  $("fault-kind").addEventListener("change", fillFields);
  $("add-fault").addEventListener("submit", addFault);
  $("run-form").addEventListener("submit", startRun);
  for (const id of ["feed-listener", "feed-route", "feed-class"]) {
    $(id).addEventListener("input", renderFeed);
    $(id).addEventListener("change", renderFeed);
  }
  await refresh();
  setInterval(refresh, 1000);
}

async function refresh() {
  try {
    state = await api("GET", "/ui/state");
    const got = await api("GET", "/ui/feed?after=" + lastFeed);
    for (const item of got.items) {
      feed.push(item);
      lastFeed = Math.max(lastFeed, item.id);
    }
    feed.splice(0, Math.max(0, feed.length - 500));
    $("status").textContent = "live · " + new Date().toLocaleTimeString() + (state.recording ? "" : " · recording off: no figures or feed");
    renderTargets();
    renderRun();
    renderFeed();
    if (!$("fault-target").options.length) fillTargets();
  } catch (e) {
    $("status").textContent = "cannot reach the admin API: " + e.message;
  }
}

function figures(f) {
  if (!f) return '<span class="muted">no figures</span>';
  const p99 = f.p99_ms == null ? "–" : f.p99_ms.toFixed(1) + " ms";
  return `<span><b>${f.requests_per_s.toFixed(1)}</b> req/s</span><span><b>${(f.error_rate * 100).toFixed(1)}%</b> errors</span><span>p99 <b>${p99}</b></span>`;
}

function renderTargets() {
  $("observer").innerHTML = state.observer ? "observer: " + figures(state.observer) : "";
  $("targets").innerHTML = state.targets.map((t) => `
    <div class="target" data-target="${esc(t.name)}">
      <h3>${esc(t.name)} <span class="muted">${esc(t.protocol)} ${esc(t.listen)} → ${esc(t.upstream)}</span></h3>
      <div class="figures">${figures(t.figures)}<span><b>${t.connections}</b> open</span>${t.header_faults ? '<span class="muted">header faults on</span>' : ""}</div>
      ${t.faults.map((f) => `
        <div class="fault ${f.on ? "on" : "off"}" data-fault="${esc(f.name)}">
          ${f.source === "run" ? '<span class="muted">run</span>' : `<input type="checkbox" class="switch" ${f.on ? "checked" : ""} aria-label="fault ${esc(f.name)} on">`}
          <span class="what">${esc(f.configured)}</span><span class="muted">applied ${f.applied}</span>
          ${f.source === "api" ? '<button class="remove" type="button">remove</button>' : ""}
        </div>`).join("") || '<p class="muted">no faults</p>'}
    </div>`).join("");
  for (const el of document.querySelectorAll(".fault")) {
    const target = el.closest(".target").dataset.target;
    const name = el.dataset.fault;
    const path = `/targets/${encodeURIComponent(target)}/faults/${encodeURIComponent(name)}`;
    const box = el.querySelector(".switch");
    if (box) box.addEventListener("change", () => change("POST", path + (box.checked ? "/on" : "/off")));
    const remove = el.querySelector(".remove");
    if (remove) remove.addEventListener("click", () => change("DELETE", path));
  }
}

async function change(method, path, body) {
  try {
    await api(method, path, body);
    $("fault-error").textContent = "";
  } catch (e) { $("fault-error").textContent = e.message; }
  await refresh();
}

// === The add-fault form, built from the kinds' table ===
function fillTargets() {
  $("fault-target").innerHTML = state.targets.map((t) => `<option value="${esc(t.name)}">${esc(t.name)}</option>`).join("");
  const listeners = ["observer", ...state.targets.map((t) => t.name)];
  $("feed-listener").innerHTML = '<option value="">all</option>' + listeners.map((l) => `<option value="${esc(l)}">${esc(l)}</option>`).join("");
  fillKinds();
}

function protocolOf(target) {
  const t = state.targets.find((x) => x.name === target);
  return t ? t.protocol : "http";
}

function fillKinds() {
  const table = kinds[protocolOf($("fault-target").value)];
  $("fault-kind").innerHTML = table.kinds.map((k) => `<option value="${esc(k.name)}">${esc(k.name)}</option>`).join("");
  fillFields();
}

function fillFields() {
  const table = kinds[protocolOf($("fault-target").value)];
  const kind = table.kinds.find((k) => k.name === $("fault-kind").value);
  if (!kind) return;
  $("fault-about").textContent = kind.about;
  const keys = ["name", "probability", ...kind.keys, ...table.common.filter((k) => k === "direction")];
  $("fault-fields").innerHTML = keys.map((key) => {
    const schema = table.keys[key] || {};
    const title = esc(schema.description || "");
    const words = schema.enum;
    const input = words
      ? `<select name="${esc(key)}"><option value=""></option>${words.map((w) => `<option>${esc(w)}</option>`).join("")}</select>`
      : (schema.type === "object" || (schema.anyOf && key === "headers"))
        ? `<textarea name="${esc(key)}" rows="2" placeholder='{"name": "value"}'></textarea>`
        : `<input name="${esc(key)}" placeholder="${esc(hint(schema))}">`;
    return `<label title="${title}">${esc(key)} ${input}</label>`;
  }).join("");
}

function hint(schema) {
  if (schema.type === "integer") return "a whole number";
  if (schema.type === "number") return "a number";
  if (schema.pattern && schema.pattern.includes("ms|s|m|h")) return "250ms";
  if (schema.allOf) return "250ms";
  return "";
}

// A value as JSON: numbers where the key takes one, JSON for tables; the
// admin API checks the rest and says what is wrong.
function typed(schema, text) {
  if ((schema.type === "integer" || schema.type === "number") && text.trim() !== "" && !isNaN(Number(text))) return Number(text);
  if (schema.type === "object" || schema.anyOf && text.trim().startsWith("{")) {
    try { return JSON.parse(text); } catch (e) { return text; }
  }
  return text;
}

async function addFault(ev) {
  ev.preventDefault();
  const target = $("fault-target").value;
  const table = kinds[protocolOf(target)];
  const body = {kind: $("fault-kind").value};
  for (const el of $("fault-fields").querySelectorAll("[name]")) {
    if (el.value.trim() === "") continue;
    body[el.name] = typed(table.keys[el.name] || {}, el.value);
  }
  try {
    await api("POST", `/targets/${encodeURIComponent(target)}/faults`, body);
    $("fault-error").textContent = "";
    for (const el of $("fault-fields").querySelectorAll("[name]")) el.value = "";
  } catch (e) { $("fault-error").textContent = e.message; }
  await refresh();
}

// === Runs ===
function renderRun() {
  const run = state.run;
  if (run) {
    const phase = run.phase ? `${esc(run.phase.name)} (${run.phase.index} of ${run.phase.of})` : "starting";
    const guards = (run.guardrails || []).map((g) => `<tr class="guard ${g.tripped ? "tripped" : ""}"><td>${esc(g.guardrail)}</td><td>${esc(g.value ?? "–")}</td><td>${g.requests}</td></tr>`).join("");
    $("run").innerHTML = `<p><b>${esc(run.title)}</b> · run ${run.id} · <span id="run-status">${esc(run.status)}</span></p>
      <p>phase <b id="run-phase">${phase}</b> · <b id="run-left">${run.left_s.toFixed(0)} s</b> left of ${run.total_s.toFixed(0)} s</p>
      ${guards ? `<table><thead><tr><th>guardrail</th><th>now</th><th>requests</th></tr></thead><tbody>${guards}</tbody></table>` : '<p class="muted">no guardrails</p>'}
      <button id="run-stop" class="danger" type="button" ${run.status !== "running" ? "disabled" : ""}>Stop run</button>`;
    $("run-stop").addEventListener("click", async () => {
      try { await api("POST", "/run/stop"); } catch (e) { $("run-error").textContent = e.message; }
      await refresh();
    });
  } else {
    $("run").innerHTML = '<p class="muted">No run in progress.</p>';
  }
  const files = state.experiments;
  const select = $("run-file");
  if (select.options.length !== files.length) {
    select.innerHTML = files.map((f) => `<option>${esc(f)}</option>`).join("");
  }
  $("run-start").disabled = !state.can_start || !files.length;
  const over = state.runs.filter((r) => !["running", "stopping"].includes(r.status));
  $("runs").innerHTML = over.map((r) => `<li>run ${r.id} <b>${esc(r.title)}</b> · ${esc(r.status)}${r.verdict ? " · " + esc(r.verdict) : ""} ·
    <a href="${esc(r.reports.html)}" target="_blank">report.html</a> <a href="${esc(r.reports.markdown)}" target="_blank">report.md</a> <a href="${esc(r.reports.json)}" target="_blank">report.json</a></li>`).join("") || '<li class="muted">None yet.</li>';
}

async function startRun(ev) {
  ev.preventDefault();
  try {
    await api("POST", "/runs", {file: $("run-file").value});
    $("run-error").textContent = "";
  } catch (e) { $("run-error").textContent = e.message; }
  await refresh();
}

// === The live feed ===
function classOf(item) {
  if (item.class) return item.class;
  return item.origin ? "failed" : "ok";
}

function renderFeed() {
  const listener = $("feed-listener").value;
  const route = $("feed-route").value.trim().toLowerCase();
  const cls = $("feed-class").value;
  const shown = feed.filter((i) =>
    (!listener || i.listener === listener) &&
    (!route || i.route.toLowerCase().includes(route) || i.path.toLowerCase().includes(route)) &&
    (!cls || (cls === "failed" ? !!i.origin : classOf(i) === cls))).slice(-100).reverse();
  $("feed").tBodies[0].innerHTML = shown.map((i) => `
    <tr class="feed-row ${i.origin ? "failed" : ""}" data-id="${i.id}">
      <td>${new Date(i.at_ms).toLocaleTimeString()}</td><td>${esc(i.listener)}</td><td>${esc(i.method)}</td><td>${esc(i.path)}</td>
      <td class="st">${esc(i.status ?? i.error ?? "")}</td><td>${i.latency_ms.toFixed(1)} ms</td>
      <td class="${esc(classOf(i))}">${esc(classOf(i))}</td><td class="fault-name">${esc(i.fault ?? "")}</td></tr>`).join("");
  for (const row of $("feed").tBodies[0].rows) {
    row.addEventListener("click", () => showSample(feed.find((i) => String(i.id) === row.dataset.id)));
  }
}

function showSample(item) {
  if (!item) return;
  const facts = `${esc(item.method)} ${esc(item.path)} at ${esc(item.listener)} → ${esc(item.status ?? item.error)} in ${item.latency_ms.toFixed(1)} ms` +
    (item.fault ? ` · fault ${esc(item.fault)}` : "") + (item.origin ? ` · origin ${esc(item.origin)}` : "");
  const sample = item.sample
    ? `<h3>Response as the user saw it</h3><pre id="sample-headers">${item.sample.headers.map(([k, v]) => esc(k) + ": " + esc(v)).join("\n")}</pre><pre id="sample-body">${esc(item.sample.body)}</pre>`
    : '<p class="muted">No response kept for this request: brownout keeps the failed responses users got at the observer (the first 2 KiB, secrets redacted).</p>';
  $("sample").innerHTML = `<p>${facts}</p>${sample}`;
  $("sample").classList.remove("hidden");
}
