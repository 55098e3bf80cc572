// The olctl inspector: the packets of one side, live from api/stream (server-sent events), and the side's
// state from api/state. Everything is built with textContent: nothing a packet holds is read as HTML.
"use strict";

const view = Number(document.body.dataset.view) || 500;
const table = document.getElementById("packets");
const rows = new Map(); // packet id → its <tbody>
let pending = [];       // packets received, not yet drawn (drawn once per animation frame)
let total = 0, ring = 0;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function announce(msg) { document.getElementById("announce").textContent = msg; }

function clock(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function sigClass(s) { return s === "valid" || s === "signed" ? "ok" : s === "invalid" || s === "missing" ? "bad" : ""; }

// row builds the <tbody> of one packet: its line, and a detail row filled when it is first opened.
function row(p) {
  const body = el("tbody", { class: "packet", "data-id": p.id });
  const label = `Packet ${p.id}: ${p.command || "?"} ${p.direction === "in" ? "received" : "sent"}`;
  const toggle = el("button", { class: "toggle", type: "button", "aria-expanded": "false", "aria-controls": "d-" + p.id,
    "aria-label": label + ", show details", tabindex: "-1", text: String(p.id) });
  const sum = el("tr", { class: "sum" },
    el("td", {}, toggle),
    el("td", { text: clock(p.time) }),
    el("td", { class: "dir-" + p.direction, text: p.direction === "in" ? "in" : "out" }),
    el("td", { class: "cmd", text: p.command + (p.replay_of ? ` (replay of #${p.replay_of})` : "") }),
    el("td", { text: p.connector }),
    el("td", { text: p.line }),
    el("td", { class: "num", text: p.items < 0 ? "" : String(p.items) }),
    el("td", { class: sigClass(p.signature), text: p.signature }),
    el("td", { class: "code " + (p.code === "OK" ? "ok" : "bad"), text: p.code }),
    el("td", { class: "num", text: p.duration_ms.toFixed(1) + " ms" }),
    el("td", { class: "outcome", text: p.outcome || "" }));
  const detail = el("tr", { id: "d-" + p.id, class: "detail-row", hidden: "" }, el("td", { colspan: "11" }));
  body.append(sum, detail);
  body.packet = p;
  toggle.addEventListener("click", () => setOpen(body, toggle.getAttribute("aria-expanded") !== "true"));
  return body;
}

async function setOpen(body, open) {
  const toggle = body.querySelector("button.toggle");
  toggle.setAttribute("aria-expanded", String(open));
  toggle.setAttribute("aria-label", toggle.getAttribute("aria-label").replace(/, (show|hide) details$/, open ? ", hide details" : ", show details"));
  const detail = body.querySelector("tr.detail-row");
  detail.hidden = !open;
  if (open) await fillDetail(body);
}

async function fillDetail(body) {
  const id = body.packet.id;
  const cell = body.querySelector("tr.detail-row > td");
  let d;
  try {
    const r = await fetch("api/packets/" + id);
    if (!r.ok) throw new Error(await r.text());
    d = await r.json();
  } catch (e) {
    cell.replaceChildren(el("p", { class: "bad", text: "Could not load the packet: " + e.message }));
    return;
  }
  const box = el("div", { class: "detail", role: "region", "aria-label": `Details of packet ${id}` });
  box.append(el("p", {}, el("strong", { text: d.direction === "in" ? "Received at " : "Sent to " }), el("code", { text: d.url })));
  if (d.fields && d.fields.length) {
    const t = el("table", { class: "fields", "aria-label": `Fields of packet ${id}, in order` },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Field" }), el("th", { scope: "col", text: "Value" }))));
    const tb = el("tbody");
    for (const f of d.fields) tb.append(el("tr", {}, el("td", { text: f.name }), el("td", { class: "value", text: f.value })));
    t.append(tb);
    box.append(el("h3", { text: "Fields" }), t);
  }
  if (d.data !== undefined) box.append(el("h3", { text: "DATA, decoded" }), el("pre", { class: "data", "aria-label": `DATA of packet ${id}`, text: JSON.stringify(d.data, null, 2) }));
  if (d.data_error) box.append(el("p", { class: "bad", text: "DATA: " + d.data_error }));
  if (d.body) box.append(el("h3", { text: "Body" }), el("pre", { class: "body", text: pretty(d.body) }));
  if (d.truncated) box.append(el("p", { class: "bad", text: "The body was longer than the inspector keeps: its fields are not shown." }));
  box.append(el("h3", { text: "Answer" + (d.status ? ` (HTTP ${d.status})` : "") }),
    el("pre", { class: "answer", "aria-label": `Answer to packet ${id}`, text: d.detail || pretty(d.answer) || "(none)" }));
  const notes = el("ol", { class: "notes", "aria-label": `Events of packet ${id}` });
  for (const n of d.notes) {
    const what = [n.item >= 0 ? `item ${n.item}` : "", n.item_id ? `#${n.item_id}` : "", n.attempt ? `attempt ${n.attempt}` : ""].filter(Boolean).join(", ");
    notes.append(el("li", { class: "note result-" + n.result, text: `${clock(n.time)} ${n.result}${n.event ? " " + n.event : ""}${what ? " (" + what + ")" : ""}${n.detail ? ": " + n.detail : ""}` }));
  }
  box.append(el("h3", { text: "Events" }), d.notes.length ? notes : el("p", { class: "empty", text: "No event recorded for its items." }));
  const actions = el("div", { class: "actions" });
  if (d.replayable) {
    const b = el("button", { type: "button", class: "replay", "aria-label": `Replay packet ${id}: post it again, signed afresh`, text: "Replay" });
    b.addEventListener("click", () => replay(id));
    actions.append(b);
  }
  if (d.curl) {
    const area = el("textarea", { readonly: "", class: "curl", rows: "5", "aria-label": `Packet ${id} as a curl command`, hidden: "" });
    area.value = d.curl;
    const b = el("button", { type: "button", class: "copy", "aria-label": `Copy packet ${id} as curl`, text: "Copy as curl" });
    b.addEventListener("click", () => copy(area));
    actions.append(b, area);
  }
  box.append(actions);
  cell.replaceChildren(box);
}

function pretty(s) {
  if (!s) return "";
  try { return JSON.stringify(JSON.parse(s), null, 2); } catch { return s; }
}

async function copy(area) {
  area.hidden = false;
  area.focus();
  area.select();
  try {
    await navigator.clipboard.writeText(area.value);
    announce("The curl command is copied.");
  } catch {
    announce("The curl command is selected: copy it with Ctrl+C.");
  }
}

async function post(url) {
  const r = await fetch(url, { method: "POST", headers: { "X-Olctl-Inspector": "1" } });
  if (!r.ok) throw new Error((await r.text()).trim());
  return r.json();
}

async function replay(id) {
  try {
    const r = await post(`api/packets/${id}/replay`);
    announce(`Packet ${id} replayed as packet ${r.id}.`);
  } catch (e) { announce(`Replay of packet ${id} failed: ${e.message}`); }
}

async function redrive(id, label) {
  try {
    const r = await post("api/redrive/" + encodeURIComponent(id));
    announce(`Redrive of ${label}: ${r.redriven} sent again.`);
  } catch (e) { announce(`Redrive of ${label} failed: ${e.message}`); }
  loadState();
}

// Keyboard: one packet button is in the tab order; ↑ ↓ Home End move it, Enter and Space open (buttons).
function focusable() { return table.querySelector("button.toggle[tabindex='0']"); }
function setFocusable(btn) {
  const cur = focusable();
  if (cur && cur !== btn) cur.tabIndex = -1;
  if (btn) btn.tabIndex = 0;
}
table.addEventListener("keydown", (e) => {
  const btn = e.target.closest("button.toggle");
  if (!btn) return;
  const list = [...table.querySelectorAll("button.toggle")];
  let i = list.indexOf(btn);
  if (e.key === "ArrowDown") i++; else if (e.key === "ArrowUp") i--;
  else if (e.key === "Home") i = 0; else if (e.key === "End") i = list.length - 1; else return;
  e.preventDefault();
  const next = list[Math.max(0, Math.min(list.length - 1, i))];
  setFocusable(next);
  next.focus();
});
table.addEventListener("focusin", (e) => { const b = e.target.closest("button.toggle"); if (b) setFocusable(b); });

function draw() {
  const batch = pending.slice(-view);
  pending = [];
  for (const p of batch) {
    const old = rows.get(p.id);
    if (old) { // a change (notes of a later attempt): the line again, the detail again if open
      const fresh = row(p);
      const open = old.querySelector("button.toggle").getAttribute("aria-expanded") === "true";
      fresh.querySelector("button.toggle").tabIndex = old.querySelector("button.toggle").tabIndex;
      old.replaceWith(fresh);
      rows.set(p.id, fresh);
      if (open) setOpen(fresh, true);
      continue;
    }
    const b = row(p);
    b.classList.add("fresh");
    b.addEventListener("animationend", () => b.classList.remove("fresh"), { once: true });
    table.append(b);
    rows.set(p.id, b);
  }
  while (rows.size > view) {
    const [id, b] = rows.entries().next().value;
    rows.delete(id);
    b.remove();
  }
  if (!focusable()) setFocusable(table.querySelector("button.toggle"));
  document.getElementById("empty").hidden = rows.size > 0;
  const shown = rows.size;
  document.getElementById("counts").textContent = `${total} packets recorded, ${Math.min(ring, total)} kept, ${shown} shown`;
}

let frame = 0;
function later() { if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); }); }

let stateTimer = 0;
function stateSoon() { clearTimeout(stateTimer); stateTimer = setTimeout(loadState, 300); }

function connect() {
  const conn = document.getElementById("conn");
  const es = new EventSource("api/stream");
  es.addEventListener("open", () => { conn.textContent = "live"; conn.className = "conn live"; });
  es.addEventListener("error", () => { conn.textContent = "reconnecting…"; conn.className = "conn down"; });
  es.addEventListener("reset", (e) => {
    const r = JSON.parse(e.data);
    total = r.total; ring = r.ring;
    for (const b of rows.values()) b.remove();
    rows.clear();
    pending = r.packets;
    later();
    stateSoon();
  });
  es.addEventListener("packet", (e) => {
    const p = JSON.parse(e.data);
    total = Math.max(total, p.id);
    pending.push(p);
    later();
    stateSoon();
  });
}

let lastState = "";
async function loadState() {
  let st;
  try {
    const r = await fetch("api/state");
    if (!r.ok) throw new Error(await r.text());
    const text = await r.text();
    if (text === lastState) return; // unchanged: the focus stays where it is
    lastState = text;
    st = JSON.parse(text);
  } catch (e) {
    lastState = "";
    document.getElementById("tables").replaceChildren(el("p", { class: "bad", text: "State: " + e.message }));
    return;
  }
  const stats = document.getElementById("stats");
  stats.replaceChildren(...st.stats.map((s) => el("div", {}, el("dt", { text: s.label }), el("dd", { text: s.value }))));
  const out = [];
  st.tables.forEach((t, ti) => {
    const id = "t-" + ti;
    out.push(el("h3", { id, text: `${t.title} (${t.rows.length})` }));
    if (!t.rows.length) { out.push(el("p", { class: "empty", text: t.empty })); return; }
    const tb = el("tbody");
    const redrives = t.rows.some((r) => r.redrive);
    for (const r of t.rows) {
      const tr = el("tr", { "data-id": r.id }, ...r.cells.map((c) => el("td", { text: c })));
      if (redrives) {
        const td = el("td");
        if (r.redrive) {
          const label = `${t.row || "row"} ${r.id}`;
          const b = el("button", { type: "button", class: "redrive", "aria-label": `Redrive ${label}`, text: "Redrive" });
          b.addEventListener("click", () => redrive(r.id, label));
          td.append(b);
        }
        tr.append(td);
      }
      tb.append(tr);
    }
    const head = el("tr", {}, ...t.columns.map((c) => el("th", { scope: "col", text: c })));
    if (redrives) head.append(el("th", { scope: "col", text: "Action" }));
    out.push(el("table", { class: "state-table", "aria-labelledby": id }, el("thead", {}, head), tb));
  });
  document.getElementById("tables").replaceChildren(...out);
}

connect();
loadState();
setInterval(loadState, 3000);
