// The live demo: one feed over a WebSocket and over SSE, each panel measuring itself.
"use strict";

(() => {
  const root = document.getElementById("demo");
  if (!root) return;

  const encoder = new TextEncoder();
  const byteLength = (text) => encoder.encode(text).length;
  const now = () => performance.timeOrigin + performance.now();
  const chatsSent = new Map(); // nonce -> {at, via}
  let clockOffset = 0; // server clock minus this browser's clock, in ms
  let nonceCounter = 0;
  let httpRoundTrip = () => {};

  const format = {
    ms: (value) => (value == null ? "–" : value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`),
    bytes: (value) => value.toLocaleString("en") + " B",
  };

  const { percentile } = window.advisor; // nearest rank, as everywhere in the project
  // The site's JSON POST (post_json.js); a refusal throws with its first message.
  async function postJSON(url, body) {
    const { response, data } = await window.advisorHttp.postJSON(url, body, root.dataset.csrf);
    if (!response.ok) {
      const message = Object.values(data.errors || {})[0] || `The server answered ${response.status}.`;
      throw new Error(message);
    }
    return data;
  }

  // The offset between clocks, NTP-style: the server's time against the
  // middle of a round trip, from the quickest round trip seen (its error is
  // at most half of it). HTTP probes and WebSocket pings both feed it.
  let bestClock = null;
  function observeClock(sent, received, serverTs) {
    const rtt = received - sent;
    if (bestClock && rtt >= bestClock.rtt && received - bestClock.at < 60000) return;
    bestClock = { rtt, at: received };
    clockOffset = serverTs - (sent + received) / 2;
    root.querySelector("[data-clock]").textContent =
      "Latency is the server's timestamp to arrival here, corrected by the clock offset " +
      `(${format.ms(Math.abs(clockOffset))}, within ±${format.ms(rtt / 2)}).`;
  }

  async function estimateClock() {
    for (let i = 0; i < 5; i += 1) {
      const sent = now();
      try {
        const response = await fetch(root.dataset.statsUrl, { cache: "no-store" });
        const { ts } = await response.json();
        const received = now();
        httpRoundTrip(received - sent);
        observeClock(sent, received, ts);
      } catch {
        return;
      }
    }
  }

  class Panel {
    constructor(transport) {
      this.transport = transport;
      this.el = root.querySelector(`[data-panel="${transport}"]`);
      this.fields = {};
      this.el.querySelectorAll("[data-field]").forEach((node) => {
        this.fields[node.dataset.field] = node;
      });
      this.connection = null;
      this.lastId = 0;
      this.events = 0;
      this.gaps = 0;
      this.duplicates = 0;
      this.bytes = 0;
      this.framing = 0;
      this.payload = 0;
      this.reconnects = 0;
      this.replayed = 0;
      this.replayUpTo = 0;
      this.rtts = [];
      this.latencies = [];
      this.arrivals = [];
      this.droppedAt = null;
      this.dropRequested = false;
      this.recovering = false;
      this.el.querySelector('[data-action="drop"]').addEventListener("click", () => this.drop());
      this.el.querySelector("[data-chat-form]").addEventListener("submit", (event) => {
        event.preventDefault();
        const input = event.target.elements.text;
        const text = input.value.trim();
        if (!text) return;
        this.fields["chat-error"].textContent = "";
        const nonce = `${this.transport}-${Date.now().toString(36)}-${(nonceCounter += 1)}`;
        chatsSent.set(nonce, { at: now(), via: this.transport });
        this.sendChat(text, nonce)
          .then(() => { input.value = ""; })
          .catch((error) => {
            chatsSent.delete(nonce);
            this.fields["chat-error"].textContent = error.message;
          });
      });
      setInterval(() => this.render(), 500);
    }

    setState(state) {
      this.state = state;
      this.fields.state.textContent = state;
      this.fields.state.dataset.state = state;
    }

    opened() {
      this.setState("open");
      if (this.droppedAt !== null) {
        this.reconnects += 1;
        this.reconnectMs = now() - this.droppedAt;
        this.droppedAt = null;
      }
    }

    lost(detail) {
      if (this.droppedAt === null) this.droppedAt = now();
      if (this.dropRequested) {
        // The drop we asked for: from here on, count the recovery.
        this.dropRequested = false;
        this.recovering = true;
        this.dropLastId = this.lastId;
        this.gapsBeforeDrop = this.gaps;
        this.replayedBeforeDrop = this.replayed;
      }
      this.setState(detail ? `reconnecting (${detail})` : "reconnecting");
    }

    welcome(message) {
      // Anything up to the feed's position at connect time is a replay.
      this.replayUpTo = message.last_id;
      this.connection = message.connection;
      this.el.dataset.connection = message.connection;
    }

    // Every feed event (and the server's own gap notices) goes through here.
    receive(message, frameBytes, payloadBytes) {
      this.bytes += frameBytes;
      if (message.type === "gap") {
        this.gaps += message.missed ?? 1;
        this.lastId = message.reason === "restarted" ? 0 : Math.max(this.lastId, (message.oldest ?? message.newest + 1) - 1);
        return;
      }
      if (typeof message.id !== "number") return;
      if (message.id <= this.lastId) {
        this.duplicates += 1;
        return;
      }
      if (this.lastId && message.id > this.lastId + 1) this.gaps += message.id - this.lastId - 1;
      this.lastId = message.id;
      this.events += 1;
      this.framing += frameBytes - payloadBytes;
      this.payload += payloadBytes;
      const arrived = now();
      const sentAt = message.ts - clockOffset;
      const replay = message.id <= this.replayUpTo;
      if (replay) {
        // Sent before this connection opened: a replay after a drop. Its
        // delay is the outage, not the transport's latency.
        this.replayed += 1;
      } else {
        // Below zero is the clock offset's own error: count it as none.
        this.latencies.push(Math.max(0, arrived - sentAt));
        if (this.latencies.length > 1000) this.latencies.shift();
      }
      this.arrivals.push(arrived);
      if (message.type === "tick") {
        const { symbol, price, change } = message.payload;
        this.fields.ticker.textContent = `#${message.id} ${symbol} ${price.toFixed(2)} (${change >= 0 ? "+" : ""}${change.toFixed(2)})`;
      } else if (message.type === "chat") {
        this.showChat(message, arrived);
      }
      // Recovered: the replay is over, live events flow again.
      if (this.recovering && this.droppedAt === null && !replay) this.recovered();
    }

    showChat(message, arrived) {
      const item = document.createElement("li");
      const sent = chatsSent.get(message.payload.nonce);
      const via = message.payload.via === "websocket" ? "WebSocket" : "SSE + POST";
      const who = document.createElement("span");
      who.className = "chat-via";
      who.textContent = `#${message.id} via ${via}`;
      const text = document.createElement("span");
      text.className = "chat-text";
      text.textContent = message.payload.text; // text, never HTML
      item.append(who, " ", text);
      if (sent) {
        const rtt = document.createElement("span");
        rtt.className = "chat-rtt";
        rtt.dataset.rtt = String(Math.round(arrived - sent.at));
        rtt.textContent = ` ${format.ms(arrived - sent.at)} after sending`;
        item.append(rtt);
      }
      this.fields["chat-log"].prepend(item);
      while (this.fields["chat-log"].children.length > 50) this.fields["chat-log"].lastElementChild.remove();
    }

    async drop() {
      if (!this.connection) return;
      this.dropRequested = true;
      this.fields.recovery.textContent = "Asked the server to close the connection…";
      try {
        await postJSON(root.dataset.dropUrl, { connection: this.connection });
      } catch (error) {
        this.dropRequested = false;
        this.fields.recovery.textContent = `Could not drop it: ${error.message}`;
      }
    }

    recovered() {
      this.recovering = false;
      const gaps = this.gaps - this.gapsBeforeDrop;
      const replayed = this.replayed - this.replayedBeforeDrop;
      this.fields.recovery.textContent =
        `Back in ${format.ms(this.reconnectMs)}, resumed after #${this.dropLastId}: ` +
        `${replayed} missed event${replayed === 1 ? "" : "s"} replayed, ${gaps} gap${gaps === 1 ? "" : "s"}. ` +
        this.recoveryCredit;
      this.fields.recovery.dataset.gaps = String(gaps);
    }

    roundTrip(ms) {
      this.rtts.push(ms);
      if (this.rtts.length > 100) this.rtts.shift();
    }

    render() {
      const cutoff = now() - 5000;
      while (this.arrivals.length && this.arrivals[0] < cutoff) this.arrivals.shift();
      const sorted = [...this.latencies].sort((a, b) => a - b);
      const f = this.fields;
      f.events.textContent = this.events.toLocaleString("en");
      f["last-id"].textContent = this.lastId || "–";
      f.latency.textContent = sorted.length
        ? [50, 95, 99].map((p) => format.ms(percentile(sorted, p))).join(" / ") + ` (n=${sorted.length})`
        : "–";
      const rtts = [...this.rtts].sort((a, b) => a - b);
      f.rtt.textContent = rtts.length ? `${format.ms(percentile(rtts, 50))} median (n=${rtts.length})` : "–";
      f.rate.textContent = (this.arrivals.length / 5).toFixed(1);
      f.bytes.textContent = format.bytes(this.bytes);
      f["per-event"].textContent = this.events
        ? `${(this.framing / this.events).toFixed(1)} + ${(this.payload / this.events).toFixed(1)} B`
        : "–";
      f.reconnects.textContent = this.reconnects;
      f["reconnect-time"].textContent = this.reconnectMs == null ? "–" : format.ms(this.reconnectMs);
      f.gaps.textContent = this.gaps;
      f.duplicates.textContent = this.duplicates;
    }
  }

  class WebSocketPanel extends Panel {
    constructor() {
      super("websocket");
      this.attempt = 0;
      this.pings = new Map();
      this.recoveryCredit =
        "This needed code of ours: a reconnect loop with exponential backoff and jitter in this page, a resume message, and a replay from the server's history.";
      this.connect();
      setInterval(() => this.ping(), 5000);
    }

    url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return `${scheme}//${location.host}${root.dataset.wsPath}`;
    }

    connect() {
      this.setState(this.droppedAt === null ? "connecting" : "reconnecting");
      const socket = new WebSocket(this.url());
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.addEventListener("open", () => {
        // The backoff starts over only once this connection has proved
        // itself: a server that accepts and closes at once is not hammered.
        clearTimeout(this.steady);
        this.steady = setTimeout(() => { this.attempt = 0; }, 5000);
        // Resume first, so the server replays in order before going live;
        // a fresh page says anything (a ping) to go live at once.
        if (this.lastId) socket.send(JSON.stringify({ type: "resume", last_id: this.lastId }));
        else this.ping();
        this.opened();
      });
      socket.addEventListener("message", (event) => this.onMessage(event));
      socket.addEventListener("close", (event) => {
        if (this.socket !== socket) return;
        clearTimeout(this.steady);
        this.lost(`closed ${event.code}${event.reason ? ` ${event.reason}` : ""}`);
        // Exponential backoff with full jitter: a restarted server is not
        // hit by every client at the same instant.
        const ceiling = Math.min(10000, 250 * 2 ** this.attempt);
        this.attempt += 1;
        setTimeout(() => this.connect(), Math.random() * ceiling);
      });
    }

    onMessage(event) {
      if (typeof event.data !== "string") return;
      const size = byteLength(event.data);
      const frame = size + (size <= 125 ? 2 : size <= 65535 ? 4 : 10);
      const message = JSON.parse(event.data);
      switch (message.type) {
        case "welcome":
          this.bytes += frame;
          this.welcome(message);
          break;
        case "pong":
          this.onPong(message);
          break;
        case "binary_ack":
          this.pendingBinary?.(message);
          break;
        case "error":
          this.fields["chat-error"].textContent = message.message;
          break;
        default:
          this.receive(message, frame, size);
      }
    }

    send(object) {
      if (this.socket?.readyState !== WebSocket.OPEN) throw new Error("The WebSocket is not open.");
      this.socket.send(JSON.stringify(object));
    }

    ping() {
      if (this.socket?.readyState !== WebSocket.OPEN) return;
      const nonce = String((nonceCounter += 1));
      this.pings.set(nonce, now());
      this.socket.send(JSON.stringify({ type: "ping", nonce }));
    }

    onPong(message) {
      const sent = this.pings.get(message.nonce);
      if (sent === undefined) return;
      this.pings.delete(message.nonce);
      const received = now();
      this.roundTrip(received - sent);
      observeClock(sent, received, message.ts);
    }

    async sendChat(text, nonce) {
      this.send({ type: "chat", text, nonce });
    }

    sendBinary(bytes) {
      return new Promise((resolve, reject) => {
        if (this.socket?.readyState !== WebSocket.OPEN) {
          reject(new Error("The WebSocket is not open."));
          return;
        }
        const started = now();
        const timer = setTimeout(() => reject(new Error("No answer within 10 s.")), 10000);
        this.pendingBinary = (ack) => {
          clearTimeout(timer);
          this.pendingBinary = null;
          resolve({ ...ack, rtt: now() - started });
        };
        this.socket.send(bytes);
      });
    }
  }

  class SsePanel extends Panel {
    constructor() {
      super("sse");
      this.recoveryCredit =
        "No code of ours in this page: EventSource reconnected by itself, after the retry: interval the server set (2 s), and sent Last-Event-ID; the server replayed from its history.";
      this.connect();
    }

    connect() {
      this.setState("connecting");
      // EventSource sends Last-Event-ID on its own reconnects; when it gave
      // up and we start a new one, the query parameter carries it.
      const resume = this.lastId ? `?last_event_id=${this.lastId}` : "";
      const source = new EventSource(root.dataset.eventsUrl + resume);
      this.source = source;
      source.addEventListener("open", () => this.opened());
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) {
          // The browser gave up (an HTTP error): start again ourselves.
          this.lost("closed");
          setTimeout(() => this.connect(), 2000);
        } else {
          this.lost();
        }
      });
      source.addEventListener("welcome", (event) => {
        this.bytes += this.frameBytes(event);
        this.welcome(JSON.parse(event.data));
      });
      for (const type of ["tick", "chat", "gap"]) {
        source.addEventListener(type, (event) => {
          this.receive(JSON.parse(event.data), this.frameBytes(event), byteLength(event.data));
        });
      }
    }

    // The event as it crossed the wire: "id: …", "event: …", data lines, blank line.
    frameBytes(event) {
      const idLine = event.lastEventId && event.type !== "welcome" && event.type !== "gap" ? byteLength(`id: ${event.lastEventId}\n`) : 0;
      const dataLines = event.data.split("\n").reduce((total, line) => total + byteLength(`data: ${line}\n`), 0);
      return idLine + byteLength(`event: ${event.type}\n`) + dataLines + 1;
    }

    async sendChat(text, nonce) {
      await postJSON(root.dataset.sendUrl, { type: "chat", text, nonce, connection: this.connection });
    }
  }

  const panels = { websocket: new WebSocketPanel(), sse: new SsePanel() };
  // The SSE side's way back is HTTP: its round trip is the clock probes'.
  httpRoundTrip = (ms) => panels.sse.roundTrip(ms);
  root.dataset.ready = "true";
  estimateClock();
  setInterval(estimateClock, 30000);

  // Binary: a frame up the WebSocket against base64 in a POST.
  const binaryForm = root.querySelector("[data-binary-form]");
  const binaryTable = root.querySelector("[data-binary-table]");

  async function sha256(bytes) {
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function toBase64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function fillRow(name, cells) {
    const row = binaryTable.querySelector(`[data-binary-row="${name}"]`);
    for (const [cell, value] of Object.entries(cells)) {
      row.querySelector(`[data-cell="${cell}"]`).textContent = value;
    }
  }

  binaryForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const size = Number(binaryForm.elements.size.value);
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    const expected = await sha256(bytes);
    binaryTable.hidden = false;
    const overhead = (wire) => `+${(((wire - size) / size) * 100).toFixed(wire - size < size / 100 ? 2 : 1)}%`;
    const checked = (ack) => (ack.sha256 === expected && ack.size === size ? "matches" : "DIFFERS");
    try {
      const ack = await panels.websocket.sendBinary(bytes);
      fillRow("websocket", { bytes: format.bytes(ack.wire_bytes), overhead: overhead(ack.wire_bytes), rtt: format.ms(ack.rtt), checksum: checked(ack) });
    } catch (error) {
      fillRow("websocket", { bytes: "–", overhead: "–", rtt: error.message, checksum: "–" });
    }
    const encoded = toBase64(bytes);
    try {
      const started = now();
      const ack = await postJSON(root.dataset.sendUrl, { type: "binary", data: encoded });
      fillRow("post", { bytes: format.bytes(ack.wire_bytes), overhead: overhead(ack.wire_bytes), rtt: format.ms(now() - started), checksum: checked(ack) });
    } catch (error) {
      fillRow("post", { bytes: "–", overhead: "–", rtt: error.message, checksum: "–" });
    }
    const sseBytes = byteLength(`event: binary\ndata: ${encoded}\n\n`);
    fillRow("sse", { bytes: format.bytes(sseBytes), overhead: overhead(sseBytes) });
  });

  // Seven more streams against HTTP/1.1's six connections per origin.
  const streamList = root.querySelector("[data-streams]");
  const streamSummary = root.querySelector("[data-streams-summary]");
  const openButton = root.querySelector('[data-action="open-streams"]');
  const closeButton = root.querySelector('[data-action="close-streams"]');
  // What the browser measured, not what the server thinks it sent: a proxy
  // in front may speak HTTP/2 to the browser and HTTP/1.1 to us.
  const protocol = performance.getEntriesByType("navigation")[0]?.nextHopProtocol || "unknown";
  const multiplexed = protocol === "h2" || protocol.startsWith("h3");
  document.getElementById("protocol").textContent = protocol;
  root.querySelector("[data-protocol-meaning]").textContent = multiplexed
    ? ": streams share one connection, so open EventSources do not use up connections."
    : protocol.startsWith("http/1")
      ? ": the browser keeps about six connections per origin, and each open EventSource holds one."
      : ".";
  let extra = [];
  let summaryTimer = null;

  function closeStreams() {
    extra.forEach(({ source }) => source.close());
    extra = [];
    clearInterval(summaryTimer);
    const hadFocus = document.activeElement === closeButton;
    openButton.hidden = false;
    closeButton.hidden = true;
    if (hadFocus) openButton.focus();
  }

  openButton.addEventListener("click", () => {
    closeStreams();
    streamList.replaceChildren();
    const started = now();
    for (let n = 1; n <= 7; n += 1) {
      const item = document.createElement("li");
      item.dataset.stream = String(n);
      item.dataset.state = "waiting";
      item.textContent = `Stream ${n}: waiting for a connection…`;
      streamList.append(item);
      const source = new EventSource(root.dataset.eventsUrl);
      const stream = { source, item, n, openedAt: null };
      source.addEventListener("welcome", () => {
        if (stream.openedAt !== null) return;
        stream.openedAt = now() - started;
        item.dataset.state = "open";
        item.textContent = `Stream ${n}: open after ${format.ms(stream.openedAt)}`;
      });
      extra.push(stream);
    }
    openButton.hidden = true;
    closeButton.hidden = false;
    closeButton.focus();
    let announced = null;
    const report = () => {
      const waited = (now() - started) / 1000;
      const open = extra.filter((s) => s.openedAt !== null).length;
      extra.filter((s) => s.openedAt === null).forEach((s) => {
        s.item.dataset.state = "stalled";
        s.item.textContent = `Stream ${s.n}: stalled for ${waited.toFixed(0)} s, no connection free`;
      });
      // A live region: say it when something changes, not every second.
      if (open === announced) {
        if (waited >= 20) closeStreams();
        return;
      }
      announced = open;
      const stalled = 7 - open;
      streamSummary.dataset.outcome = stalled ? "stalled" : "all-open";
      if (!stalled) {
        streamSummary.textContent = `All 7 opened over ${protocol}: the streams share one connection, so the per-origin limit does not bite.`;
      } else if (multiplexed) {
        streamSummary.textContent = `${stalled} stalled over ${protocol}, which has no per-origin limit: something between here and the server holds them back (${open} of 7 opened).`;
      } else {
        streamSummary.textContent = `${stalled} stalled: HTTP/1.1 allows 6 connections per origin, and the SSE panel's stream holds one (${open} of 7 opened; this page came over ${protocol}). The streams close by themselves after 20 s.`;
      }
      if (waited >= 20) closeStreams();
    };
    summaryTimer = setInterval(report, 1000);
  });
  closeButton.addEventListener("click", closeStreams);
  window.addEventListener("pagehide", closeStreams);
})();
