// The REST API client: bearer token from sessionStorage, JSON errors as ApiError, and the live SSE stream over fetch.

import { sleep } from "./util.js";

const TOKEN_KEY = "autoheal.token";
const STREAM_SILENCE_MS = 40000; // the service sends a keepalive every 15 s
const RECONNECT_MAX_MS = 10000;

export class ApiError extends Error {
  constructor(status, detail, errors = []) {
    super(detail);
    this.status = status; // 0: autoheal could not be reached
    this.errors = errors; // [{field, message}]
  }
}

const handlers = { unauthorized: () => {}, reachable: () => {} };

export function onApi(events) {
  Object.assign(handlers, events);
}

export const getToken = () => sessionStorage.getItem(TOKEN_KEY) || "";

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(token = getToken()) {
  // X-Requested-With: state changes without a JSON body (restart, unquarantine) need it.
  const out = { "X-Requested-With": "autoheal-ui", Accept: "application/json" };
  if (token) out.Authorization = `Bearer ${token}`;
  return out;
}

/** Calls the API; resolves with the JSON answer (or the Response when raw), rejects with ApiError. */
export async function api(path, { method = "GET", body, raw = false, token } = {}) {
  const init = { method, headers: headers(token ?? getToken()), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let response;
  for (let attempt = 1; ; attempt++) {
    try {
      response = await fetch(path, init);
      break;
    } catch (exc) {
      // A read is tried once more (a network change aborts requests in flight); a change is not repeated.
      if (method === "GET" && attempt === 1) {
        await sleep(500);
        continue;
      }
      handlers.reachable(false);
      throw new ApiError(0, `cannot reach autoheal (${exc.message})`);
    }
  }
  handlers.reachable(true);
  if (response.ok) return raw ? response : response.json();
  let data = {};
  try {
    data = await response.json();
  } catch {
    // not JSON: the status line says enough
  }
  const error = new ApiError(response.status, data.detail || `${response.status} ${response.statusText}`, data.errors || []);
  if (response.status === 401 && token === undefined) handlers.unauthorized(error);
  throw error;
}

/** Parses one SSE frame ("event: x\ndata: {...}") into [event, data]; comments give null. */
function parseFrame(frame) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return null;
  try {
    return [event, JSON.parse(data.join("\n"))];
  } catch {
    return null;
  }
}

/**
 * Follows /api/events/stream (fetch, since EventSource cannot send the token) and reconnects by
 * itself with backoff. onMessage(event, data); onState(live, retryInMs).
 */
export function followStream({ onMessage, onState }) {
  let stopped = false;
  let controller = null;

  async function once() {
    controller = new AbortController();
    let silence = null;
    const alive = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
    };
    alive();
    let live = false;
    try {
      const response = await fetch("/api/events/stream", { headers: headers(), signal: controller.signal, cache: "no-store" });
      if (response.status === 401) {
        handlers.unauthorized(new ApiError(401, "the token was refused"));
        return false;
      }
      if (!response.ok || !response.body) return false;
      live = true;
      onState(true, 0);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return true;
        alive();
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const parsed = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (!parsed) continue;
          if (parsed[0] === "lagged") {
            controller.abort(); // too slow: reconnect, and the reconnection reloads everything
            return true;
          }
          onMessage(parsed[0], parsed[1]);
        }
      }
    } catch {
      return live;
    } finally {
      clearTimeout(silence);
    }
  }

  (async () => {
    let delay = 1000;
    while (!stopped) {
      const wasLive = await once();
      if (stopped) return;
      if (wasLive) delay = 1000;
      onState(false, delay);
      await sleep(delay);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    }
  })();

  return () => {
    stopped = true;
    controller?.abort();
  };
}
