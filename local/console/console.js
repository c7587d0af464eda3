// The local runner's browser console: plain JS, no build step. Polls /_local/console/state
// and renders one phone per demo person plus the operator panel. Every value from the
// server is written with textContent (never innerHTML), so bodies cannot inject markup.
"use strict";

const POLL_MS = 1000;
const PICTURES = ["rex.svg", "whiskers.svg"];
const MEDIA_PREFIX = "https://example.com/console/"; // same as CONSOLE_MEDIA_PREFIX in local/runner.py
const phoneViews = new Map(); // phone key -> {root, ...elements, attachment}
const lastPhones = new Map(); // phone key -> the JSON last rendered (only changed phones re-render)
let lastOperator = "";
let polling = false;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function postJson(url, payload) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: payload === undefined ? "" : JSON.stringify(payload),
    });
  } catch (error) {
    return { status: 0, answer: { error: "the local runner does not answer (" + error.message + ")" } };
  }
  let answer = {};
  try { answer = await response.json(); } catch (error) { answer = {}; }
  return { status: response.status, answer };
}

// ---------------------------------------------------------------- phones

function phoneView(phone) {
  if (phoneViews.has(phone.key)) return phoneViews.get(phone.key);
  const root = document.getElementById("phone-template").content.firstElementChild.cloneNode(true);
  root.dataset.phone = phone.key;
  root.dataset.role = phone.role;
  const view = {
    root,
    who: root.querySelector(".who"),
    own: root.querySelector(".own"),
    captions: root.querySelector(".captions"),
    threads: root.querySelector(".threads"),
    form: root.querySelector(".compose"),
    to: root.querySelector(".to"),
    text: root.querySelector(".text"),
    photo: root.querySelector(".photo"),
    call: root.querySelector(".call"),
    note: root.querySelector(".note"),
    chip: root.querySelector(".attachment"),
    attachment: null,
    e164: phone.e164,
  };
  view.who.append(phone.name, el("span", { class: "role", text: phone.role === "provider" ? "sitter" : phone.key === "new-number" ? "not a client yet" : "client" }));
  view.own.textContent = "my number " + phone.number + (phone.business_number ? " · business number " + phone.business_number : "");
  view.photo.addEventListener("click", () => {
    const index = view.attachment ? (PICTURES.indexOf(view.attachment) + 1) % (PICTURES.length + 1) : 0;
    view.attachment = PICTURES[index] || null;
    view.chip.hidden = !view.attachment;
    view.chip.textContent = view.attachment ? "picture " + view.attachment + " attached (click Photo again to change)" : "";
  });
  view.form.addEventListener("submit", (event) => { event.preventDefault(); sendText(view); });
  view.call.addEventListener("click", () => placeCall(view));
  document.getElementById("phones").append(root);
  phoneViews.set(phone.key, view);
  return view;
}

async function sendText(view) {
  const to = view.to.value;
  const body = view.text.value.trim();
  if (!to) { view.note.textContent = "nobody to text yet"; return; }
  if (!body && !view.attachment) return;
  const media = view.attachment ? [MEDIA_PREFIX + view.attachment] : [];
  view.note.textContent = "sending…";
  const { status, answer } = await postJson("/_local/console/sms", { from: view.e164, to, body, media });
  view.note.textContent = status === 200 ? "sent" : "not sent: " + (answer.error || "webhook answered " + answer.webhook_status);
  if (status === 200) {
    view.text.value = "";
    view.attachment = null;
    view.chip.hidden = true;
  }
  poll();
}

async function placeCall(view) {
  const to = view.to.value;
  if (!to) { view.note.textContent = "nobody to call yet"; return; }
  view.note.textContent = "calling…";
  const { answer } = await postJson("/_local/console/call", { from: view.e164, to });
  view.note.textContent = answer.rings_person
    ? "call placed: " + answer.rings_person.split(" ")[0] + "'s phone rings"
    : "not connected: " + (answer.say || answer.error || "no answer");
  poll();
}

function renderPhone(phone) {
  const view = phoneView(phone);
  // captions: who this phone sees, as which number
  const captions = phone.contacts.map((c) => el("li", { class: "caption", text: "sees " + c.name + " as " + c.pretty }));
  if (!captions.length) captions.push(el("li", { class: "caption muted", text: "no conversations yet: clients text this sitter's business number" }));
  view.captions.replaceChildren(...captions);
  // threads, grouped by the number the messages came from (newest thread first)
  const threads = phone.threads.map((thread) => {
    const messages = thread.messages.map((m) => {
      const bubble = el("div", { class: "bubble " + m.dir + (m.call ? " call" : "") });
      if (m.body) bubble.append(el("div", { class: "body", text: m.body }));
      for (const src of m.media) bubble.append(el("img", { src, alt: "picture message", class: "picture" }));
      return bubble;
    });
    const head = el("button", { type: "button", class: "thread-head", title: "reply in this thread" },
      el("span", { class: "thread-name", text: thread.name || thread.pretty }),
      thread.name ? el("span", { class: "thread-number", text: thread.pretty }) : null);
    head.addEventListener("click", () => { view.to.value = thread.number; view.text.focus(); });
    return el("section", { class: "thread", "data-number": thread.number }, head, el("div", { class: "messages" }, ...messages));
  });
  if (!threads.length) threads.push(el("p", { class: "empty muted", text: "No messages" }));
  view.threads.replaceChildren(...threads);
  // the To list: contacts and threads; keep the person's choice
  const chosen = view.to.value;
  const options = new Map();
  for (const thread of phone.threads) options.set(thread.number, (thread.name ? thread.name + " " : "") + thread.pretty);
  for (const contact of phone.contacts) if (!options.has(contact.number)) options.set(contact.number, contact.name + " " + contact.pretty);
  view.to.replaceChildren(...[...options].map(([value, label]) => el("option", { value, text: label })));
  if (options.has(chosen)) view.to.value = chosen;
}

// ---------------------------------------------------------------- operator

function table(headers, rows) {
  if (!rows.length) return el("p", { class: "muted", text: "none yet" });
  return el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", { text: cell === null || cell === undefined ? "" : String(cell) }))))));
}

function renderOperator(op) {
  document.getElementById("leases").replaceChildren(table(
    ["provider", "client", "pool number", "expires", ""],
    op.leases.map((l) => [l.provider, l.client, l.pool_number, l.expires, l.active ? "active" : "expired"])));
  const pool = op.pool;
  const poolBox = document.getElementById("pool");
  if (pool.error) poolBox.replaceChildren(el("p", { class: "muted", text: pool.error }));
  else {
    const percent = Math.round((pool.utilization || 0) * 100);
    const bar = el("div", { class: "bar" }, el("div", { class: "fill", style: "width:" + Math.min(percent, 100) + "%" }));
    poolBox.replaceChildren(
      el("p", { class: "big", text: percent + "% utilization" }), bar,
      table(["", ""], [
        ["Ready pool numbers", pool.ready_pool_numbers], ["Pending pool numbers", pool.pending_pool_numbers],
        ["active leases", pool.active_leases], ["busiest provider", (pool.busiest_provider_id || "none") + " (" + pool.busiest_provider_leases + ")"],
        ["standby Ready / Pending", pool.standby_ready + " / " + pool.standby_pending],
      ]));
  }
  document.getElementById("calls").replaceChildren(table(
    ["caller", "called", "rings", "caller ID shown", "or said"],
    op.calls.map((c) => [c.caller, c.called, c.rings, c.caller_id, c.say])));
  document.getElementById("audit").replaceChildren(table(
    ["at", "event", "severity", "category", "description"],
    op.audit.map((a) => [a.at, a.Event, a.Severity, a.Category, a.Description])));
  const tables = Object.entries(op.airtable).map(([name, count]) => {
    const button = el("button", { type: "button", class: "chip", text: name + " · " + count });
    button.addEventListener("click", () => showAirtable(name));
    return button;
  });
  document.getElementById("airtable").replaceChildren(...tables);
  renderFaults();
  const schedules = document.getElementById("schedules");
  if (!schedules.childElementCount) {
    for (const name of op.schedules) {
      const button = el("button", { type: "button", class: "chip", text: "run " + name });
      button.addEventListener("click", async () => {
        const { status, answer } = await postJson("/_local/schedules/" + encodeURIComponent(name));
        const result = document.getElementById("schedule-result");
        result.hidden = false;
        result.textContent = name + " answered " + status + "\n" + JSON.stringify(answer.result ?? answer, null, 1);
        poll();
      });
      schedules.append(button);
    }
  }
}

// Fault injection (POST /_local/faults, local/faults.py): rates per fault kind; "off" clears them.
const FAULT_PRESETS = [
  ["off", {}],
  ["Twilio 5xx 30 %", { twilio_5xx: 0.3 }],
  ["Twilio timeouts 30 %", { twilio_timeout: 0.3 }],
  ["DynamoDB throttles 20 %", { dynamodb_throttle: 0.2 }],
  ["outbox batches failing 50 %", { sqs_batch_fail: 0.5 }],
];

function renderFaults() {
  const faults = document.getElementById("faults");
  if (faults.childElementCount) return;
  for (const [label, rates] of FAULT_PRESETS) {
    const button = el("button", { type: "button", class: "chip", text: label });
    button.addEventListener("click", async () => {
      const { status, answer } = await postJson("/_local/faults", rates);
      const result = document.getElementById("fault-result");
      result.hidden = false;
      result.textContent = label + ": " + status + "\n" + JSON.stringify(answer, null, 1);
    });
    faults.append(button);
  }
}

async function showAirtable(name) {
  const response = await fetch("/_local/airtable/" + encodeURIComponent(name));
  const rows = await response.json();
  const last = rows.slice(-10).reverse();
  const columns = [...new Set(last.flatMap((r) => Object.keys(r.fields)))].slice(0, 8);
  const cells = last.map((r) => columns.map((c) => {
    const value = r.fields[c];
    return typeof value === "object" && value !== null ? JSON.stringify(value) : value;
  }));
  const box = document.getElementById("airtable-rows");
  box.hidden = false;
  box.replaceChildren(el("h3", { text: "Airtable · " + name + " " },
    el("span", { class: "muted", text: "(newest " + last.length + " of " + rows.length + " rows)" })), table(columns, cells));
}

// ---------------------------------------------------------------- polling

async function poll() {
  if (polling) return;
  polling = true;
  const status = document.getElementById("status");
  try {
    const response = await fetch("/_local/console/state", { cache: "no-store" });
    if (!response.ok) throw new Error("state answered " + response.status);
    const state = await response.json();
    for (const phone of state.phones) {
      const json = JSON.stringify(phone);
      if (lastPhones.get(phone.key) !== json) { renderPhone(phone); lastPhones.set(phone.key, json); }
    }
    const operator = JSON.stringify(state.operator);
    if (operator !== lastOperator) { renderOperator(state.operator); lastOperator = operator; }
    status.textContent = "live · updated " + new Date().toLocaleTimeString();
    status.classList.remove("down");
  } catch (error) {
    status.textContent = "the local runner does not answer (" + error.message + "); is make local running?";
    status.classList.add("down");
  } finally {
    polling = false;
  }
}

poll();
setInterval(poll, POLL_MS);
