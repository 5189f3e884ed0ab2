// The dashboard: counts and service status from /api/status, and restarts per hour over the last day.

import { api } from "./api.js";
import { $, coalesce, duration } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";
const HOURS = 24;
let onStatus = () => {};

export function init(statusListener) {
  onStatus = statusListener;
}

function flag(element, ok, good, bad) {
  element.textContent = ok ? good : bad;
  element.className = `col-6 ${ok ? "text-success" : "text-danger fw-semibold"}`;
}

export async function loadStatus() {
  const status = await api("/api/status");
  $("#stat-total").textContent = status.total_containers;
  $("#stat-monitored").textContent = status.monitored_containers;
  $("#stat-quarantined").textContent = status.quarantined_containers;
  $("#stat-unhealthy").textContent = status.unhealthy_containers;
  $("#stat-restarts-hour").textContent = status.restarts_last_hour;
  $("#stat-restarts-day").textContent = status.restarts_last_day;
  flag($("#svc-engine"), status.engine.connected, `connected (${status.engine.version || "?"})`, "disconnected");
  flag($("#svc-stream"), status.engine.event_stream_live, "live", "down");
  flag($("#svc-healing"), !status.maintenance, "active", "paused (maintenance)");
  $("#svc-store").textContent = status.store;
  $("#svc-version").textContent = status.version;
  $("#svc-uptime").textContent = duration(status.uptime_seconds);
  const problems = $("#svc-problems");
  problems.replaceChildren(
    ...status.problems.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
  onStatus(status);
  return status;
}

export async function loadChart() {
  const now = Date.now() / 1000;
  const since = now - HOURS * 3600;
  const counts = new Array(HOURS).fill(0);
  let before = null;
  // Pages of up to 1000; a day with more restarts than that is drawn from what fits in 5 pages.
  for (let page = 0; page < 5; page++) {
    const query = new URLSearchParams({ kind: "restart", since: String(Math.floor(since)), limit: "1000" });
    if (before) query.set("before", before);
    const answer = await api(`/api/events?${query}`);
    for (const event of answer.events) {
      const slot = Math.floor((event.time - since) / 3600);
      if (slot >= 0 && slot < HOURS) counts[slot] += 1;
    }
    before = answer.next_cursor;
    if (!before) break;
  }
  draw(counts, now);
}

function draw(counts, now) {
  const svg = $("#chart");
  const title = svg.querySelector("title");
  const total = counts.reduce((a, b) => a + b, 0);
  title.textContent = `Restarts per hour over the last 24 hours: ${total} in all, at most ${Math.max(...counts)} in one hour`;
  svg.replaceChildren(title);
  const width = 480, height = 160, bottom = 18, top = 12;
  const max = Math.max(1, ...counts);
  const slot = width / counts.length;
  counts.forEach((count, i) => {
    const barHeight = count ? Math.max(2, ((height - bottom - top) * count) / max) : 2;
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("x", String(i * slot + 2));
    rect.setAttribute("width", String(slot - 4));
    rect.setAttribute("y", String(height - bottom - barHeight));
    rect.setAttribute("height", String(barHeight));
    rect.setAttribute("class", count ? "bar" : "bar-empty");
    const tip = document.createElementNS(SVG, "title");
    const start = new Date((now - (counts.length - i) * 3600) * 1000);
    tip.textContent = `${count} restart${count === 1 ? "" : "s"} in the hour from ${start.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
    rect.append(tip);
    svg.append(rect);
  });
  const label = (x, text, anchor) => {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", String(x));
    t.setAttribute("y", String(height - 4));
    t.setAttribute("class", "axis");
    t.setAttribute("text-anchor", anchor);
    t.textContent = text;
    svg.append(t);
  };
  label(2, "24 h ago", "start");
  label(width - 2, "now", "end");
  const peak = document.createElementNS(SVG, "text");
  peak.setAttribute("x", "2");
  peak.setAttribute("y", "10");
  peak.setAttribute("class", "axis");
  peak.textContent = `max ${max}/h`;
  svg.append(peak);
}

/** Refreshes for the live stream: the changes of a burst cost one request. */
export const refreshStatus = coalesce(() => loadStatus().catch(() => {}), 700);
export const refreshChart = coalesce(() => loadChart().catch(() => {}), 1500);
