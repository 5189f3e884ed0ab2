// The notifications card: configured channels (secrets masked), a test send with each channel's result,
// and the latest outbox entries with their delivery attempts.

import { api } from "./api.js";
import { $, alertInto, coalesce, localTime } from "./util.js";

const BADGE = { sent: "text-bg-success", pending: "text-bg-warning", failed: "text-bg-danger" };

function channelItem(channel) {
  const li = document.createElement("li");
  const kind = document.createElement("span");
  kind.className = "badge text-bg-secondary me-1";
  kind.textContent = channel.kind;
  const target = document.createElement("code");
  target.textContent = channel.target;
  li.append(kind, target);
  return li;
}

function entryRow(entry) {
  const row = document.createElement("tr");
  const cells = [localTime(entry.created_at), `${entry.event}${entry.container_name ? ` · ${entry.container_name}` : ""}`, entry.channel];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    row.append(td);
  }
  const state = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = `badge ${BADGE[entry.status] || "text-bg-secondary"}`;
  badge.textContent = `${entry.status} (${entry.attempts})`;
  state.append(badge);
  if (entry.last_error) {
    const why = document.createElement("div");
    why.className = "small text-body-secondary text-break";
    why.textContent = entry.last_error;
    state.append(why);
  }
  row.append(state);
  return row;
}

export async function load() {
  const data = await api("/api/notifications?limit=10");
  const channels = $("#n-channels");
  channels.replaceChildren(...data.channels.map(channelItem));
  $("#n-none").hidden = data.configured;
  $("#n-test").disabled = !data.configured;
  $("#n-summary").textContent = data.configured
    ? `Host name in messages: ${data.host}. Sent: ${data.counts.sent}, waiting: ${data.counts.pending}, failed: ${data.counts.failed}.`
    : "";
  $("#n-entries").replaceChildren(...data.entries.map(entryRow));
  $("#n-table").hidden = data.entries.length === 0;
}

export const refresh = coalesce(() => load().catch(() => {}), 1000);

async function sendTest() {
  const box = $("#n-result");
  const button = $("#n-test");
  button.disabled = true;
  try {
    const answer = await api("/api/notifications/test", { method: "POST", body: {} });
    const lines = answer.results.map((r) =>
      `${r.channel} (${r.target}): ${r.ok ? "delivered" : `failed${r.permanent ? " (permanent)" : ""}: ${r.error || `HTTP ${r.status_code}`}`}`);
    alertInto(box, answer.ok ? "success" : "danger", answer.ok ? "Test notification delivered." : "Test notification not delivered everywhere:", lines);
  } catch (error) {
    alertInto(box, "danger", `Not sent: ${error.message}`);
  } finally {
    button.disabled = false;
    refresh();
  }
}

export function init() {
  $("#n-test").addEventListener("click", sendTest);
}
