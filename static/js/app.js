// Small progressive enhancements; every page works without this file.
"use strict";

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
// so keyboard and screen-reader users start at the top of the new step.
// Other swaps (the leaning panel) must leave focus where the user is.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target.id !== "wizard") return;
  document.querySelector("#wizard h2")?.focus();
});
