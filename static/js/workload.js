// Your workload, live: one run over a WebSocket and over SSE + POST, drawn as it goes.
//
// The server sends the run's events on both transports and drops each
// connection once halfway (live_demo/workload/). This page measures what
// arrives, draws it (inline SVG: attributes only, the site's CSP allows no
// inline style), and at the end posts the summary as evidence for the
// assessment's revision, when it was opened from one and may add to it.
"use strict";

(() => {
  const root = document.getElementById("workload");
  if (!root) return;

  const SVG = "http://www.w3.org/2000/svg";
  const now = () => performance.timeOrigin + performance.now();
  const { percentile } = window.advisor;
  const TRANSPORTS = ["websocket", "sse"];
  const NAMES = { websocket: "WebSocket", sse: "SSE + POST" };
  const form = root.querySelector("[data-workload-form]");
  const startButton = root.querySelector("[data-action=start]");
  const status = root.querySelector("[data-run-status]");
  const encoder = new TextEncoder();
  let clockOffset = 0; // server clock minus this browser's, in ms
  let clockFromPings = false;

  startButton.hidden = false;

  const ms = (value) => (value == null ? "n/a" : `${Math.round(value)} ms`);
  const sum = (values) => values.reduce((total, value) => total + value, 0);
  const mean = (values) => (values.length ? sum(values) / values.length : null);
  const percentiles = (values) =>
    values.length
      ? { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99) }
      : null;

  // ---- The workload sentence, kept in step with the form ----------------------

  function params() {
    const data = new FormData(form);
    return {
      events_per_second_down: Number(data.get("events_per_second_down")),
      payload_format: data.get("payload_format"),
      payload_bytes: Number(data.get("payload_bytes")),
      messages_per_second_up: Number(data.get("messages_per_second_up")),
      answer_budget_ms: Number(data.get("answer_budget_ms")),
      duration_s: Number(data.get("duration_s")),
    };
  }

  function size(bytes) {
    if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
    if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
    return `${bytes} bytes`;
  }

  const plural = (count, noun) => (count === 1 ? noun : `${noun}s`);
  // Numbers as Python's :g writes them (the server's sentence): 0.05, 2, 1e-05 aside.
  const g = (value) => String(Number(value.toPrecision(6)));

  // The same sentence and warnings as questionnaire/workload.py (describe,
  // too_few_messages), kept up to date as the fields change.
  function sentence(w) {
    const kinds = { json: "JSON", binary: "binary", mixed: "mixed JSON and binary" };
    const down = w.events_per_second_down;
    const up = w.messages_per_second_up;
    const upPart = up ? `${g(up)} ${plural(up, "message")}/s up` : "nothing up";
    return `${g(down)} ${plural(down, "event")}/s of ${size(w.payload_bytes)} ${kinds[w.payload_format]} down, ${upPart}, answers within ${w.answer_budget_ms} ms, for ${w.duration_s} s`;
  }

  const LONGEST = Number(form.querySelector("[name=duration_s]").max);
  function tooFew(w) {
    const directions = [
      ["down", w.events_per_second_down, "event"],
      ["up", w.messages_per_second_up, "message"],
    ];
    const warnings = [];
    for (const [direction, rate, noun] of directions) {
      if (!rate || rate * w.duration_s >= 1) continue;
      const needed = Math.ceil(1 / rate);
      const remedy = needed <= LONGEST
        ? `run it for at least ${needed} s`
        : `send at least ${g(Math.ceil(100 / LONGEST) / 100)} ${noun}s/s ${direction}`;
      warnings.push(
        `At ${g(rate)} ${plural(rate, noun)}/s ${direction} for ${w.duration_s} s this run sends ` +
        `no ${noun}s ${direction} (${g(rate * w.duration_s)} expected): the ${direction} path ` +
        `would not be measured. To measure it, ${remedy}.`,
      );
    }
    return warnings;
  }

  form.addEventListener("input", () => {
    if (!form.checkValidity()) return;
    const w = params();
    root.querySelector("[data-sentence]").textContent = sentence(w);
    root.querySelector("[data-too-few]").replaceChildren(...tooFew(w).map((text) => {
      const note = document.createElement("p");
      note.className = "notice";
      note.setAttribute("role", "note");
      note.textContent = text;
      return note;
    }));
  });

  // ---- Requests -------------------------------------------------------------

  const postJSON = (url, body) => window.advisorHttp.postJSON(url, body, root.dataset.csrf);

  function problems(data, status) {
    const errors = Object.entries(data.errors || {});
    if (!errors.length) return `the server answered ${status}`;
    return errors.map(([field, message]) => `${field}: ${message}`).join("; ");
  }

  // ---- One transport's measurements ------------------------------------------

  class Side {
    constructor(transport, run) {
      this.transport = transport;
      this.run = run;
      this.panel = root.querySelector(`[data-panel=${transport}]`);
      this.seen = new Set();
      this.lastId = 0;
      this.down = []; // [seconds since start, latency ms]
      this.up = []; // [seconds since start, round trip ms]
      this.bytes = new Map(); // second -> bytes down
      this.eventBytes = [];
      this.base64Extra = []; // bytes base64 added to each binary event (SSE)
      this.upBytes = [];
      this.upSent = 0;
      this.skipped = 0;
      this.dropAt = null; // seconds since start
      this.dropClock = null;
      this.recovery = null;
      this.ended = false;
      this.pending = new Map(); // seq -> send time
      this.busyRetries = 0;
    }

    field(name) {
      return this.panel.querySelector(`[data-field=${name}]`);
    }

    state(text) {
      const field = this.field("state");
      field.textContent = text;
      field.dataset.state = text;
    }

    second(at) {
      return (at - this.run.start_ms) / 1000;
    }

    event(id, ts, wireBytes) {
      const at = now();
      if (this.seen.has(id)) return;
      this.seen.add(id);
      this.lastId = Math.max(this.lastId, id);
      if (this.dropClock != null && this.recovery == null) this.recovery = at - this.dropClock;
      const serverNow = at + clockOffset;
      this.down.push([this.second(serverNow), Math.max(0, serverNow - ts)]);
      const second = Math.floor(this.second(serverNow));
      this.bytes.set(second, (this.bytes.get(second) || 0) + wireBytes);
      this.eventBytes.push(wireBytes);
    }

    dropped() {
      if (this.dropClock != null) return;
      this.dropClock = now();
      this.dropAt = this.second(this.dropClock + clockOffset);
      this.state("reconnecting");
    }

    sentUp(seq) {
      this.upSent += 1;
      this.pending.set(seq, now());
    }

    answered(ack) {
      const sent = this.pending.get(ack.seq);
      if (sent == null) return;
      this.pending.delete(ack.seq);
      const at = now();
      this.up.push([this.second(at + clockOffset), at - sent]);
      this.upBytes.push(ack.wire_bytes);
    }

    summary() {
      const down = this.down.map(([, latency]) => latency);
      const up = this.up.map(([, rtt]) => rtt);
      const upBytes = mean(this.upBytes);
      const perEvent = mean(this.eventBytes);
      return {
        events_expected: this.run.total,
        events_received: this.seen.size,
        lost: Math.max(0, this.run.total - this.seen.size),
        down_ms: percentiles(down),
        up_sent: this.upSent,
        up_answered: this.up.length,
        up_ms: percentiles(up),
        bytes_per_event: perEvent == null ? 0 : Math.round(perEvent * 10) / 10,
        up_bytes_per_message: upBytes == null ? null : Math.round(upBytes * 10) / 10,
        recovery_ms: this.recovery == null ? null : Math.round(this.recovery),
      };
    }

    show() {
      const s = this.summary();
      this.field("events").textContent = s.events_received.toLocaleString("en");
      this.field("lost").textContent = this.ended ? String(s.lost) : "–";
      this.field("down").textContent = s.down_ms ? `${ms(s.down_ms.p50)} / ${ms(s.down_ms.p99)}` : "–";
      this.field("up").textContent = s.up_ms ? `${ms(s.up_ms.p50)} / ${ms(s.up_ms.p99)}` : "–";
      this.field("per-event").textContent = s.events_received ? `${Math.round(s.bytes_per_event)} B` : "–";
      this.field("per-up").textContent = s.up_bytes_per_message == null ? "–" : `${Math.round(s.up_bytes_per_message)} B`;
      this.field("recovery").textContent = ms(s.recovery_ms);
      this.field("skipped").textContent = String(this.skipped);
      if (this.base64Extra.length) {
        const extra = mean(this.base64Extra.map(([added]) => added));
        const raw = mean(this.base64Extra.map(([, length]) => length));
        this.field("base64").textContent = `+${Math.round(extra)} B (+${Math.round((extra / raw) * 100)}%)`;
      }
      drawLatency(this);
      drawBytes(this);
      fillTable(this);
    }
  }

  // ---- Wire sizes --------------------------------------------------------------

  // A server-to-client WebSocket frame: 2, 4 or 10 bytes of header (RFC 6455 5.2).
  const frameBytes = (length) => length + (length <= 125 ? 2 : length <= 0xffff ? 4 : 10);
  // One SSE event as its own chunk of a chunked HTTP/1.1 body: hex size, CRLFs.
  function sseBytes(id, kind, data) {
    const text = encoder.encode(`id: ${id}\nevent: ${kind}\ndata: ${data}\n\n`).length;
    return text + text.toString(16).length + 4;
  }

  function decodeBinary(buffer) {
    const view = new DataView(buffer);
    return { id: Number(view.getBigUint64(0)), ts: view.getFloat64(8) };
  }

  // ---- The WebSocket side --------------------------------------------------------

  function openWebSocket(side, url, onEnd) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    const pings = [];

    function connect(resume) {
      socket = new WebSocket(`${scheme}//${location.host}${url}`);
      socket.binaryType = "arraybuffer";
      side.socket = socket;
      socket.addEventListener("open", () => {
        if (resume) {
          socket.send(JSON.stringify({ type: "resume", last_id: side.lastId }));
        } else {
          // Five pings first: the clock offset that turns event times into latencies.
          for (let i = 0; i < 5; i += 1) socket.send(JSON.stringify({ type: "ping", t: now() }));
        }
      });
      socket.addEventListener("message", (message) => {
        if (message.data instanceof ArrayBuffer) {
          const { id, ts } = decodeBinary(message.data);
          side.event(id, ts, frameBytes(message.data.byteLength));
          return;
        }
        const data = JSON.parse(message.data);
        if (data.type === "pong") {
          const at = now();
          pings.push({ rtt: at - data.t, offset: data.server_ts - (data.t + at) / 2 });
          if (pings.length === 5) {
            clockOffset = pings.reduce((best, ping) => (ping.rtt < best.rtt ? ping : best)).offset;
            clockFromPings = true;
            socket.send(JSON.stringify({ type: "start" }));
          }
        } else if (data.type === "welcome") {
          side.state("open");
        } else if (data.type === "up_ack") {
          side.answered(data);
        } else if (data.type === "end") {
          side.ended = true;
        } else if (data.type === "error") {
          status.textContent = `WebSocket: ${data.message}`;
        } else if (data.id != null) {
          side.event(data.id, data.ts, frameBytes(encoder.encode(message.data).length));
        }
      });
      socket.addEventListener("close", (event) => {
        if (event.code === 4409 && resume && side.busyRetries < 5) {
          // The dropped socket's place is not free yet: try again shortly.
          side.busyRetries += 1;
          setTimeout(() => connect(true), 200);
        } else if (event.code === 4000) {
          // The forced drop: back at once, asking for what follows the last id.
          side.dropped();
          setTimeout(() => connect(true), 0);
        } else {
          side.ended = true;
          side.state(event.code === 1000 ? "done" : `closed (${event.code})`);
          onEnd();
        }
      });
    }

    side.send = (message) => {
      if (socket.readyState !== WebSocket.OPEN) {
        side.skipped += 1;
        return;
      }
      side.sentUp(message.seq);
      socket.send(JSON.stringify({ type: "up", ...message }));
    };
    connect(false);
  }

  // ---- The SSE side ----------------------------------------------------------------

  function openEventSource(side, url, upUrl, runId, onEnd) {
    const source = new EventSource(url);
    side.source = source;
    source.addEventListener("welcome", (message) => {
      side.state("open");
      // Until (or unless) the WebSocket's pings tell better: one way, so late by a trip.
      if (!clockFromPings) clockOffset = JSON.parse(message.data).ts - now();
    });
    source.addEventListener("json", (message) => {
      const data = JSON.parse(message.data);
      side.event(data.id, data.ts, sseBytes(message.lastEventId, "json", message.data));
    });
    source.addEventListener("binary", (message) => {
      const raw = atob(message.data);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
      const { id, ts } = decodeBinary(bytes.buffer);
      side.event(id, ts, sseBytes(message.lastEventId, "binary", message.data));
      side.base64Extra.push([message.data.length - bytes.length, bytes.length]);
    });
    source.addEventListener("end", () => {
      side.ended = true;
      source.close();
      side.state("done");
      onEnd();
    });
    source.addEventListener("error", () => {
      if (side.ended) return;
      if (source.readyState === EventSource.CONNECTING) {
        // The forced drop: EventSource comes back by itself with Last-Event-ID.
        side.dropped();
      } else {
        side.ended = true;
        side.state("failed");
        onEnd();
      }
    });
    side.send = async (message) => {
      side.sentUp(message.seq);
      const { response, data } = await postJSON(upUrl, { run: runId, ...message });
      if (response.ok) side.answered(data);
    };
  }

  // ---- Charts ------------------------------------------------------------------------

  function el(tag, attributes = {}, text = null) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text != null) node.textContent = text;
    return node;
  }

  function chartBox(side, name, label) {
    const holder = side.panel.querySelector(`[data-chart=${name}]`);
    const svg = el("svg", { viewBox: "0 0 360 190", role: "img", "aria-label": label });
    holder.replaceChildren(svg);
    return svg;
  }

  // Plot area: x from 44 to 336, y from 26 to 160. The margins hold the
  // labels whole: the unit above the top value, the last second's "s" on
  // the right (the viewBox is 360 wide).
  const X0 = 44, X1 = 336, Y0 = 160, Y1 = 26;
  // The site's transport colours (app.css), as everywhere else: WebSocket
  // blue, SSE brown. Read from the stylesheet: an SVG attribute takes no var().
  const colour = (transport) =>
    getComputedStyle(document.documentElement).getPropertyValue(`--${transport}`).trim();

  function axes(svg, seconds, top, unit) {
    svg.append(el("line", { x1: X0, y1: Y0, x2: X1, y2: Y0, stroke: "#374151" }));
    svg.append(el("line", { x1: X0, y1: Y0, x2: X0, y2: Y1, stroke: "#374151" }));
    for (const fraction of [0, 0.5, 1]) {
      const y = Y0 - fraction * (Y0 - Y1);
      svg.append(el("text", { x: X0 - 4, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#1f2937" }, `${Math.round(top * fraction)}`));
      const x = X0 + fraction * (X1 - X0);
      // The first second's label starts at the axis, clear of the value 0; the last ends at it.
      const anchor = fraction === 0 ? "start" : fraction === 1 ? "end" : "middle";
      svg.append(el("text", { x, y: Y0 + 14, "text-anchor": anchor, "font-size": 11, fill: "#1f2937" }, `${Math.round(seconds * fraction)} s`));
    }
    svg.append(el("text", { x: X0 - 4, y: Y1 - 12, "text-anchor": "end", "font-size": 11, fill: "#1f2937" }, unit));
  }

  const xOf = (second, seconds) => X0 + (Math.min(second, seconds) / seconds) * (X1 - X0);
  const yOf = (value, top) => Y0 - (Math.min(value, top) / top) * (Y0 - Y1);

  // Per second: [second, median, slowest], so that a chart can show the drop's delay.
  function perSecond(points) {
    const bySecond = new Map();
    for (const [second, value] of points) {
      const key = Math.floor(second);
      if (!bySecond.has(key)) bySecond.set(key, []);
      bySecond.get(key).push(value);
    }
    return [...bySecond.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([second, values]) => [second, percentile(values, 50), Math.max(...values)]);
  }

  function drawLatency(side) {
    const seconds = side.run.workload.duration_s;
    const budget = side.run.workload.answer_budget_ms;
    // The slowest of each second: the events the drop held up show as a peak.
    const down = perSecond(side.down).map(([second, , slowest]) => [second, slowest]);
    const up = perSecond(side.up).map(([second, , slowest]) => [second, slowest]);
    const highest = Math.max(budget, ...down.map(([, v]) => v), ...up.map(([, v]) => v), 10);
    const top = Math.ceil(highest / 10) * 10;
    const svg = chartBox(side, "latency", `${NAMES[side.transport]}: latency per second, down and up, with the drop and the budget`);
    axes(svg, seconds, top, "ms");
    const budgetY = yOf(budget, top);
    svg.append(el("line", { x1: X0, y1: budgetY, x2: X1, y2: budgetY, stroke: "#7a4a00", "stroke-dasharray": "8 3 2 3" }));
    svg.append(el("text", { x: X1, y: budgetY - 3, "text-anchor": "end", "font-size": 11, fill: "#7a4a00" }, `budget ${budget} ms`));
    if (side.dropAt != null) {
      const x = xOf(side.dropAt, seconds);
      svg.append(el("line", { x1: x, y1: Y0, x2: x, y2: Y1, stroke: "#b42318", "stroke-dasharray": "2 3" }));
      svg.append(el("text", { x: x + 3, y: Y1 + 10, "font-size": 11, fill: "#b42318" }, "drop"));
    }
    // Both lines in the transport's colour: down solid with round markers,
    // up dashed with square ones.
    const stroke = colour(side.transport);
    const series = [
      { points: down, dash: null, marker: "circle", label: "down" },
      { points: up, dash: "6 4", marker: "square", label: "up" },
    ];
    // Label baselines already taken at the right edge: the budget's first.
    const taken = [budgetY - 3];
    for (const { points, dash, marker, label } of series) {
      if (!points.length) continue;
      const path = points.map(([s, v], i) => `${i ? "L" : "M"}${xOf(s + 0.5, seconds).toFixed(1)},${yOf(v, top).toFixed(1)}`).join(" ");
      const line = el("path", { d: path, fill: "none", stroke, "stroke-width": 2 });
      if (dash) line.setAttribute("stroke-dasharray", dash);
      svg.append(line);
      for (const [s, v] of points) {
        const x = xOf(s + 0.5, seconds), y = yOf(v, top);
        svg.append(marker === "circle"
          ? el("circle", { cx: x, cy: y, r: 2.5, fill: stroke })
          : el("rect", { x: x - 2.5, y: y - 2.5, width: 5, height: 5, fill: stroke }));
      }
      const [lastS, lastV] = points[points.length - 1];
      // Each line's name by its end, moved a line up (or down, near the top)
      // off any label already there: the budget's, or "down" where "up" ends.
      let y = yOf(lastV, top) - 5;
      for (let tries = 0; tries < 6 && taken.some((t) => Math.abs(y - t) < 13); tries += 1) {
        const near = taken.filter((t) => Math.abs(y - t) < 13);
        y = Math.min(...near) - 13 >= Y1 + 10 ? Math.min(...near) - 13 : Math.max(...near) + 13;
      }
      taken.push(y);
      svg.append(el("text", { x: Math.min(xOf(lastS + 0.5, seconds) + 4, X1 - 24), y, "font-size": 11, fill: stroke }, label));
    }
  }

  function drawBytes(side) {
    const seconds = side.run.workload.duration_s;
    const values = [...side.bytes.entries()];
    const top = Math.max(1024, ...values.map(([, v]) => v));
    const kib = Math.ceil(top / 1024);
    const svg = chartBox(side, "bytes", `${NAMES[side.transport]}: bytes on the wire per second`);
    axes(svg, seconds, kib, "KiB/s");
    const width = Math.max(1, (X1 - X0) / seconds - 1);
    for (const [second, bytes] of values) {
      if (second < 0 || second >= seconds) continue;
      const y = yOf(bytes / 1024, kib);
      svg.append(el("rect", { x: xOf(second, seconds), y, width, height: Y0 - y, fill: colour(side.transport) }));
    }
  }

  function fillTable(side) {
    const body = side.panel.querySelector("[data-table] tbody");
    const down = new Map(perSecond(side.down).map(([second, ...values]) => [second, values]));
    const up = new Map(perSecond(side.up).map(([second, ...values]) => [second, values]));
    const seconds = [...new Set([...down.keys(), ...up.keys(), ...side.bytes.keys()])].filter((s) => s >= 0).sort((a, b) => a - b);
    const rows = seconds.map((second) => {
      const row = document.createElement("tr");
      const cells = [
        String(second),
        down.has(second) ? down.get(second).map(Math.round).join(" / ") : "–",
        up.has(second) ? up.get(second).map(Math.round).join(" / ") : "–",
        String(side.bytes.get(second) || 0),
        side.dropAt != null && Math.floor(side.dropAt) === second ? "drop" : "",
      ];
      cells.forEach((text, index) => {
        const cell = document.createElement(index ? "td" : "th");
        if (!index) cell.scope = "row";
        cell.textContent = text;
        row.append(cell);
      });
      return row;
    });
    body.replaceChildren(...rows);
  }

  // ---- The summary chart ---------------------------------------------------------------

  function drawSummary(summaries) {
    const section = root.querySelector("[data-summary]");
    section.hidden = false;
    const measures = [];
    for (const direction of ["down", "up"]) {
      for (const p of ["p50", "p95", "p99"]) {
        measures.push({ label: `${direction === "down" ? "Down" : "Up round trip"} ${p}`, unit: "ms", value: (s) => s[`${direction}_ms`]?.[p] ?? null });
      }
    }
    measures.push({ label: "Bytes per event", unit: "B", value: (s) => s.bytes_per_event });
    measures.push({ label: "Bytes per up message", unit: "B", value: (s) => s.up_bytes_per_message });
    measures.push({ label: "Time to recover", unit: "ms", value: (s) => s.recovery_ms });
    measures.push({ label: "Events lost", unit: "", value: (s) => s.lost });

    const rowHeight = 40;
    const svg = el("svg", { viewBox: `0 0 360 ${measures.length * rowHeight + 10}`, role: "img", "aria-label": "Both transports side by side: latency percentiles, bytes, recovery and losses" });
    const defs = el("defs");
    const hatch = el("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    hatch.append(el("rect", { width: 6, height: 6, fill: "#fdebd8" }));
    hatch.append(el("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: colour("sse"), "stroke-width": 3 }));
    defs.append(hatch);
    svg.append(defs);
    const body = root.querySelector("[data-summary-table] tbody");
    const rows = [];
    measures.forEach((measure, index) => {
      const y = index * rowHeight + 4;
      const values = TRANSPORTS.map((t) => measure.value(summaries[t]));
      const top = Math.max(1, ...values.filter((v) => v != null));
      svg.append(el("text", { x: 0, y: y + 10, "font-size": 11, fill: "#1f2937" }, measure.label));
      TRANSPORTS.forEach((transport, i) => {
        const value = values[i];
        const barY = y + 14 + i * 12;
        const width = value == null ? 0 : Math.max(1, (value / top) * 190);
        svg.append(el("rect", { x: 0, y: barY, width, height: 10, fill: i ? "url(#hatch)" : colour("websocket"), stroke: i ? colour("sse") : "none" }));
        const text = `${NAMES[transport]} ${value == null ? "n/a" : `${Math.round(value)}${measure.unit ? ` ${measure.unit}` : ""}`}`;
        svg.append(el("text", { x: width + 4, y: barY + 9, "font-size": 10, fill: "#1f2937" }, text));
      });
      const row = document.createElement("tr");
      const head = document.createElement("th");
      head.scope = "row";
      head.textContent = measure.label;
      row.append(head);
      for (const value of values) {
        const cell = document.createElement("td");
        cell.textContent = value == null ? "n/a" : `${Math.round(value)}${measure.unit ? ` ${measure.unit}` : ""}`;
        row.append(cell);
      }
      rows.push(row);
    });
    section.querySelector("[data-chart=summary]").replaceChildren(svg);
    body.replaceChildren(...rows);
  }

  // ---- A run from start to evidence -------------------------------------------------------

  async function save(run, summaries) {
    const note = root.querySelector("[data-save]");
    if (!root.dataset.assessment) {
      note.textContent = "Open this page from an assessment's result (“Run my workload”) to keep a run as evidence.";
      return;
    }
    if (root.dataset.canSave !== "true") {
      note.textContent = "Measured, not saved: your role may view this assessment but not add evidence to it.";
      return;
    }
    note.textContent = "Saving the measurement as evidence…";
    const { response, data } = await postJSON(root.dataset.apiUrl, {
      assessment: root.dataset.assessment,
      revision: Number(root.dataset.revision),
      workload: run.workload,
      ...summaries,
    });
    if (!response.ok) {
      note.textContent = `Not saved: ${problems(data, response.status)}.`;
      return;
    }
    note.replaceChildren("Saved as evidence: ");
    const link = document.createElement("a");
    link.href = root.dataset.resultUrl;
    link.textContent = "see it on the result page";
    link.dataset.savedRun = data.id;
    note.append(link, ".");
  }

  async function start() {
    if (!form.reportValidity()) return;
    startButton.disabled = true;
    status.textContent = "Starting…";
    const { response, data: run } = await postJSON(root.dataset.startUrl, params());
    if (!response.ok) {
      status.textContent = `Could not start: ${problems(run, response.status)}.`;
      startButton.disabled = false;
      startButton.focus();
      return;
    }
    root.querySelector("[data-summary]").hidden = true;
    root.querySelector("[data-save]").textContent = "";
    status.textContent = `Running: ${run.sentence}.`;
    const sides = Object.fromEntries(TRANSPORTS.map((t) => [t, new Side(t, run)]));
    let finished = 0;
    let timer = null;
    let upTimer = null;
    const redraw = setInterval(() => TRANSPORTS.forEach((t) => sides[t].show()), 500);

    const finish = () => {
      clearInterval(redraw);
      clearInterval(upTimer);
      clearTimeout(timer);
      for (const side of Object.values(sides)) {
        side.ended = true;
        side.show();
      }
      sides.sse.source?.close();
      sides.websocket.socket?.close();
      const summaries = { websocket: sides.websocket.summary(), sse: sides.sse.summary() };
      drawSummary(summaries);
      status.textContent = "Finished.";
      startButton.disabled = false;
      save(run, summaries);
    };
    const onEnd = () => {
      finished += 1;
      if (finished === 2) finish();
    };
    // Whatever happens to the streams, the run ends a few seconds after its end.
    timer = setTimeout(() => {
      finished = 2;
      finish();
    }, run.start_ms + run.workload.duration_s * 1000 + 8000 - Date.now());

    // Both transports open at once: where a proxy blocks WebSockets, SSE
    // still runs, and that is worth seeing. The first event is due a second
    // after the start, long after the WebSocket's pings have set the clock.
    openWebSocket(sides.websocket, run.websocket, onEnd);
    openEventSource(sides.sse, run.events, run.up, run.run, onEnd);
    const rate = run.workload.messages_per_second_up;
    if (rate) {
      let seq = 0;
      const endAt = run.start_ms + run.workload.duration_s * 1000;
      const begin = () => {
        upTimer = setInterval(() => {
          if (now() + clockOffset > endAt) return clearInterval(upTimer);
          seq += 1;
          const message = { seq, t: Math.round(now()), data: "u".repeat(64) };
          sides.websocket.send(message);
          sides.sse.send(message).catch(() => {});
        }, 1000 / rate);
      };
      setTimeout(begin, Math.max(0, run.start_ms - Date.now()));
    }
  }

  startButton.addEventListener("click", () => {
    start().catch((error) => {
      status.textContent = `The run failed: ${error.message}`;
      startButton.disabled = false;
    });
  });
})();
