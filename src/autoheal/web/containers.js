// The Containers tab: a filterable, sortable table (built in one pass, fit for hundreds of rows), bulk auto-heal
// choices, restart with confirmation, unquarantine, and the detail view with events and the custom check.

import { api } from "./api.js";
import * as check from "./check.js";
import { $, alertInto, coalesce, debounce, duration, esc, isoTime, localTime } from "./util.js";

const byId = new Map();
const selected = new Set();
let shown = []; // the containers in the table, in order
let openId = null; // the container in the detail view
let detailModal = null;
let confirmModal = null;
let onNames = () => {};
let suspended = false; // the detail view is hidden for a confirmation, and comes back

export function init(namesListener) {
  onNames = namesListener;
  detailModal = bootstrap.Modal.getOrCreateInstance($("#detail"));
  confirmModal = bootstrap.Modal.getOrCreateInstance($("#confirm"));
  $("#detail").addEventListener("hidden.bs.modal", () => {
    if (!suspended) openId = null;
  });
  $("#c-filter").addEventListener("input", debounce(render, 150));
  $("#c-state").addEventListener("change", render);
  $("#c-sort").addEventListener("change", render);
  $("#c-all").addEventListener("change", (e) => {
    for (const c of shown) e.target.checked ? selected.add(c.id) : selected.delete(c.id);
    $("#c-rows").querySelectorAll(".c-select").forEach((box) => (box.checked = e.target.checked));
    updateToolbar();
  });
  $("#c-enable").addEventListener("click", () => choose(true));
  $("#c-disable").addEventListener("click", () => choose(false));
  $("#c-rows").addEventListener("change", (e) => {
    if (!e.target.classList.contains("c-select")) return;
    const id = e.target.closest("tr").dataset.id;
    e.target.checked ? selected.add(id) : selected.delete(id);
    updateToolbar();
  });
  $("#c-rows").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-act]");
    if (!button) return;
    const container = byId.get(button.closest("tr").dataset.id);
    if (container) act(button.dataset.act, container);
  });
  $("#detail-actions").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-act]");
    const container = byId.get(openId);
    if (button && container) act(button.dataset.act, container);
  });
  setInterval(() => {
    // Backoff countdowns move on; only worth a redraw when one is shown.
    if (shown.some((c) => c.next_attempt_at)) render();
  }, 2000);
}

export async function load() {
  const answer = await api("/api/containers");
  byId.clear();
  for (const c of answer.containers) byId.set(c.id, c);
  for (const id of [...selected]) if (!byId.has(id)) selected.delete(id);
  render();
  onNames([...byId.values()].map((c) => c.name));
  if (openId && byId.has(openId)) refreshDetail();
}

/** A container's new view from the live stream. */
export function upsert(container) {
  const isNew = !byId.has(container.id);
  byId.set(container.id, container);
  scheduleRender();
  if (isNew) onNames([...byId.values()].map((c) => c.name));
  if (container.id === openId) refreshDetail();
}

export function remove(id) {
  byId.delete(id);
  selected.delete(id);
  scheduleRender();
  if (id === openId) $("#detail-title").textContent += " (removed)";
}

/** A new event record from the live stream: the detail view lists the container's recent events. */
export function recordFor(record) {
  if (openId && record.container_id === openId) refreshDetail();
}

const scheduleRender = coalesce(render, 250);
const refreshDetail = coalesce(() => renderDetail().catch(() => {}), 300);

function healingState(c) {
  if (c.quarantined) return 0;
  if (c.health === "unhealthy") return 1;
  if (c.next_attempt_at) return 2;
  if (c.status !== "running") return 3;
  return 4;
}

function matches(c, state) {
  switch (state) {
    case "running": return c.status === "running";
    case "stopped": return c.status !== "running";
    case "unhealthy": return c.health === "unhealthy";
    case "monitored": return c.monitored;
    case "unmonitored": return !c.monitored;
    case "quarantined": return c.quarantined;
    case "backoff": return Boolean(c.next_attempt_at);
    default: return true;
  }
}

function statusBadge(c) {
  const tone = c.status === "running" ? "success" : c.status === "exited" || c.status === "dead" ? "danger" : "secondary";
  return `<span class="badge text-bg-${tone}">${esc(c.status)}</span>`;
}

function healthBadge(c) {
  if (!c.health) return '<span class="text-body-secondary">–</span>';
  const tone = { healthy: "success", unhealthy: "danger", starting: "info" }[c.health] || "secondary";
  return `<span class="badge text-bg-${tone}">${esc(c.health)}</span>`;
}

function stateCell(c, now) {
  const parts = [];
  if (c.quarantined) parts.push(`<span class="badge text-bg-danger" title="since ${esc(localTime(c.quarantined_at))}">quarantined</span>`);
  if (c.next_attempt_at) {
    const wait = c.next_attempt_at - now;
    parts.push(`<span class="badge text-bg-warning">backoff: ${wait > 0 ? `restart in ${esc(duration(wait))}` : "restart due"}</span>`);
  }
  if (c.manual_stop) parts.push('<span class="badge text-bg-secondary">stopped by hand</span>');
  if (c.failures && !c.quarantined) parts.push(`<span class="small">${c.failures} failure${c.failures === 1 ? "" : "s"}</span>`);
  if (c.label_problems.length) parts.push(`<span class="badge text-bg-warning" title="${esc(c.label_problems.join("; "))}">label problem</span>`);
  if (c.custom_check) parts.push(`<span class="badge text-bg-info" title="custom ${esc(c.check?.kind || "")} check">check</span>`);
  return parts.join(" ") || '<span class="text-body-secondary">ok</span>';
}

function row(c, now) {
  const id = esc(c.id);
  const why = `${c.monitored ? "Monitored" : "Not monitored"}: ${c.monitored_reason} (rule: ${c.monitored_rule})`;
  const actions = [`<button type="button" class="btn btn-sm btn-outline-secondary" data-act="restart">Restart…</button>`];
  if (c.quarantined) actions.push(`<button type="button" class="btn btn-sm btn-outline-warning" data-act="unquarantine">Unquarantine</button>`);
  return `<tr data-id="${id}" data-name="${esc(c.name)}">
<td><input class="form-check-input c-select" type="checkbox" aria-label="Select ${esc(c.name)}"${selected.has(c.id) ? " checked" : ""}></td>
<td class="name-cell"><button type="button" class="btn btn-link btn-sm p-0 c-open" data-act="open">${esc(c.name)}</button><div class="small text-body-secondary">${esc(c.image)}</div></td>
<td>${statusBadge(c)}</td><td>${healthBadge(c)}</td>
<td><span class="badge ${c.monitored ? "text-bg-success" : "text-bg-secondary"} c-monitored" title="${esc(why)}">${c.monitored ? "on" : "off"}</span><span class="visually-hidden">${esc(why)}</span></td>
<td class="text-end" title="in the last ${esc(duration(c.window_seconds))}">${c.restarts_in_window}</td>
<td class="ps-3">${stateCell(c, now)}</td>
<td class="text-nowrap text-end">${actions.join(" ")}</td></tr>`;
}

function render() {
  const now = Date.now() / 1000;
  const text = $("#c-filter").value.trim().toLowerCase();
  const state = $("#c-state").value;
  const sort = $("#c-sort").value;
  shown = [...byId.values()].filter((c) => (!text || c.name.toLowerCase().includes(text)) && matches(c, state));
  const byName = (a, b) => a.name.localeCompare(b.name);
  if (sort === "state") shown.sort((a, b) => healingState(a) - healingState(b) || byName(a, b));
  else if (sort === "restarts") shown.sort((a, b) => b.restarts_in_window - a.restarts_in_window || byName(a, b));
  else shown.sort(byName);

  // Keep keyboard focus across the redraw.
  const active = document.activeElement;
  const focusRow = active?.closest?.("#c-rows tr")?.dataset.id;
  const focusKey = active?.dataset?.act || (active?.classList?.contains("c-select") ? "select" : null);
  $("#c-rows").innerHTML = shown.map((c) => row(c, now)).join("")
    || '<tr><td colspan="8" class="text-body-secondary">No container matches.</td></tr>';
  if (focusRow && focusKey) {
    const tr = [...$("#c-rows").rows].find((r) => r.dataset.id === focusRow);
    tr?.querySelector(focusKey === "select" ? ".c-select" : `[data-act="${focusKey}"]`)?.focus();
  }
  updateToolbar();
}

function updateToolbar() {
  const count = selected.size;
  $("#c-enable").disabled = $("#c-disable").disabled = count === 0;
  $("#c-count").textContent = `${shown.length} of ${byId.size} shown${count ? `, ${count} selected` : ""}`;
  const all = $("#c-all");
  const shownSelected = shown.filter((c) => selected.has(c.id)).length;
  all.checked = shown.length > 0 && shownSelected === shown.length;
  all.indeterminate = shownSelected > 0 && shownSelected < shown.length;
}

function status(kind, text, items) {
  alertInto($("#c-status"), kind, text, items);
}

async function choose(enabled) {
  const ids = [...selected].filter((id) => byId.has(id));
  if (!ids.length) return;
  try {
    const answer = await api("/api/containers/select", { method: "POST", body: { container_ids: ids, enabled } });
    for (const c of answer.updated) byId.set(c.id, c);
    selected.clear();
    render();
    status("success", `Auto-heal ${enabled ? "enabled" : "disabled"} for ${answer.updated.length} container${answer.updated.length === 1 ? "" : "s"}.`);
  } catch (error) {
    status("danger", `Could not change auto-heal: ${error.message}`);
  }
}

function whenHidden(selector) {
  return new Promise((resolve) => $(selector).addEventListener("hidden.bs.modal", resolve, { once: true }));
}

/** Asks before doing something; resolves true when confirmed. From the detail view, returns to it afterwards. */
async function confirmAction(title, text, label) {
  $("#confirm-title").textContent = title;
  $("#confirm-body").textContent = text;
  $("#confirm-ok").textContent = label;
  const fromDetail = $("#detail").classList.contains("show");
  if (fromDetail) {
    suspended = true;
    const hidden = whenHidden("#detail");
    detailModal.hide();
    await hidden;
  }
  let answer = false;
  const ok = () => {
    answer = true;
    confirmModal.hide();
  };
  $("#confirm-ok").addEventListener("click", ok, { once: true });
  const hidden = whenHidden("#confirm");
  confirmModal.show();
  await hidden;
  $("#confirm-ok").removeEventListener("click", ok);
  if (fromDetail) {
    suspended = false;
    detailModal.show();
  }
  return answer;
}

async function act(action, c) {
  const path = `/api/containers/${encodeURIComponent(c.id)}`;
  try {
    if (action === "open") return await openDetail(c.id);
    if (action === "restart") {
      const sure = await confirmAction(`Restart ${c.name}?`,
        `${c.name} will be ${c.status === "running" ? "restarted" : "started"} now, and its failure count reset.`, "Restart");
      if (!sure) return;
      const answer = await api(`${path}/restart`, { method: "POST" });
      upsert(answer.container);
      status("success", `${c.name}: ${answer.message}`);
    } else if (action === "unquarantine" || action === "quarantine") {
      const answer = await api(`${path}/${action}`, { method: "POST" });
      upsert(answer.container);
      status("success", `${c.name}: ${answer.message}`);
    } else if (action === "enable" || action === "disable") {
      const answer = await api("/api/containers/select", { method: "POST", body: { container_ids: [c.id], enabled: action === "enable" } });
      answer.updated.forEach(upsert);
      status("success", `Auto-heal ${action}d for ${c.name}.`);
    }
  } catch (error) {
    status("danger", `${c.name}: ${error.message}`);
    if (openId) alertInto($("#d-message"), "danger", error.message);
  }
}

async function openDetail(id) {
  openId = id;
  const c = byId.get(id);
  $("#detail-title").textContent = c.name;
  $("#detail-body").innerHTML = `<div id="d-message" role="status" aria-live="polite"></div><div id="d-info"><p>Loading…</p></div>
<h3 class="h6 mt-3">Custom health check</h3><div id="d-check"></div>
<h3 class="h6 mt-3">Recent events</h3><div id="d-events"></div>`;
  detailModal.show();
  await renderDetail();
  await check.render($("#d-check"), c, () => load().catch(() => {}));
}

function definitionList(pairs) {
  return `<dl class="row small mb-0">${pairs.map(([k, v]) => `<dt class="col-sm-4">${esc(k)}</dt><dd class="col-sm-8 reason-cell">${v}</dd>`).join("")}</dl>`;
}

function names(list) {
  return list?.length ? list.map((n) => esc(typeof n === "string" ? n : n?.name ?? JSON.stringify(n))).join(", ") : null;
}

async function renderDetail() {
  if (!openId) return;
  const d = await api(`/api/containers/${encodeURIComponent(openId)}`);
  if (d.id !== openId) return;
  const now = Date.now() / 1000;
  const pairs = [
    ["Id", `<code>${esc(d.short_id)}</code>`],
    ["Image", esc(d.image)],
    ["Status", `${statusBadge(d)} ${healthBadge(d)}`],
    ["Auto-heal", `<span class="badge ${d.monitored ? "text-bg-success" : "text-bg-secondary"}">${d.monitored ? "on" : "off"}</span> ${esc(d.monitored_reason)} <span class="text-body-secondary">(rule: ${esc(d.monitored_rule)})</span>`],
    ["Healing state", stateCell(d, now)],
    ["Restarts", `${d.restarts_in_window} in the last ${esc(duration(d.window_seconds))}; ${d.failures} failure${d.failures === 1 ? "" : "s"} in a row`],
    ["Docker restart policy", esc(d.docker_restart_policy || "no")],
  ];
  const parents = names(d.parents); // dependent containers, where the API reports them
  const children = names(d.children);
  if (parents) pairs.push(["Depends on", parents]);
  if (children) pairs.push(["Needed by", children]);
  if (d.label_problems.length) pairs.push(["Label problems", `<ul class="mb-0 text-warning-emphasis">${d.label_problems.map((p) => `<li>${esc(p)}</li>`).join("")}</ul>`]);
  const settings = Object.entries(d.restart_settings)
    .map(([k, v]) => `<tr><th scope="row" class="fw-normal">${esc(k)}</th><td>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</td></tr>`).join("");
  const labels = Object.entries(d.labels).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("");
  $("#d-info").innerHTML = `${definitionList(pairs)}
<details class="mt-2"><summary>Effective restart settings</summary><table class="table table-sm small mb-0"><tbody>${settings}</tbody></table></details>
<details class="mt-2" open><summary>Labels (${Object.keys(d.labels).length})</summary>
<table class="table table-sm labels-table mb-0" id="d-labels"><thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead><tbody>${labels}</tbody></table></details>`;
  const actions = [
    `<button type="button" class="btn btn-outline-secondary" data-act="${d.monitored ? "disable" : "enable"}">${d.monitored ? "Disable" : "Enable"} auto-heal</button>`,
    d.quarantined
      ? '<button type="button" class="btn btn-warning" data-act="unquarantine">Unquarantine</button>'
      : '<button type="button" class="btn btn-outline-warning" data-act="quarantine">Quarantine</button>',
    '<button type="button" class="btn btn-danger" data-act="restart">Restart…</button>',
    '<button type="button" class="btn btn-secondary" data-bs-dismiss="modal">Close</button>',
  ];
  const focused = $("#detail-actions").contains(document.activeElement) ? document.activeElement.dataset.act : null;
  $("#detail-actions").innerHTML = actions.join("");
  // Redrawing must not drop keyboard focus out of the dialog (Escape and Tab act on it).
  if (focused) $(`#detail-actions [data-act="${focused}"]`)?.focus();
  else if (document.activeElement === document.body && $("#detail").classList.contains("show")) $("#detail").focus();
  $("#d-events").innerHTML = d.events.length
    ? `<table class="table table-sm small"><thead><tr><th scope="col">Time</th><th scope="col">Kind</th><th scope="col">Reason</th></tr></thead><tbody>${d.events
        .map((e) => `<tr><td class="text-nowrap"><time datetime="${esc(isoTime(e.time))}">${esc(localTime(e.time))}</time></td><td>${esc(e.kind)}</td><td class="reason-cell">${esc(e.reason)}</td></tr>`).join("")}</tbody></table>`
    : '<p class="small text-body-secondary">No events yet.</p>';
}
