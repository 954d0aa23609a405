// A JSON POST with the page's CSRF token, as the live demo and the workload
// page send their messages, runs and measurements. Answers { response, data }:
// data is the JSON answer, or {} when it is not JSON (a proxy's error page),
// so a caller can still say what the status means.
"use strict";

window.advisorHttp = Object.freeze({
  async postJSON(url, body, csrfToken) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try {
      data = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    return { response, data };
  },
});
