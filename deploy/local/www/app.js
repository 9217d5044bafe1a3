// The local run's status page: readiness, demo data, recorded messages.
// Plain DOM, no framework; every value is inserted as text, never as HTML.
"use strict";

const SERVICES = ["accounts", "telemetry", "orders", "billing", "notify"];
const REFRESH_MS = 3000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: cols, class: "muted" }, empty))]));
}

async function readiness(name) {
  try {
    const r = await fetch(`/status/${name}/readyz`, { cache: "no-store" });
    const text = await r.text();
    let detail = text;
    try {
      const j = JSON.parse(text);
      detail = j.status || j.title || "";
      const failing = j.failing || j.checks;
      if (failing) detail += " " + JSON.stringify(failing);
    } catch (_) { /* not JSON: show the text */ }
    if (r.status === 502 || r.status === 504) return { ok: false, label: "down", detail: "no answer (not started?)" };
    return { ok: r.status === 200, label: r.status === 200 ? "ready" : `not ready (${r.status})`, detail };
  } catch (e) {
    return { ok: false, label: "unreachable", detail: String(e) };
  }
}

async function refreshServices() {
  const results = await Promise.all(SERVICES.map(readiness));
  const rows = SERVICES.map((name, i) => {
    const s = results[i];
    return el("tr", {},
      el("td", {}, name),
      el("td", { class: s.ok ? "ok" : "bad" }, s.label),
      el("td", { class: "detail" }, s.detail.slice(0, 200)),
      el("td", {}, el("code", {}, `/api/v1/${name}/`)));
  });
  fill(document.querySelector("#services tbody"), rows, "", 4);
}

async function refreshDemo() {
  const r = await fetch("/demo.json", { cache: "no-store" });
  if (!r.ok) return;
  const demo = await r.json();
  const rows = (demo.customers || []).map((c) => el("tr", {},
    el("td", {}, `${c.customer_number} ${c.name || ""}`),
    el("td", {}, c.segment || ""),
    el("td", {}, c.delivery_mode || ""),
    el("td", {}, el("code", {}, c.site_id)),
    el("td", {}, c.login),
    el("td", {}, el("code", {}, c.password))));
  fill(document.querySelector("#demo tbody"), rows, "no demo customers", 6);
}

async function refreshMessages() {
  const r = await fetch("/recorder/messages", { cache: "no-store" });
  if (!r.ok) throw new Error(`recorder: HTTP ${r.status}`);
  const msgs = (await r.json()).slice().reverse();
  document.getElementById("msgcount").textContent = `(${msgs.length})`;
  const rows = msgs.slice(0, 100).map((m) => {
    const what = m.kind === "mail"
      ? el("details", {}, el("summary", {}, m.subject || "(no subject)"), el("pre", {}, m.text || m.html || ""),
          ...(m.attachments || []).map((a) => el("div", { class: "muted" }, `attachment ${a.filename} (${a.content_type}, ${a.size} bytes)`)))
      : el("span", {}, m.text ?? JSON.stringify(m.body));
    return el("tr", {},
      el("td", { class: "nowrap" }, new Date(m.received_at).toLocaleString()),
      el("td", {}, m.kind),
      el("td", {}, m.kind === "mail" ? (m.to || (m.rcpt_to || []).join(", ")) : (m.to || "")),
      el("td", {}, what));
  });
  fill(document.querySelector("#messages tbody"), rows, "nothing yet", 4);
}

let openDetails = new Set();
async function refresh() {
  // keep open <details> open across refreshes
  openDetails = new Set([...document.querySelectorAll("#messages details[open] summary")].map((s) => s.textContent));
  const errors = [];
  await Promise.all([refreshServices(), refreshDemo(), refreshMessages()].map((p) => p.catch((e) => errors.push(String(e)))));
  for (const s of document.querySelectorAll("#messages details summary")) {
    if (openDetails.has(s.textContent)) s.parentElement.open = true;
  }
  document.getElementById("updated").textContent =
    `updated ${new Date().toLocaleTimeString()}` + (errors.length ? ` — ${errors.join("; ")}` : "");
}

refresh();
setInterval(refresh, REFRESH_MS);
