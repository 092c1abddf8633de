// Demo client for realtime-server's /ws JSON protocol (docs/ws-json-protocol.md).
// A chat room and a live topic viewer on the same topic bus as MQTT clients.
"use strict";

const $ = (id) => document.getElementById(id);

class Bus {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();      // request id -> {resolve, reject}
    this.handlers = [];            // {filter, fn}
    this.onstatus = () => {};
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => this.onstatus("online");
    ws.onclose = () => {
      this.onstatus("offline");
      for (const p of this.pending.values()) p.reject(new Error("connection closed"));
      this.pending.clear();
      setTimeout(() => this.connect(), 1000);
    };
    ws.onmessage = (ev) => this.receive(ev.data);
  }

  receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg.type === "welcome") {
      this.clientId = msg.client_id;
      // Subscriptions do not survive a reconnect: make them again.
      for (const filter of new Set(this.handlers.map((h) => h.filter))) {
        this.request({ type: "subscribe", filter, qos: 0 }).catch(() => {});
      }
      return;
    }
    if (msg.type === "message") {
      const payload = msg.encoding === "base64" ? atob(msg.payload) : msg.payload;
      for (const h of this.handlers) if (topicMatches(h.filter, msg.topic)) h.fn({ ...msg, payload });
      return;
    }
    const p = msg.id !== undefined && this.pending.get(msg.id);
    if (p) {
      this.pending.delete(msg.id);
      if (msg.type === "error") p.reject(new Error(msg.reason)); else p.resolve(msg);
    }
  }

  request(body) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return reject(new Error("not connected"));
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...body, id }));
    });
  }

  // Adds a handler for `filter` and subscribes; resolves to a handle for
  // unsubscribe(). Two handlers may share a filter (the chat room and the viewer).
  async subscribe(filter, fn) {
    const handle = { filter, fn };
    this.handlers.push(handle);
    try {
      await this.request({ type: "subscribe", filter, qos: 0 });
    } catch (e) {
      this.handlers = this.handlers.filter((h) => h !== handle);
      throw e;
    }
    return handle;
  }

  // Removes a handler; the server subscription goes when no handler needs it.
  async unsubscribe(handle) {
    this.handlers = this.handlers.filter((h) => h !== handle);
    if (this.handlers.some((h) => h.filter === handle.filter)) return;
    await this.request({ type: "unsubscribe", filter: handle.filter });
  }

  publish(topic, payload, { retain = false, qos = 1 } = {}) {
    return this.request({ type: "publish", topic, payload, retain, qos });
  }
}

// MQTT 5.0 §4.7 matching, for dispatching messages to the handler that asked.
function topicMatches(filter, topic) {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/"), t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const bus = new Bus(`${scheme}//${location.host}/ws`);
window.demoBus = bus;
bus.onstatus = (state) => {
  const s = $("status");
  s.textContent = state;
  s.dataset.state = state;
  s.className = `status ${state}`;
};

// ---- chat ----
let room = null;
let roomSub = null;
function chatLine(who, text, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  if (who) {
    const w = document.createElement("span");
    w.className = "who";
    w.textContent = who;
    li.append(w);
  }
  li.append(document.createTextNode(text));
  $("chat-log").append(li);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
}

$("chat-join").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const next = $("chat-room").value.trim();
  if (roomSub) await bus.unsubscribe(roomSub).catch(() => {});
  roomSub = null;
  room = next;
  $("chat-topic").textContent = `chat/${room}`;
  try {
    roomSub = await bus.subscribe(`chat/${room}`, (m) => {
      // Chat lines are {"from", "text"} JSON; anything else (a device's reading,
      // a bare JSON number) is shown as it came.
      let body = null;
      try { body = JSON.parse(m.payload); } catch { /* not JSON */ }
      if (body === null || typeof body !== "object" || typeof body.text !== "string") {
        body = { from: "mqtt", text: m.payload };
      }
      chatLine(String(body.from ?? "?"), body.text);
    });
    chatLine(null, `joined chat/${room}`, "sys");
    $("chat-text").disabled = $("chat-button").disabled = false;
    $("chat-text").focus();
  } catch (e) {
    chatLine(null, `cannot join: ${e.message}`, "sys");
  }
});

$("chat-send").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("chat-text").value;
  if (!room || !text) return;
  $("chat-text").value = "";
  try {
    await bus.publish(`chat/${room}`, JSON.stringify({ from: $("chat-name").value, text }));
  } catch (e) {
    chatLine(null, `not sent: ${e.message}`, "sys");
  }
});

// ---- live topic viewer ----
let viewing = null;
$("viewer-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (viewing) await bus.unsubscribe(viewing).catch(() => {});
  viewing = null;
  const filter = $("viewer-filter").value;
  const state = $("viewer-state");
  state.textContent = `subscribing to ${filter}…`;
  state.dataset.filter = "";
  try {
    viewing = await bus.subscribe(filter, (m) => {
      const tr = document.createElement("tr");
      const cells = [new Date().toLocaleTimeString(), m.topic, m.payload, [m.retain ? "retained" : "", `q${m.qos}`].join(" ").trim()];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        if (i === 2) td.className = "payload";
        td.textContent = c;
        tr.append(td);
      });
      const body = $("viewer-log");
      body.prepend(tr);
      while (body.rows.length > 200) body.deleteRow(-1);
    });
    state.textContent = `showing ${filter}`;
    state.dataset.filter = filter;
  } catch (e) {
    state.textContent = `cannot subscribe to ${filter}: ${e.message}`;
  }
});
$("viewer-clear").addEventListener("click", () => { $("viewer-log").textContent = ""; });
