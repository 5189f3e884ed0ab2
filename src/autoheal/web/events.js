// The Events tab: the last 50 events, older ones on demand, filters by container and kind, new ones live at the top.

import { api } from "./api.js";
import { $, coalesce, debounce, esc, isoTime, localTime } from "./util.js";

const PAGE = 50;
const MAX_ROWS = 1000; // live rows pile up on top; past this the list starts again from the newest page
const TONES = { restart: "success", restart_failed: "danger", quarantine: "danger", scheduled: "warning", engine: "info" };
let cursor = null;
let generation = 0; // a newer load wins over an older one still in flight
let count = 0;

const reload = coalesce(() => load().catch(() => {}), 1000);

export function init() {
  $("#e-container").addEventListener("input", debounce(() => load().catch(() => {}), 300));
  $("#e-kind").addEventListener("change", () => load().catch(() => {}));
  $("#e-more").addEventListener("click", () => more().catch(() => {}));
}

/** The container names offered by the container filter. */
export function setNames(names) {
  const list = $("#e-names");
  list.replaceChildren(...[...new Set(names)].sort().map((name) => Object.assign(document.createElement("option"), { value: name })));
}

function query(before) {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const container = $("#e-container").value.trim();
  const kind = $("#e-kind").value;
  if (container) params.set("container", container);
  if (kind) params.set("kind", kind);
  if (before) params.set("before", String(before));
  return `/api/events?${params}`;
}

function row(e, fresh = false) {
  const tone = TONES[e.kind] || "secondary";
  return `<tr${fresh ? ' class="row-new"' : ""} data-kind="${esc(e.kind)}" data-container="${esc(e.container_name)}">
<td class="text-nowrap"><time datetime="${esc(isoTime(e.time))}">${esc(localTime(e.time))}</time></td>
<td class="name-cell">${esc(e.container_name || (e.container_id ? e.container_id.slice(0, 12) : "–"))}</td>
<td><span class="badge text-bg-${tone}">${esc(e.kind)}</span></td>
<td>${esc(e.cause || "")}${e.exit_code != null ? ` <span class="text-body-secondary">(exit ${esc(e.exit_code)})</span>` : ""}</td>
<td class="reason-cell">${esc(e.reason)}</td></tr>`;
}

function showCount() {
  $("#e-count").textContent = `${count} event${count === 1 ? "" : "s"} shown${cursor ? "; older ones on demand" : ""}`;
  $("#e-more").hidden = !cursor;
}

export async function load() {
  const mine = ++generation;
  const page = await api(query());
  if (mine !== generation) return;
  cursor = page.next_cursor;
  count = page.events.length;
  $("#e-rows").innerHTML = page.events.map((e) => row(e)).join("");
  showCount();
}

async function more() {
  if (!cursor) return;
  const mine = generation;
  const page = await api(query(cursor));
  if (mine !== generation) return;
  cursor = page.next_cursor;
  count += page.events.length;
  $("#e-rows").insertAdjacentHTML("beforeend", page.events.map((e) => row(e)).join(""));
  showCount();
}

/** A new record from the live stream: on top, when it passes the filters. */
export function add(record) {
  const container = $("#e-container").value.trim();
  const kind = $("#e-kind").value;
  if (kind && record.kind !== kind) return;
  if (container && record.container_name !== container && !(record.container_id && record.container_id.startsWith(container))) return;
  $("#e-rows").insertAdjacentHTML("afterbegin", row(record, true));
  count += 1;
  showCount();
  if (count > MAX_ROWS) reload();
}
