// Starts the page: asks for the API token when one is needed, loads each tab, and keeps them live from the stream.

import { api, followStream, getToken, onApi, setToken } from "./api.js";
import * as config from "./config.js";
import * as containers from "./containers.js";
import * as dashboard from "./dashboard.js";
import * as events from "./events.js";
import * as notifications from "./notifications.js";
import { $, coalesce } from "./util.js";

const TABS = ["dashboard", "containers", "events", "config"];
let tokenModal = null;
let waitingForToken = null; // a promise while the token prompt is open
let everLive = false;
let live = false;
let retryTimer = null;

function banner(text) {
  const box = $("#banner");
  box.textContent = text || "";
  box.hidden = !text;
}

function showConnection(isLive, retryMs) {
  const marker = $("#conn");
  if (isLive) {
    marker.textContent = "Live";
    marker.className = "badge text-bg-success";
    marker.title = "Updates arrive as they happen";
  } else {
    marker.textContent = `Disconnected: retrying in ${Math.round(retryMs / 1000)} s`;
    marker.className = "badge text-bg-danger";
    marker.title = "The connection to autoheal is lost; the page reconnects by itself";
  }
  marker.dataset.state = isLive ? "live" : "down";
}

/** Shows the token prompt until a token the service accepts is entered; resolves then. */
function askToken(why) {
  if (waitingForToken) return waitingForToken;
  $("#token-why").textContent = why;
  const input = $("#token-input");
  input.classList.remove("is-invalid");
  input.value = "";
  waitingForToken = new Promise((resolve) => {
    const form = $("#token-form");
    const submit = async (event) => {
      event.preventDefault();
      const candidate = input.value.trim();
      if (!candidate) {
        $("#token-error").textContent = "Enter the API token.";
        input.classList.add("is-invalid");
        return;
      }
      try {
        await api("/api/status", { token: candidate });
      } catch (error) {
        $("#token-error").textContent = error.status === 401
          ? "Wrong token: autoheal refused it. Check the value of AUTOHEAL_API_TOKEN."
          : `Could not check the token: ${error.message}`;
        input.classList.add("is-invalid");
        input.select();
        return;
      }
      setToken(candidate);
      form.removeEventListener("submit", submit);
      tokenModal.hide();
      waitingForToken = null;
      resolve();
    };
    form.addEventListener("submit", submit);
  });
  $("#token-modal").addEventListener("shown.bs.modal", () => input.focus(), { once: true });
  tokenModal.show();
  return waitingForToken;
}

async function loadAll() {
  const results = await Promise.allSettled([
    dashboard.loadStatus(),
    dashboard.loadChart(),
    containers.load(),
    events.load(),
    config.load(),
    notifications.load(),
  ]);
  const failed = results.find((r) => r.status === "rejected" && r.reason?.status !== 401);
  banner(failed ? `Could not load everything (trying again): ${failed.reason.message}` : "");
  clearTimeout(retryTimer);
  if (failed) retryTimer = setTimeout(loadAll, 5000);
}

const reloadContainers = coalesce(() => containers.load().catch(() => {}), 500);

function onMessage(kind, data) {
  if (kind === "record") {
    events.add(data);
    containers.recordFor(data);
    dashboard.refreshStatus();
    if (data.kind === "restart") dashboard.refreshChart();
    notifications.refresh(); // a record may have queued a notification
    if (data.kind === "config_changed") {
      config.changedElsewhere();
      reloadContainers(); // selection may have changed for any container
    }
  } else if (kind === "container") {
    containers.upsert(data);
    dashboard.refreshStatus();
  } else if (kind === "container_removed") {
    containers.remove(data.id);
    dashboard.refreshStatus();
  }
}

function setupTabs() {
  const show = (name) => {
    const button = $(`#tab-${name}-btn`);
    if (button) bootstrap.Tab.getOrCreateInstance(button).show();
  };
  for (const name of TABS) {
    $(`#tab-${name}-btn`).addEventListener("shown.bs.tab", () => history.replaceState(null, "", `#${name}`));
  }
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  if (TABS.includes(location.hash.slice(1))) show(location.hash.slice(1));
}

async function start() {
  tokenModal = bootstrap.Modal.getOrCreateInstance($("#token-modal"));
  setupTabs();
  dashboard.init((status) => {
    $("#host").textContent = status.host;
    config.showMaintenance(status.maintenance);
  });
  containers.init(events.setNames);
  events.init();
  config.init();
  notifications.init();
  onApi({
    unauthorized: () => {
      if (waitingForToken) return; // the prompt is already open
      const had = getToken();
      setToken("");
      askToken(had ? "The saved API token is no longer accepted; enter the current one." : "This autoheal requires an API token.")
        .then(loadAll);
    },
  });
  try {
    await api("/api/status", { token: getToken() });
  } catch (error) {
    if (error.status === 401) {
      await askToken(getToken()
        ? "The saved API token is no longer accepted; enter the current one."
        : "This autoheal requires an API token. It is kept for this browser tab's session only.");
    } else {
      banner(`Cannot reach autoheal: ${error.message}`);
    }
  }
  followStream({
    onMessage,
    onState: (isLive, retryMs) => {
      const wasLive = live;
      live = isLive;
      showConnection(isLive, retryMs);
      if (isLive && everLive && !wasLive) loadAll(); // catch up on what happened while disconnected
      if (isLive) everLive = true;
    },
  });
  await loadAll(); // after subscribing, so that nothing falls between the load and the stream
  // The stream carries records and container changes; a pause or an auto-heal choice made by another
  // client is not among them, so those are picked up by a slow poll.
  setInterval(() => dashboard.loadStatus().catch(() => {}), 30000);
  setInterval(() => containers.load().catch(() => {}), 60000);
  setInterval(() => dashboard.loadChart().catch(() => {}), 300000); // the 24 h window moves on
}

start();
