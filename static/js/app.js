// Small progressive enhancements; every page works without this file.
"use strict";

// The one percentile of the project, nearest rank, as advisor/stats.py
// computes it: the smallest value with at least p% of the values at or
// below it. `p` is a percentage (0-100); null for no values.
window.advisor = Object.freeze({
  percentile(values, p) {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.max(Math.ceil((p / 100) * sorted.length), 1) - 1];
  },
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});

// After htmx swaps in another questionnaire step, move focus to its heading,
// so keyboard and screen-reader users start at the top of the new step; to
// the error summary above it when the step came back with errors, so that
// they hear what to fix and reach its links next.
// Other swaps (the leaning panel) must leave focus where the user is.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.id !== "wizard") return;
  const summary = document.querySelector("#wizard .error-summary");
  if (summary) {
    summary.tabIndex = -1;
    summary.focus();
  } else {
    document.querySelector("#wizard h2")?.focus();
  }
});

// A save refused over the write rate (429), or for want of a workspace the
// person may create in (403), comes back as the same step with the answers
// and an inline error: show it, as htmx leaves 4xx unswapped.
// With DEBUG on (make run), django-htmx's helper, listening on the document,
// replaces the whole page with any 403 response body as if it were an error
// page: here it is the step alone, unstyled. Keep the event from reaching it.
document.body.addEventListener("htmx:beforeOnLoad", (event) => {
  const status = event.detail.xhr.status;
  if ((status === 429 || status === 403) && event.detail.target?.id === "wizard") {
    event.stopPropagation();
  }
});
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if ((status !== 429 && status !== 403) || event.detail.target.id !== "wizard") return;
  event.detail.shouldSwap = true;
  event.detail.isError = false;
});

// A decision form refused (400, 403: not a reviewer, the wrong state, a bad
// comment) answers with the decision panel and an inline error: show it too,
// and keep django-htmx's debug helper from taking a 403 for an error page.
document.body.addEventListener("htmx:beforeOnLoad", (event) => {
  const status = event.detail.xhr.status;
  if ((status === 400 || status === 403) && event.detail.target?.id === "decision") {
    event.stopPropagation();
  }
});
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if ((status !== 400 && status !== 403) || event.detail.target.id !== "decision") return;
  event.detail.shouldSwap = true;
  event.detail.isError = false;
});

// After a decision form answers (request review, review, comment, supersede
// swap the whole panel), focus would drop to the top of the page: move it to
// the inline error if there is one, else to the panel's heading, so that
// keyboard and screen-reader users keep their place. A live update of the
// panel (a GET, static/js/decisions.js) puts focus back where it was.
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.detail.target?.id !== "decision") return;
  if (event.detail.requestConfig?.verb !== "post") return;
  const panel = document.getElementById("decision");
  const error = panel?.querySelector(".field-error");
  if (error) {
    error.tabIndex = -1;
    error.focus();
  } else {
    document.getElementById("decision-heading")?.focus();
  }
});

// The header's count of decisions waiting for my review stands out while it
// is not zero, also after the live stream changes it.
(() => {
  const count = document.getElementById("decisions-waiting-count");
  if (!count) return;
  const mark = () => {
    const waiting = Number(count.textContent) > 0;
    count.classList.toggle("badge-attention", waiting);
    count.classList.toggle("badge-neutral", !waiting);
  };
  new MutationObserver(mark).observe(count, { childList: true, characterData: true, subtree: true });
})();
