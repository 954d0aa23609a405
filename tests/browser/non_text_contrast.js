// The contrast of what is not text, which axe-core does not check (WCAG
// 1.4.11): each visible field's border, step badge, chart bar and focus ring
// against what is behind it, 3:1 at least. A field's border is what shows it
// is one; a bar is the chart's figure. Evaluated by test_accessibility.py: a
// list of the problems found, empty when there are none.
(() => {
  const rgba = (text) => {
    const [r, g, b, a = 1] = text.match(/[\d.]+/g).map(Number);
    return { r, g, b, a };
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a),
    a: 1,
  });
  const background = (element) => {
    const layers = [];
    for (let node = element; node instanceof Element; node = node.parentElement) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) layers.push(colour);
      if (colour.a === 1) break;
    }
    return layers.reduceRight((under, top) => over(top, under), { r: 255, g: 255, b: 255, a: 1 });
  };
  const luminance = ({ r, g, b }) => {
    const [R, G, B] = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const contrast = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const visible = (element) => element.checkVisibility() && element.getClientRects().length > 0;
  const name = (element) =>
    element.tagName.toLowerCase() + (element.id ? `#${element.id}` : "") +
    [...element.classList].map((c) => `.${c}`).join("") +
    (element.name ? `[name=${element.name}]` : "");
  const problems = [];
  const check = (element, what, colour, behind) => {
    const ratio = contrast(over(rgba(colour), behind), behind);
    if (ratio < 3) problems.push(`${name(element)}: ${what} ${colour} is ${ratio.toFixed(2)}:1`);
  };
  const fields =
    "input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, textarea";
  for (const field of document.querySelectorAll(fields)) {
    if (!visible(field) || field.classList.contains("visually-hidden")) continue;
    const style = getComputedStyle(field);
    check(field, "border", style.borderBottomColor, background(field.parentElement));
  }
  for (const badge of document.querySelectorAll(".step-number")) {
    if (!visible(badge)) continue;
    check(badge, "badge", getComputedStyle(badge).backgroundColor, background(badge.parentElement));
  }
  for (const bar of document.querySelectorAll("svg rect")) {
    if (visible(bar)) check(bar, "bar", getComputedStyle(bar).fill, background(bar.closest("svg")));
  }
  // The focus ring, of one element of each kind a keyboard reaches (the
  // page had a key pressed, so that focus() shows the ring as Tab does).
  const reachable = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex='0']";
  const kinds = new Set();
  for (const element of document.querySelectorAll(reachable)) {
    if (!visible(element) || element.disabled || element.tabIndex < 0) continue;
    const kind = name(element).replace(/#[^.[]*/, "") + (element.type ? `:${element.type}` : "");
    if (kinds.has(kind)) continue;
    kinds.add(kind);
    element.focus();
    if (document.activeElement !== element) continue;
    const style = getComputedStyle(element);
    if (style.outlineStyle === "none" || parseFloat(style.outlineWidth) < 2) {
      problems.push(`${kind}: no focus ring (outline ${style.outline})`);
    } else {
      check(element, "focus ring", style.outlineColor, background(element.parentElement));
    }
  }
  document.activeElement?.blur();
  return problems;
})
