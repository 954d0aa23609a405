// Live decisions (questionnaire/live.py): the result page's decision panel
// and the header's count of decisions waiting for my review, kept current
// over one Server-Sent Events stream. Without this file, a reload shows the same.
"use strict";

(() => {
  const link = document.getElementById("decisions-waiting");
  if (!link || !window.EventSource) return;
  const count = document.getElementById("decisions-waiting-count");
  const announcer = document.getElementById("decision-live");
  const panel = () => document.getElementById("decision");
  const RETRY_MS = 3000;
  // The panel URL carries ?seen=N, the revision the page shows.
  const PANEL_URL = /\/assessments\/([0-9a-f-]{36})\/decision\/(?:\?.*)?$/;
  const watched = panel()?.dataset.decisionUrl?.match(PANEL_URL)?.[1];
  // The newest audit event this page knows: where a new stream resumes.
  let lastId = link.dataset.lastEventId;
  let source = null;
  let attempts = 0;
  let pending = false;
  // One panel fetch at a time: htmx would queue a second one itself, and a
  // queued request's failure reaches no one (an uncaught rejection, no retry).
  let fetching = false;
  let again = false;
  // Panel fetches that failed in a row (retried further apart).
  let failures = 0;
  // Whether the fetch under way swapped its answer into the page.
  let landed = false;
  // While a form's answer is being swapped in and settled: a timer.
  let answering = null;
  const settled = () => {
    window.clearTimeout(answering);
    answering = null;
    if (pending) refresh();
  };
  // Where focus was in the panel a refresh is replacing (a selector).
  let refocus = null;
  const HEADING = "decision-heading";
  // The same element in a new copy of the panel: by its id, a button by its
  // form's, a link by its address, else (a reviewer's checkbox, a choice)
  // by its name and value.
  const placeOf = (element) => {
    if (element.id) return `#${CSS.escape(element.id)}`;
    const form = element.closest("form");
    if (element.matches("button") && form?.id) return `#${CSS.escape(form.id)} button`;
    const href = element.getAttribute("href");
    if (element.matches("a") && href) return `a[href="${CSS.escape(href)}"]`;
    const name = element.getAttribute("name");
    if (!name) return `#${HEADING}`;
    const value = element.getAttribute("value");
    const named = `${element.localName}[name="${CSS.escape(name)}"]`;
    return value === null ? named : `${named}[value="${CSS.escape(value)}"]`;
  };

  // A refusal on screen: a field marked invalid, or any form's reason (one
  // for a form the panel no longer offers has no field to mark).
  const refused = (section) => section.querySelector("[aria-invalid=true], .field-error");

  // Someone typing in one of the panel's forms keeps their text: the swap
  // waits until they submit (the form's own swap) or leave the field empty.
  // A refusal on screen (a field marked invalid, with its reason) waits too:
  // its text is kept as the field's default, and a swap would drop both the
  // reason and the text before they were read.
  const typing = (section) => {
    if (refused(section)) return true;
    const active = document.activeElement;
    if (active && section.contains(active) && active.matches("input, textarea, select")) {
      return true;
    }
    const fields = section.querySelectorAll("textarea, input[type=text], input:not([type])");
    const choices = section.querySelectorAll("input[type=checkbox], input[type=radio]");
    return (
      [...fields].some((field) => field.value !== field.defaultValue) ||
      // A choice made and not yet sent (a reviewer ticked, a verdict picked).
      [...choices].some((choice) => choice.checked !== choice.defaultChecked) ||
      [...section.querySelectorAll("option")].some((o) => o.selected !== o.defaultSelected)
    );
  };

  // Said on the page too, not only to screen readers: the panel is behind.
  // Above the form being typed in, where the eyes are; inside the panel,
  // so the swap that brings the news removes it.
  const notePending = (section, text = null) => {
    if (section.querySelector(".decision-pending")) return;
    const note = document.createElement("p");
    note.className = "notice decision-pending";
    note.setAttribute("role", "status");
    note.textContent =
      text ||
      (refused(section)
        ? "New activity: the panel updates when you send the form again or reload the page."
        : "New activity: the panel updates when you finish typing.");
    const form = document.activeElement?.closest("#decision form");
    if (form) form.before(note);
    else section.querySelector(`#${HEADING}`)?.after(note);
  };

  const refresh = () => {
    const section = panel();
    if (!section || !window.htmx) return;
    if (typing(section)) {
      pending = true;
      notePending(section);
      return;
    }
    if (answering) {
      pending = true;
      return;
    }
    pending = false;
    if (fetching) {
      // The fetch under way may predate this change: fetch again after it.
      again = true;
      return;
    }
    fetching = true;
    again = false;
    landed = false;
    window.htmx
      .ajax("GET", section.dataset.decisionUrl, { target: "#decision", swap: "outerHTML" })
      .then(
        () => {
          fetching = false;
          if (landed) failures = 0;
          // A form's answer replaced the panel meanwhile (a refusal, say,
          // made before the change this fetch was for): the answer went to
          // the panel that was, unseen. The one on the page is looked at again.
          if (again || (!landed && panel() !== section)) refresh();
          // Not swapped, not held back, still the same panel: the server
          // answered with an error (a 502 during a deploy, say).
          else if (!landed && !pending) retry();
        },
        // Offline or a server restart: the panel is fetched again once back.
        () => {
          fetching = false;
          retry();
        },
      );
  };

  // Tried again 3 s later, then further apart; after five failures in a
  // row the page says it is behind, and the next change tries again.
  const retry = () => {
    failures += 1;
    const section = panel();
    if (failures > 5) {
      if (section) notePending(section, "New activity: reload the page to see it.");
      return;
    }
    window.setTimeout(refresh, RETRY_MS * 2 ** (failures - 1));
  };

  const announce = (text) => {
    if (!announcer) return;
    announcer.textContent = text;
  };

  const open = () => {
    const url = new URL(link.dataset.stream, window.location.href);
    if (watched) url.searchParams.set("assessment", watched);
    url.searchParams.set("last_event_id", lastId);
    source = new EventSource(url);
    source.addEventListener("open", () => { attempts = 0; });
    source.addEventListener("decision", (event) => {
      lastId = event.lastEventId || lastId;
      const data = JSON.parse(event.data);
      announce(data.summary);
      refresh();
    });
    source.addEventListener("waiting", (event) => {
      lastId = event.lastEventId || lastId;
      count.textContent = String(JSON.parse(event.data).count);
    });
    // Access ended (removed from the workspace, signed out elsewhere): no retry.
    source.addEventListener("closed", () => source.close());
    source.addEventListener("error", () => {
      // EventSource retries a dropped stream itself, sending Last-Event-ID.
      // It gives up on a refused one (a 401, 404 or 429): try a few more
      // times, further apart, then leave the page as it is.
      if (source.readyState !== EventSource.CLOSED || attempts >= 5) return;
      attempts += 1;
      window.setTimeout(open, 2000 * 2 ** attempts);
    });
  };

  document.addEventListener("focusout", () => {
    if (pending) window.setTimeout(refresh, 0);
  });
  // A refresh already under way when someone starts typing waits as well:
  // its answer is dropped, and the panel fetched again once they are done.
  // (The panel's forms post; only a refresh is a GET of #decision.)
  // A form sent from the panel: refreshes wait from its request until its
  // answer has settled. Swapped earlier, a refresh would take the form out
  // of the page, and its answer (a refusal too) would reach nothing; or it
  // would replace the answer before app.js moves focus into it (to the
  // error or the heading). The timers only bound a request or a settle
  // that never ends.
  const sending = (event) => event.detail.target?.id === "decision" && verbOf(event) !== "get";
  const verbOf = (event) => (event.detail.requestConfig?.verb || "").toLowerCase();
  const hold = (ms) => {
    window.clearTimeout(answering);
    answering = window.setTimeout(settled, ms);
  };
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (sending(event)) hold(30000);
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    if (sending(event)) hold(1000);
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    const { target, requestConfig } = event.detail;
    if (target?.id !== "decision") return;
    if (requestConfig?.verb !== "get") {
      hold(1000);
      return;
    }
    if (answering) {
      event.detail.shouldSwap = false;
      pending = true;
      return;
    }
    if (typing(target)) {
      event.detail.shouldSwap = false;
      pending = true;
      notePending(target);
      return;
    }
    // Focus inside the panel (its heading after a form's answer, a checkbox,
    // a button) would drop to the top of the page with the old panel: it goes
    // back to the same place in the new one, else to the panel's heading.
    const active = document.activeElement;
    refocus = active && active !== target && target.contains(active) ? placeOf(active) : null;
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.requestConfig?.verb === "get" && event.target === panel()) landed = true;
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target?.id !== "decision") return;
    if (event.detail.requestConfig?.verb !== "get") {
      settled();
      return;
    }
    if (refocus) {
      const fresh = panel();
      const place = fresh?.querySelector(refocus) || document.getElementById(HEADING);
      place?.focus({ preventScroll: true });
    }
    refocus = null;
    if (pending) refresh();
  });
  open();
})();
