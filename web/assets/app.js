// zccpd dashboard: plain JavaScript, no dependency. Polls /api/stats,
// /api/clients and /api/last; live streams via Server-Sent Events;
// commands via POST /api/call (NDJSON answer read as it arrives).
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, props, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
const MAX_STREAM_LINES = 200;
const MAX_POINTS = 120;

function ago(ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  if (ms < 3600000) return Math.floor(ms / 60000) + " min";
  return (ms / 3600000).toFixed(1) + " h";
}
function bodyText(b) {
  if (!b || !b.content) return "";
  const t = b.content.join(" | ");
  return b.encoding === "base64" ? "base64:" + t : t;
}
function labelsOf(labels) {
  const span = el("span");
  for (const [k, v] of Object.entries(labels || {}).sort()) {
    if (k.startsWith("zccp-")) continue;
    span.append(el("span", { className: "label", textContent: k + "=" + v }));
  }
  return span;
}
async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(await r.text());
  return r.json();
}

// ---- health and rates ------------------------------------------------
const series = { published: [], deliveries: [], dropped: [], sessions: [] };
let prevStats = null;

function drawChart(name) {
  const c = $("#chart-" + name), ctx = c.getContext("2d"), pts = series[name];
  ctx.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...pts);
  ctx.strokeStyle = name === "dropped" ? "#c0392b" : "#2d6cdf";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  pts.forEach((v, i) => {
    const x = (i / (MAX_POINTS - 1)) * c.width, y = c.height - 2 - (v / max) * (c.height - 4);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke();
}
function push(name, v) {
  series[name].push(v);
  if (series[name].length > MAX_POINTS) series[name].shift();
  $("#rate-" + name).textContent = Number.isInteger(v) ? v : v.toFixed(1);
  drawChart(name);
}
async function pollStats() {
  try {
    const s = await getJSON("api/stats");
    $("#version").textContent = "v" + s.version + " · up " + ago(s.uptime_s * 1000);
    const h = $("#health");
    h.textContent = "healthy";
    h.className = "badge ok";
    const b = s.broker;
    $("#totals").textContent = `${b.Connections} connections · ${b.Subscriptions} subscriptions · ${s.retain.Values} last values · ${b.Inflight} requests in flight · ${s.goroutines} goroutines · heap ${(s.heap_bytes / 1048576).toFixed(1)} MiB`;
    if (prevStats) {
      const dt = (Date.parse(s.time) - Date.parse(prevStats.time)) / 1000 || 1;
      push("published", Math.max(0, (b.Published - prevStats.broker.Published) / dt));
      push("deliveries", Math.max(0, (b.Deliveries - prevStats.broker.Deliveries) / dt));
      push("dropped", Math.max(0, (b.Dropped - prevStats.broker.Dropped) / dt));
    }
    push("sessions", b.Sessions);
    prevStats = s;
  } catch (e) {
    const h = $("#health");
    h.textContent = "unreachable";
    h.className = "badge bad";
  }
}

// ---- devices ---------------------------------------------------------
const gone = new Map(); // identifier -> time it left (shown struck out a while)
async function pollDevices() {
  let list;
  try { list = await getJSON("api/clients"); } catch (e) { return; }
  const tbody = $("#devices tbody"), now = Date.now(), seen = new Set();
  const rows = [];
  for (const c of list) {
    if (c.labels && c.labels.role === "dashboard") continue;
    seen.add(c.identifier);
    gone.delete(c.identifier);
    const tr = el("tr", { className: "device" },
      el("td", { textContent: c.identifier || "(anonymous)" }),
      el("td", {}, labelsOf(c.labels)),
      el("td", { textContent: ago(now - Date.parse(c.since)) }),
      el("td", { textContent: ago(now - Date.parse(c.last_seen)) + " ago" }),
      el("td", { textContent: c.published }),
      el("td", { textContent: c.delivered }),
      el("td", { textContent: c.queued_messages + " / " + (c.queued_bytes / 1024).toFixed(1) + " KiB" }),
      el("td", { textContent: c.dropped }));
    tr.dataset.id = c.identifier;
    rows.push(tr);
  }
  for (const [id, t] of gone) {
    if (now - t > 30000 || seen.has(id)) { gone.delete(id); continue; }
    const tr = el("tr", { className: "device left" }, el("td", { textContent: id }), el("td", { colSpan: 7, textContent: "left " + ago(now - t) + " ago" }));
    tr.dataset.id = id;
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  $("#devices-count").textContent = seen.size + " connected";
}
function watchPresence() {
  const es = new EventSource("api/stream?re=" + encodeURIComponent("^\\$zccp\\.presence\\."));
  es.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.address !== "$zccp.presence.join") gone.set(ev.headers["zccp-identifier"], Date.now());
    pollDevices();
  };
}

// ---- last values -----------------------------------------------------
async function pollLast() {
  const re = $("#last-filter").value || ".";
  let list;
  try {
    list = await getJSON("api/last?re=" + encodeURIComponent(re));
    $("#last-error").textContent = "";
  } catch (e) {
    $("#last-error").textContent = String(e.message || e).trim();
    return;
  }
  const rows = list.map((v) => {
    const tr = el("tr", {}, el("td", { textContent: v.address }), el("td", { className: "value", textContent: bodyText(v) }),
      el("td", { textContent: v.sender }), el("td", { textContent: ago(v.age_ms) }));
    tr.dataset.address = v.address;
    return tr;
  });
  $("#last tbody").replaceChildren(...rows);
}

// ---- live stream -----------------------------------------------------
let stream = null;
function startStream(ev) {
  ev.preventDefault();
  stopStream();
  const pattern = $("#stream-pattern").value;
  let count = 0, lost = 0;
  stream = new EventSource("api/stream?re=" + encodeURIComponent(pattern));
  $("#stream-status").textContent = "watching " + pattern;
  $("#stream-start").disabled = true;
  $("#stream-stop").disabled = false;
  stream.onmessage = (m) => {
    const d = JSON.parse(m.data), log = $("#stream-log");
    count++;
    lost += (d.missed || 0) + (d.dropped || 0);
    const hdrs = Object.entries(d.headers || {}).map(([k, v]) => k + "=" + v).join(" ");
    const li = el("li", { className: "fresh", textContent: `${new Date(d.received).toLocaleTimeString()} ${d.sender} ${d.address} {${hdrs}} ${bodyText(d)}` });
    li.dataset.address = d.address;
    log.prepend(li);
    while (log.children.length > MAX_STREAM_LINES) log.lastChild.remove();
    $("#stream-status").textContent = `watching ${pattern}: ${count} received` + (lost ? `, ${lost} dropped` : "");
  };
  stream.onerror = () => { $("#stream-status").textContent = "stream interrupted; reconnecting…"; };
}
function stopStream() {
  if (stream) stream.close();
  stream = null;
  $("#stream-start").disabled = false;
  $("#stream-stop").disabled = true;
}

// ---- command console -------------------------------------------------
function parseLabels(s) {
  const out = {};
  for (const kv of s.split(",").map((x) => x.trim()).filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new Error("labels: want k=v, got " + kv);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}
function replyRow(id) {
  let tr = $(`#console-replies tr[data-from="${CSS.escape(id)}"]`);
  if (!tr) {
    tr = el("tr", {}, el("td", { textContent: id }), el("td", { className: "status-missing", textContent: "waiting…" }), el("td", { className: "value" }), el("td"));
    tr.dataset.from = id;
    $("#console-replies tbody").append(tr);
  }
  return tr;
}
function showEvent(ev) {
  switch (ev.type) {
    case "receipt":
      $("#console-receipt").textContent = `routed to ${ev.expected ? ev.expected.length : 0} device(s)`;
      (ev.expected || []).forEach(replyRow);
      break;
    case "reply": {
      const tr = replyRow(ev.from), c = tr.children;
      tr.dataset.status = ev.status;
      c[1].textContent = ev.status + (ev.code ? " " + ev.code : "");
      c[1].className = "status-" + (ev.status === "ok" ? "ok" : "error");
      c[2].textContent = ev.status === "ok" ? bodyText(ev) : ev.reason || bodyText(ev);
      c[3].textContent = ev.rtt_ms ? ev.rtt_ms.toFixed(1) : "";
      tr.classList.add("fresh");
      break;
    }
    case "summary": {
      const n = (a) => (a ? a.length : 0);
      for (const id of ev.missing || []) { const c = replyRow(id).children; c[1].textContent = "no answer"; }
      $("#console-summary").textContent = `summary: ok ${n(ev.ok)}, failed ${n(ev.failed)}, no answer ${n(ev.missing)}`;
      break;
    }
    case "error":
      $("#console-summary").textContent = "error: " + ev.reason;
  }
}
async function runCommand(e) {
  e.preventDefault();
  const group = document.querySelector("input[name=mode]:checked").value === "group";
  const req = { method: $("#console-method").value.trim(), body: $("#console-body").value, timeout_ms: Number($("#console-timeout").value) || 5000 };
  $("#console-replies tbody").replaceChildren();
  $("#console-receipt").textContent = "";
  $("#console-summary").textContent = "running…";
  try {
    if (group) { req.group = $("#console-target").value.trim(); req.labels = parseLabels($("#console-labels").value); }
    else req.target = $("#console-target").value.trim();
    const r = await fetch("api/call", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req) });
    if (!r.ok) throw new Error(await r.text());
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line) showEvent(JSON.parse(line));
      }
    }
  } catch (err) {
    $("#console-summary").textContent = "error: " + String(err.message || err).trim();
  }
}

// ---- start -------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("#stream-form").addEventListener("submit", startStream);
  $("#stream-stop").addEventListener("click", stopStream);
  $("#console-form").addEventListener("submit", runCommand);
  $("#last-filter").addEventListener("input", pollLast);
  pollStats(); pollDevices(); pollLast();
  setInterval(pollStats, 1000);
  setInterval(pollDevices, 1000);
  setInterval(pollLast, 2000);
  watchPresence();
});
