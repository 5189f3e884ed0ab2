// Small helpers: escaping (engine data is never trusted as HTML), formatting, debouncing, field errors.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for innerHTML, in element content and in quoted attributes. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Epoch seconds as the viewer's local date and time. */
export function localTime(seconds) {
  return seconds == null ? "–" : new Date(seconds * 1000).toLocaleString();
}

export function isoTime(seconds) {
  return seconds == null ? "" : new Date(seconds * 1000).toISOString();
}

/** A duration in seconds, short: 45s, 3m 5s, 2h 10m, 3d 4h. */
export function duration(seconds) {
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  s %= 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${s}s`;
}

/** Calls fn once, `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Runs fn once, `ms` after the first of a burst of calls: a steady stream of changes still gets redrawn. */
export function coalesce(fn, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Removes the error marks of a form. */
export function clearFieldErrors(form) {
  form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
  form.querySelectorAll(".field-error").forEach((el) => el.remove());
}

/** Shows each API error next to the input whose data-field is its field; returns the errors no field took. */
export function showFieldErrors(form, errors) {
  clearFieldErrors(form);
  const rest = [];
  for (const error of errors) {
    const input = [...form.querySelectorAll("[data-field]")].find((el) => el.dataset.field === error.field);
    if (!input) {
      rest.push(error);
      continue;
    }
    input.classList.add("is-invalid");
    const feedback = document.createElement("div");
    feedback.className = "invalid-feedback field-error d-block";
    feedback.id = `${input.id}-error`;
    feedback.textContent = error.message;
    input.setAttribute("aria-describedby", feedback.id);
    (input.closest(".form-check, .input-group") || input).after(feedback);
  }
  const first = form.querySelector(".is-invalid");
  if (first) first.focus();
  return rest;
}

/** Fills an element with an alert: a sentence and an optional list, all as text. */
export function alertInto(element, kind, text, items = []) {
  element.replaceChildren();
  const box = document.createElement("div");
  box.className = `alert alert-${kind} py-2 mb-0`;
  box.append(text);
  if (items.length) {
    const list = document.createElement("ul");
    list.className = "mb-0";
    for (const item of items) {
      const li = document.createElement("li");
      li.textContent = item;
      list.append(li);
    }
    box.append(list);
  }
  element.append(box);
}
