// The Configuration tab: the settings form (saved whole through PUT /api/config, errors next to their field),
// export and import, and pausing or resuming healing.

import { api } from "./api.js";
import { $, alertInto, clearFieldErrors, showFieldErrors } from "./util.js";

// [path, label, kind, help]; kind: number, integer, text, bool, mode, list
const SECTIONS = [
  ["Monitor", [
    ["monitor.label_key", "Opt-in label key", "text", "Containers with this label set to true are managed."],
    ["monitor.include_all", "Manage every container unless it opts out", "bool"],
    ["monitor.interval_seconds", "Full reconcile every (s)", "number"],
    ["monitor.start_period_seconds", "Observe only, after start (s)", "number"],
  ]],
  ["Restart policy", [
    ["restart.mode", "Act on", "mode"],
    ["restart.cooldown_seconds", "Cooldown between restarts (s)", "number"],
    ["restart.max_restarts", "Quarantine after restarts", "integer"],
    ["restart.max_restarts_window_seconds", "…within the window (s)", "number"],
    ["restart.reset_after_seconds", "Reset failures after healthy for (s)", "number"],
    ["restart.stop_timeout_seconds", "Stop timeout (s)", "integer"],
    ["restart.grace_seconds", "Grace after start (s)", "number"],
    ["restart.unhealthy_for_seconds", "Unhealthy for at least (s)", "number"],
    ["restart.verify_seconds", "Verify a restart for (s)", "number"],
    ["restart.max_parallel", "Restarts at once", "integer"],
    ["restart.rate_limit_per_minute", "Restarts per minute, host-wide", "integer"],
  ]],
  ["Backoff", [
    ["restart.backoff.enabled", "Back off between repeated restarts", "bool"],
    ["restart.backoff.jitter", "Add jitter", "bool"],
    ["restart.backoff.initial_seconds", "First wait (s)", "number"],
    ["restart.backoff.multiplier", "Multiplier", "number"],
    ["restart.backoff.max_seconds", "Longest wait (s)", "number"],
  ]],
  ["Quarantine and event log", [
    ["quarantine.release_after_seconds", "Probation restart after (s, 0 = never)", "number"],
    ["events.retention_count", "Keep newest events", "integer"],
    ["events.retention_days", "Keep events for (days)", "number"],
  ]],
  ["Filters (one entry per line)", [
    ["filters.whitelist_names", "Only names matching (globs)", "list"],
    ["filters.blacklist_names", "Never names matching (globs)", "list"],
    ["filters.whitelist_labels", "Only with labels (key or key=value)", "list"],
    ["filters.blacklist_labels", "Never with labels (key or key=value)", "list"],
  ]],
];

let current = null; // the configuration as last read
let dirty = false;
let paused = false;

const inputId = (path) => `cfg-${path.replaceAll(".", "-")}`;
const get = (doc, path) => path.split(".").reduce((node, key) => node?.[key], doc);
function set(doc, path, value) {
  const keys = path.split(".");
  const last = keys.pop();
  const node = keys.reduce((n, key) => (n[key] ??= {}), doc);
  node[last] = value;
}

function build() {
  const root = $("#config-fields");
  for (const [title, fields] of SECTIONS) {
    const fieldset = document.createElement("fieldset");
    fieldset.className = "border rounded p-3 mb-3";
    const legend = document.createElement("legend");
    legend.className = "h6 float-none w-auto px-2 mb-0";
    legend.textContent = title;
    const row = document.createElement("div");
    row.className = "row g-3";
    fieldset.append(legend, row);
    for (const [path, label, kind, help] of fields) {
      const col = document.createElement("div");
      col.className = kind === "list" ? "col-md-6" : "col-sm-6 col-lg-4";
      const id = inputId(path);
      let input;
      if (kind === "bool") {
        const wrap = document.createElement("div");
        wrap.className = "form-check form-switch mt-sm-4";
        input = Object.assign(document.createElement("input"), { type: "checkbox", id, className: "form-check-input" });
        input.setAttribute("role", "switch");
        const lab = Object.assign(document.createElement("label"), { className: "form-check-label", htmlFor: id, textContent: label });
        wrap.append(input, lab);
        col.append(wrap);
      } else {
        const lab = Object.assign(document.createElement("label"), { className: "form-label small", htmlFor: id, textContent: label });
        if (kind === "mode") {
          input = Object.assign(document.createElement("select"), { id, className: "form-select" });
          for (const [value, text] of [["both", "crashes and unhealthy"], ["on-failure", "crashes only"], ["health", "unhealthy only"]]) {
            input.append(Object.assign(document.createElement("option"), { value, textContent: text }));
          }
        } else if (kind === "list") {
          input = Object.assign(document.createElement("textarea"), { id, className: "form-control", rows: 2 });
        } else {
          input = Object.assign(document.createElement("input"), { id, className: "form-control" });
          input.type = kind === "text" ? "text" : "number";
          if (kind === "number") input.step = "any";
          if (kind !== "text") input.inputMode = kind === "integer" ? "numeric" : "decimal";
        }
        col.append(lab, input);
        if (help) {
          const text = Object.assign(document.createElement("div"), { className: "form-text", id: `${id}-help`, textContent: help });
          input.setAttribute("aria-describedby", text.id);
          col.append(text);
        }
      }
      input.dataset.field = path;
      input.dataset.kind = kind;
      row.append(col);
    }
    root.append(fieldset);
  }
}

function fill(settings) {
  current = settings;
  for (const input of $("#config-form").querySelectorAll("[data-field]")) {
    const value = get(settings, input.dataset.field);
    if (input.dataset.kind === "bool") input.checked = Boolean(value);
    else if (input.dataset.kind === "list") input.value = (value || []).join("\n");
    else input.value = value ?? "";
  }
  dirty = false;
}

/** The document to save: the configuration as read, with the form's values over it. */
function collect() {
  const doc = structuredClone(current);
  for (const input of $("#config-form").querySelectorAll("[data-field]")) {
    const kind = input.dataset.kind;
    let value;
    if (kind === "bool") value = input.checked;
    else if (kind === "list") value = input.value.split("\n").map((s) => s.trim()).filter(Boolean);
    else if (kind === "number" || kind === "integer") {
      const text = input.value.trim();
      // Anything that is not a number goes as typed: the API's verdict names the field.
      value = text === "" ? null : Number.isFinite(Number(text)) ? Number(text) : text;
    } else value = input.value;
    set(doc, input.dataset.field, value);
  }
  return doc;
}

function result(kind, text, items) {
  alertInto($("#config-result"), kind, text, items);
}

async function save(event) {
  event.preventDefault();
  const form = $("#config-form");
  clearFieldErrors(form);
  try {
    fill(await api("/api/config", { method: "PUT", body: collect() }));
    result("success", "Saved; autoheal uses the new settings now.");
  } catch (error) {
    const rest = showFieldErrors(form, error.errors);
    const items = rest.map((e) => `${e.field}: ${e.message}`);
    result("danger", `Not saved, nothing was changed: ${error.errors.length && !rest.length ? "see the marked fields." : error.message}`, items);
  }
}

export async function load() {
  fill(await api("/api/config"));
}

/** Another client changed the configuration: show it, unless the operator is editing. */
export function changedElsewhere() {
  if (dirty) result("warning", "The configuration was changed elsewhere; save to overwrite, or discard changes to see it.");
  else load().catch(() => {});
}

export function showMaintenance(isPaused) {
  paused = isPaused;
  $("#maint-state").textContent = paused
    ? "Healing is paused (maintenance): failures are recorded, nothing is restarted."
    : "Healing is active.";
  const button = $("#maint-toggle");
  button.textContent = paused ? "Resume healing" : "Pause healing";
  button.className = `btn ${paused ? "btn-success" : "btn-warning"}`;
  $("#paused-badge").hidden = !paused;
}

async function toggleMaintenance() {
  try {
    const status = await api("/api/maintenance", { method: "POST", body: { paused: !paused } });
    showMaintenance(status.maintenance);
  } catch (error) {
    alertInto($("#maint-state"), "danger", `Not changed: ${error.message}`);
  }
}

async function exportConfig() {
  try {
    const response = await api("/api/config/export", { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: "autoheal-config.json" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (error) {
    alertInto($("#import-result"), "danger", `Export failed: ${error.message}`);
  }
}

async function importConfig(event) {
  const file = event.target.files[0];
  if (!file) return;
  const box = $("#import-result");
  try {
    const answer = await api("/api/config/import", { method: "POST", body: await file.text() });
    alertInto(box, "success", answer.changed.length ? `Imported ${file.name}. Changed: ${answer.changed.join(", ")}.` : `Imported ${file.name}: nothing differed.`);
    await load();
  } catch (error) {
    alertInto(box, "danger", `Refused, nothing was changed: ${error.message}`, error.errors.map((e) => `${e.field}: ${e.message}`));
  } finally {
    event.target.value = "";
  }
}

export function init() {
  build();
  const form = $("#config-form");
  form.addEventListener("submit", save);
  form.addEventListener("input", () => (dirty = true));
  $("#config-reset").addEventListener("click", () => {
    clearFieldErrors(form);
    $("#config-result").replaceChildren();
    load().catch(() => {});
  });
  $("#maint-toggle").addEventListener("click", toggleMaintenance);
  $("#export").addEventListener("click", exportConfig);
  $("#import-file").addEventListener("change", importConfig);
}
