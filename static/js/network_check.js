// "Check my network": measures this browser's path to this server (a
// WebSocket, an SSE burst, the HTTP version, SSE streams at once), posts the
// figures to the API, then loads the server's rendering of what it found and
// suggests (the evidence partial the result page and the PDF show too) with
// htmx. One panel per [data-network-check] element, set up once per element:
// the wizard's steps are swapped in by htmx, so a panel may arrive at any time.
"use strict";

(() => {
  const WS_PINGS = 10;
  const WS_HANDSHAKE_MS = 3000;
  const WS_PINGS_MS = 5000;
  const SSE_COUNT = 10;
  const SSE_INTERVAL_MS = 200;
  const SSE_TIMEOUT_MS = 6000;
  const STREAMS = 8;
  const STREAMS_WAIT_MS = 1500;
  // Each stream lives 2 s (3 events 1 s apart): longer than the wait, so a
  // stream the browser held back for want of a connection cannot start in
  // the place of one that finished, and the count is of streams open at once.
  const STREAMS_QUERY = "count=3&interval_ms=1000";

  const SIMULATIONS = {
    blocked: "the WebSocket handshake is refused, as by a proxy that blocks upgrades",
    buffering: "the SSE events are held back and sent all at once, as by a buffering proxy",
  };

  const round = (ms) => Math.round(ms * 10) / 10;
  // As the server words its findings, so the steps and the findings agree.
  const formatMs = (ms) => {
    if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
    return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
  };

  // The one percentile of the site (static/js/app.js), as the findings use it.
  const { percentile } = window.advisor;
  // The id in the panel's data-evidence-url that a check's id replaces.
  const ANY_CHECK = "00000000-0000-0000-0000-000000000000";

  // Text only, never HTML: the steps and errors quote the server, and a page
  // that builds markup from strings is one mistake away from injection.
  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  function requestedSimulations() {
    const values = new URLSearchParams(location.search)
      .getAll("simulate")
      .flatMap((value) => value.split(","))
      .map((value) => value.trim())
      .filter(Boolean);
    return {
      // hasOwn, not `in`: ?simulate=toString must not find Object.prototype's.
      known: [...new Set(values.filter((value) => Object.hasOwn(SIMULATIONS, value)))],
      unknown: [...new Set(values.filter((value) => !Object.hasOwn(SIMULATIONS, value)))],
    };
  }

  function withQuery(url, query) {
    return query ? `${url}${url.includes("?") ? "&" : "?"}${query}` : url;
  }

  // (a) The upgrade, then ping-pong round trips, one at a time.
  function probeWebSocket(url) {
    return new Promise((resolve) => {
      const result = { status: "blocked", close_code: null, rtt_ms: [] };
      let socket = null;
      let opened = false;
      let settled = false;
      let sent = 0;
      let timer = null;
      const finish = (status, closeCode, note) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        result.status = status;
        result.close_code = closeCode ?? null;
        if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
        resolve({ result, note });
      };
      const ping = () => {
        sent += 1;
        socket.send(JSON.stringify({ type: "ping", n: sent, client_ts: performance.now() }));
      };
      try {
        socket = new WebSocket(url);
      } catch (error) {
        finish("blocked", null, `could not be opened: ${error.message}`);
        return;
      }
      timer = setTimeout(() => finish("blocked", null, "no answer to the upgrade within 3 s"), WS_HANDSHAKE_MS);
      socket.addEventListener("open", () => {
        opened = true;
        clearTimeout(timer);
        timer = setTimeout(() => {
          const got = result.rtt_ms.length;
          finish(got ? "ok" : "error", null, `only ${got} of ${WS_PINGS} pongs within ${WS_PINGS_MS / 1000} s`);
        }, WS_PINGS_MS);
        ping();
      });
      socket.addEventListener("message", (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (message.type === "error") {
          finish("error", null, `the server answered: ${message.message}`);
        } else if (message.type === "pong" && message.n === sent && typeof message.client_ts === "number") {
          result.rtt_ms.push(round(Math.max(0, performance.now() - message.client_ts)));
          if (result.rtt_ms.length >= WS_PINGS) finish("ok", null);
          else ping();
        }
      });
      // A refused upgrade shows as an error and then a close (1006) before
      // any open; a close after open means the connection broke.
      socket.addEventListener("close", (event) => {
        const reason = event.reason ? ` ${event.reason}` : "";
        finish(opened ? "error" : "blocked", event.code, `closed with code ${event.code}${reason}${opened ? " after opening" : " before opening"}`);
      });
    });
  }

  // (b) A burst of events spaced over 2 s: streamed, or held back and bunched.
  function probeSse(url) {
    return new Promise((resolve) => {
      const arrivals = [];
      let settled = false;
      // The done event's data: through the proxy's buffering location it
      // carries the server's receipt for the run (network_check/via.py).
      let done = null;
      const started = performance.now();
      const source = new EventSource(url);
      const finish = (note) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        source.close();
        resolve({
          result: {
            status: arrivals.length ? "ok" : "failed",
            events_expected: SSE_COUNT,
            interval_ms: SSE_INTERVAL_MS,
            arrivals_ms: arrivals.slice(0, SSE_COUNT),
          },
          note,
          done,
        });
      };
      const timer = setTimeout(
        () => finish(`${arrivals.length} of ${SSE_COUNT} events within ${SSE_TIMEOUT_MS / 1000} s`),
        SSE_TIMEOUT_MS,
      );
      source.addEventListener("probe", () => arrivals.push(round(performance.now() - started)));
      source.addEventListener("done", (event) => {
        try {
          done = JSON.parse(event.data);
        } catch {
          done = null;
        }
        finish();
      });
      // EventSource does not say why: the stream was refused or broke off.
      source.addEventListener("error", () =>
        finish(arrivals.length ? `the stream broke off after ${arrivals.length} events` : "the stream could not be opened"),
      );
    });
  }

  // (c) The HTTP version this page came over.
  function httpVersion() {
    const entry = performance.getEntriesByType("navigation")[0];
    return (entry?.nextHopProtocol || "").slice(0, 32);
  }

  // (c) How many SSE streams open at once: about six over HTTP/1.1.
  function probeStreams(url) {
    return new Promise((resolve) => {
      const sources = [];
      let opened = 0;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sources.forEach((source) => source.close());
        resolve({ attempted: STREAMS, opened });
      };
      const timer = setTimeout(finish, STREAMS_WAIT_MS);
      for (let i = 0; i < STREAMS; i += 1) {
        const source = new EventSource(url);
        sources.push(source);
        let first = true;
        source.addEventListener("probe", () => {
          if (!first) return;
          first = false;
          opened += 1;
          if (opened === STREAMS) finish();
        });
        // Never let a refused stream retry in the background.
        source.addEventListener("error", () => source.close());
      }
    });
  }

  class CheckError extends Error {
    constructor(message, details = []) {
      super(message);
      this.details = details;
    }
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return null; // A proxy's HTML error page: the status says enough.
    }
  }

  function errorDetails(data) {
    const errors = data?.errors;
    if (!errors || typeof errors !== "object") return [];
    return Object.entries(errors).map(
      ([field, message]) => `${field}: ${typeof message === "string" ? message : JSON.stringify(message)}`,
    );
  }

  async function request(url, options, what) {
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", cache: "no-store", ...options });
    } catch (error) {
      throw new CheckError(`Could not reach the server to ${what} (${error.message}).`);
    }
    const data = await readJson(response);
    if (!response.ok) {
      throw new CheckError(`The server could not ${what}: it answered ${response.status}.`, errorDetails(data));
    }
    if (!data) throw new CheckError(`The server's answer to ${what} was not JSON.`);
    return data;
  }

  class NetworkCheck {
    constructor(root) {
      this.root = root;
      this.mode = root.dataset.mode;
      this.form = root.closest("form");
      this.running = false;
      // The shown check's suggestions, read from its evidence once loaded.
      this.suggestions = [];
      this.nodes = {};
      root.querySelectorAll("[data-nc]").forEach((node) => {
        this.nodes[node.dataset.nc] = node;
      });
      this.simulations = requestedSimulations();
      this.showSimulations();
      this.nodes.run.addEventListener("click", () => this.run());
      this.nodes["run-proxy"]?.addEventListener("click", () => this.run({ viaProxy: true }));
      this.nodes["use-all"]?.addEventListener("click", () => this.useAll());
      // The evidence is swapped in after a run: one listener for its buttons.
      this.nodes.evidence.addEventListener("click", (event) => {
        const item = event.target.closest("[data-use-suggestion]")?.closest("[data-suggestion]");
        const suggestion = this.suggestions.find((each) => each.item === item);
        if (suggestion) this.say(this.use(suggestion));
      });
      // An answer changed by hand: the notes beside the suggestions follow.
      this.form?.addEventListener("change", (event) => {
        if (!event.isTrusted || !this.suggestions.length) return;
        this.refreshNotes();
        // "Ticked …" no longer describes an answer the user has since changed.
        if (this.suggestions.some((suggestion) => suggestion.question === event.target.name)) this.say("");
      });
      root.hidden = false;
      this.nodes.run.hidden = false;
      if (this.nodes["run-proxy"]) this.nodes["run-proxy"].hidden = false;
      root.dataset.ready = "true";
      this.restore();
    }

    get idInput() {
      return this.form?.querySelector("[data-network-check-id]") ?? null;
    }

    showSimulations() {
      const { known, unknown } = this.simulations;
      const notes = known.map((name) => `Simulation on (simulate=${name}): ${SIMULATIONS[name]}.`);
      if (unknown.length) {
        notes.push(
          `Ignored: ${unknown.map((name) => `simulate=${name}`).join(", ")} is not a simulation; ` +
            "use simulate=blocked, simulate=buffering or simulate=blocked,buffering.",
        );
      }
      this.nodes.simulation.textContent = notes.join(" ");
      this.nodes.simulation.hidden = !notes.length;
    }

    // Back on the network step: show the check already attached to the answers.
    async restore() {
      const id = this.idInput?.value;
      if (this.mode !== "wizard" || !id) return;
      try {
        const evidence = await this.show(id, () => !this.running);
        if (evidence) {
          const when = new Date(evidence.dataset.createdAt).toLocaleString();
          this.say(`A network check from ${when} is attached to these answers.`);
        }
      } catch (error) {
        this.showError(error);
      }
    }

    say(text) {
      this.nodes.status.textContent = text;
    }

    showError(error) {
      const box = this.nodes.error;
      box.replaceChildren(element("p", {}, error.message));
      if (error.details?.length) box.append(element("ul", {}, ...error.details.map((line) => element("li", {}, line))));
      box.hidden = false;
    }

    step(key, text) {
      let item = this.nodes.steps.querySelector(`[data-step="${key}"]`);
      if (!item) {
        item = element("li", { "data-step": key });
        this.nodes.steps.append(item);
      }
      return {
        running: (detail) => {
          item.dataset.state = "running";
          item.textContent = `${text}: ${detail}…`;
          this.say(`${text}…`);
        },
        done: (detail, state = "done") => {
          item.dataset.state = state;
          item.textContent = `${text}: ${detail}`;
        },
      };
    }

    probeUrl(base, query, simulation) {
      const simulate = this.simulations.known.includes(simulation) ? `simulate=${simulation}` : "";
      return withQuery(withQuery(base, query), simulate);
    }

    async run({ viaProxy = false } = {}) {
      if (this.running) return;
      this.running = true;
      const root = this.root;
      const { run, steps, error, results } = this.nodes;
      const runProxy = this.nodes["run-proxy"];
      // aria-disabled, not disabled: a disabled button drops the keyboard's
      // focus to the page's top; this one keeps it, and says it is busy
      // (a second press does nothing while this.running).
      run.setAttribute("aria-disabled", "true");
      if (runProxy) runProxy.setAttribute("aria-disabled", "true");
      root.setAttribute("aria-busy", "true");
      root.dataset.state = "running";
      error.hidden = true;
      error.replaceChildren();
      results.hidden = true;
      steps.replaceChildren();
      steps.hidden = false;
      try {
        const measurement = await this.measure({ viaProxy });
        if (!root.isConnected) return; // The step was swapped away meanwhile.
        const save = this.step("save", "Saving the measurement");
        save.running("sending it to the server");
        let check;
        try {
          check = await request(
            root.dataset.apiUrl,
            {
              method: "POST",
              headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
              body: JSON.stringify(measurement),
            },
            "store the measurement",
          );
        } catch (failure) {
          save.done("failed", "failed");
          throw failure;
        }
        save.done("saved");
        await this.show(check.id);
        const count = check.suggestions.length;
        const kind = check.simulation_notice
          ? "Simulated check"
          : check.via_notice
            ? "Check through the buffering proxy"
            : "Check";
        this.say(
          `${kind} complete: ${check.findings.length} findings, ` +
            `${count} suggested answer${count === 1 ? "" : "s"}.`,
        );
        root.dataset.state = "done";
      } catch (failure) {
        root.dataset.state = "failed";
        this.say("The check did not complete.");
        this.showError(failure instanceof CheckError ? failure : new CheckError(`The check failed: ${failure.message}`));
      } finally {
        this.running = false;
        run.removeAttribute("aria-disabled");
        if (runProxy) runProxy.removeAttribute("aria-disabled");
        run.textContent = "Run the check again";
        root.removeAttribute("aria-busy");
      }
    }

    async measure({ viaProxy = false } = {}) {
      const { wsPath, eventsUrl, bufferingPrefix } = this.root.dataset;
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";

      const ws = this.step("websocket", "WebSocket");
      ws.running("opening a connection and sending 10 pings");
      const wsUrl = this.probeUrl(`${scheme}//${location.host}${wsPath}`, "", "blocked");
      const { result: websocket, note: wsNote } = await probeWebSocket(wsUrl);
      if (websocket.status === "ok") {
        const rtts = websocket.rtt_ms;
        ws.done(
          `upgrade succeeded; ${rtts.length} round trips, ${formatMs(percentile(rtts, 50))} median / ` +
            `${formatMs(percentile(rtts, 95))} p95${wsNote ? ` (${wsNote})` : ""}`,
        );
      } else {
        ws.done(`${websocket.status === "blocked" ? "upgrade failed" : "broke off"}: ${wsNote}`, "failed");
      }

      const sse = this.step("sse", "SSE");
      sse.running(`receiving ${SSE_COUNT} events sent over ${((SSE_COUNT - 1) * SSE_INTERVAL_MS) / 1000} s`);
      const sseQuery = `count=${SSE_COUNT}&interval_ms=${SSE_INTERVAL_MS}`;
      // Through the proxy: the same probe under the proxy's buffering location,
      // a real buffering proxy rather than the simulated one.
      const sseUrl = viaProxy
        ? withQuery(`${bufferingPrefix}${eventsUrl}`, sseQuery)
        : this.probeUrl(eventsUrl, sseQuery, "buffering");
      const { result: events, note: sseNote, done: sseDone } = await probeSse(sseUrl);
      if (viaProxy && !(sseDone?.via === "buffering-proxy" && sseDone.receipt)) {
        sse.done("not through the buffering proxy", "failed");
        throw new CheckError(
          "The probe did not come through the buffering proxy: the server saw no mark from a proxy it trusts. Nothing was stored.",
        );
      }
      const arrivals = events.arrivals_ms;
      if (arrivals.length) {
        const spread = arrivals[arrivals.length - 1] - arrivals[0];
        sse.done(
          `${arrivals.length} of ${SSE_COUNT} events, the first after ${formatMs(arrivals[0])}, ` +
            `${spread < 1 ? "all at once" : `spread over ${formatMs(spread)}`}${sseNote ? ` (${sseNote})` : ""}`,
          arrivals.length === SSE_COUNT ? "done" : "failed",
        );
      } else {
        sse.done(`no event arrived: ${sseNote}`, "failed");
      }

      const http = this.step("http", "HTTP version");
      const version = httpVersion();
      http.done(version ? `this page came over ${version}` : "the browser does not say");

      const streams = this.step("streams", "Concurrent SSE streams");
      streams.running(`opening ${STREAMS} SSE streams at once`);
      const opened = await probeStreams(withQuery(eventsUrl, STREAMS_QUERY));
      streams.done(`${opened.opened} of ${opened.attempted} delivered an event within ${STREAMS_WAIT_MS / 1000} s`);

      const measurement = { websocket, sse: events, http_version: version, sse_streams: opened };
      // Said with the figures, so a staged failure is never stored as a real one.
      // (Through the real proxy, the stream probe simulated nothing.)
      const simulated = this.simulations.known.filter((name) => !(viaProxy && name === "buffering"));
      if (simulated.length) measurement.simulated = simulated;
      if (viaProxy) {
        measurement.via = sseDone.via;
        measurement.via_receipt = sseDone.receipt;
      }
      return measurement;
    }

    // Load the server's rendering of check `id` into the panel (htmx) and
    // link the check to the answers. `wanted` is asked once it has arrived:
    // false leaves it hidden and unlinked (a run started meanwhile, and its
    // own check will replace it).
    async show(id, wanted = () => true) {
      const target = this.nodes.evidence;
      const url = this.root.dataset.evidenceUrl.replace(ANY_CHECK, encodeURIComponent(id));
      try {
        await htmx.ajax("GET", url, { target, swap: "innerHTML" });
      } catch (error) {
        throw new CheckError(`Could not reach the server to show the check (${error?.message ?? error}).`);
      }
      // htmx swaps nothing for an error status: this check's evidence is missing then.
      const evidence = target.querySelector(`[data-evidence-of="${CSS.escape(id)}"]`);
      if (!evidence) throw new CheckError("The server could not show the check's findings.");
      if (!wanted() || !this.root.isConnected) return null;
      this.suggestions = [...evidence.querySelectorAll("[data-suggestion]")].map((item) => ({
        item,
        question: item.dataset.suggestion,
        value: item.dataset.value,
        label: item.dataset.label,
        questionText: item.dataset.question,
      }));
      const { results, start } = this.nodes;
      if (this.nodes["use-all"]) this.nodes["use-all"].hidden = !this.suggestions.length;
      if (start) start.href = withQuery(this.root.dataset.newUrl, `network_check=${encodeURIComponent(id)}`);
      if (this.idInput) this.idInput.value = id;
      this.root.dataset.checkId = id;
      results.hidden = false;
      this.refreshNotes();
      return evidence;
    }

    radioFor(suggestion) {
      if (!this.form) return null;
      const name = CSS.escape(suggestion.question);
      const value = CSS.escape(suggestion.value);
      return this.form.querySelector(`input[type="radio"][name="${name}"][value="${value}"]`);
    }

    use(suggestion) {
      const question = suggestion.questionText;
      const radio = this.radioFor(suggestion);
      if (!radio) {
        this.refreshNotes();
        return `“${question}” is not asked on this step, so “${suggestion.label}” could not be ticked.`;
      }
      if (!radio.checked) {
        radio.checked = true;
        // The leaning panel listens for changes on the form.
        radio.dispatchEvent(new Event("change", { bubbles: true }));
      }
      this.refreshNotes();
      return `Ticked “${suggestion.label}” for “${question}”.`;
    }

    useAll() {
      const said = this.suggestions.map((suggestion) => this.use(suggestion));
      this.say(said.join(" "));
    }

    // Beside each suggestion: whether the answer on the step now follows it.
    refreshNotes() {
      if (this.mode !== "wizard") return;
      for (const suggestion of this.suggestions) {
        const note = suggestion.item.querySelector("[data-applied]");
        if (!note) continue;
        const radio = this.radioFor(suggestion);
        const chosen = this.form?.querySelector(`input[type="radio"][name="${CSS.escape(suggestion.question)}"]:checked`);
        if (!radio) note.textContent = "Not asked on this step.";
        else if (radio.checked) note.textContent = `Your answer: ${suggestion.label}.`;
        else if (chosen) note.textContent = `Your answer differs: ${chosen.closest("label")?.textContent.trim() ?? chosen.value}.`;
        else note.textContent = "";
        suggestion.item.dataset.applied = String(Boolean(radio?.checked));
      }
    }
  }

  function setUp(scope) {
    const panels = scope.matches?.("[data-network-check]") ? [scope] : [];
    panels.push(...(scope.querySelectorAll?.("[data-network-check]") ?? []));
    for (const root of panels) {
      if (root.networkCheck) continue;
      root.networkCheck = new NetworkCheck(root);
    }
  }

  document.addEventListener("htmx:load", (event) => setUp(event.detail.elt));
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => setUp(document));
  } else {
    setUp(document);
  }
})();
