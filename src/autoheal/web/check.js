// The detail view's custom health check: what is in force, a form to add or replace one (API errors next to
// their field), and removing an API-defined check.

import { api } from "./api.js";
import { alertInto, clearFieldErrors, esc, localTime, showFieldErrors } from "./util.js";

const FORM = `
<form class="border rounded p-2" id="hc-form" novalidate>
  <div id="hc-result" role="status" aria-live="polite"></div>
  <div class="row g-2">
    <div class="col-sm-3"><label class="form-label small" for="hc-type">Check type</label>
      <select class="form-select form-select-sm" id="hc-type" data-field="check_type">
        <option value="http">HTTP</option><option value="tcp">TCP port</option><option value="exec">Command (exec)</option><option value="docker">Docker's own HEALTHCHECK</option>
      </select></div>
    <div class="col-sm-5 hc-http"><label class="form-label small" for="hc-endpoint">HTTP endpoint</label>
      <input class="form-control form-control-sm" id="hc-endpoint" data-field="http_endpoint" placeholder="/health or http://{container_ip}:8080/health"></div>
    <div class="col-sm-2 hc-http"><label class="form-label small" for="hc-port">HTTP port</label>
      <input class="form-control form-control-sm" type="number" id="hc-port" data-field="http_port" placeholder="80"></div>
    <div class="col-sm-2 hc-http"><label class="form-label small" for="hc-method">Method</label>
      <select class="form-select form-select-sm" id="hc-method" data-field="http_method"><option>GET</option><option>HEAD</option></select></div>
    <div class="col-sm-3 hc-http"><label class="form-label small" for="hc-status">Expected status</label>
      <input class="form-control form-control-sm" id="hc-status" data-field="http_expected_status" placeholder="200-399"></div>
    <div class="col-sm-5 hc-http"><label class="form-label small" for="hc-body">Expected text in the body</label>
      <input class="form-control form-control-sm" id="hc-body" data-field="http_expected_body" placeholder="optional"></div>
    <div class="col-sm-3 hc-tcp"><label class="form-label small" for="hc-tcp">TCP port</label>
      <input class="form-control form-control-sm" type="number" id="hc-tcp" data-field="tcp_port"></div>
    <div class="col-sm-9 hc-exec"><label class="form-label small" for="hc-exec">Command</label>
      <input class="form-control form-control-sm" id="hc-exec" data-field="exec_command" aria-describedby="hc-exec-help" placeholder='["pg_isready", "-q"] or a shell line'>
      <div class="form-text" id="hc-exec-help">A JSON list of arguments, or one line run with <code>sh -c</code>.</div></div>
  </div>
  <div class="row g-2 mt-1">
    <div class="col-6 col-sm-3"><label class="form-label small" for="hc-interval">Interval (s)</label><input class="form-control form-control-sm" type="number" step="any" id="hc-interval" data-field="interval_seconds" placeholder="30"></div>
    <div class="col-6 col-sm-3"><label class="form-label small" for="hc-timeout">Timeout (s)</label><input class="form-control form-control-sm" type="number" step="any" id="hc-timeout" data-field="timeout_seconds" placeholder="10"></div>
    <div class="col-6 col-sm-3"><label class="form-label small" for="hc-retries">Retries</label><input class="form-control form-control-sm" type="number" id="hc-retries" data-field="retries" placeholder="3"></div>
    <div class="col-6 col-sm-3"><label class="form-label small" for="hc-start">Start period (s)</label><input class="form-control form-control-sm" type="number" step="any" id="hc-start" data-field="start_period_seconds" placeholder="0"></div>
  </div>
  <button class="btn btn-sm btn-primary mt-2" type="submit" id="hc-save">Save check</button>
</form>`;

function target(check) {
  if (check.check_type === "http") return check.http_endpoint;
  if (check.check_type === "tcp") return `port ${check.tcp_port}`;
  if (check.check_type === "exec") return JSON.stringify(check.exec_command);
  return "Docker's HEALTHCHECK";
}

function number(input) {
  const text = input.value.trim();
  return text === "" ? undefined : Number(text);
}

function collect(form, container) {
  const type = form.querySelector("#hc-type").value;
  const body = { container_id: container.id, check_type: type };
  const put = (key, value) => {
    if (value !== undefined && value !== "") body[key] = value;
  };
  if (type === "http") {
    put("http_endpoint", form.querySelector("#hc-endpoint").value.trim());
    put("http_port", number(form.querySelector("#hc-port")));
    put("http_method", form.querySelector("#hc-method").value);
    const status = form.querySelector("#hc-status").value.trim();
    if (/^\d+$/.test(status)) put("http_expected_status", Number(status));
    else if (/^\d+(\s*,\s*\d+)+$/.test(status)) put("http_expected_status", status.split(",").map(Number));
    else put("http_expected_status", status);
    put("http_expected_body", form.querySelector("#hc-body").value || undefined);
  } else if (type === "tcp") {
    put("tcp_port", number(form.querySelector("#hc-tcp")));
  } else if (type === "exec") {
    const text = form.querySelector("#hc-exec").value.trim();
    if (text.startsWith("[")) {
      try {
        put("exec_command", JSON.parse(text));
      } catch {
        put("exec_command", text); // the API says what is wrong with it
      }
    } else if (text) put("exec_command", ["sh", "-c", text]);
  }
  put("interval_seconds", number(form.querySelector("#hc-interval")));
  put("timeout_seconds", number(form.querySelector("#hc-timeout")));
  put("retries", number(form.querySelector("#hc-retries")));
  put("start_period_seconds", number(form.querySelector("#hc-start")));
  return body;
}

function showKind(form) {
  const type = form.querySelector("#hc-type").value;
  for (const kind of ["http", "tcp", "exec"]) {
    form.querySelectorAll(`.hc-${kind}`).forEach((el) => (el.hidden = type !== kind));
  }
}

/** Shows the check in force for container c in root, with the form; onChanged() after a change. */
export async function render(root, c, onChanged) {
  let current = null;
  try {
    current = await api(`/api/healthchecks/${encodeURIComponent(c.name)}`);
  } catch (error) {
    if (error.status !== 404) {
      alertInto(root, "danger", `Could not read the check: ${error.message}`);
      return;
    }
  }
  let summary = '<p class="small text-body-secondary mb-2" id="hc-current">None: Docker\'s own HEALTHCHECK, if the image has one, decides.</p>';
  if (current) {
    const state = current.state;
    const last = state?.last_run_at
      ? `last run ${esc(localTime(state.last_run_at))}: ${state.last_ok ? "ok" : "failed"}${state.last_detail ? ` (${esc(state.last_detail)})` : ""}, ${state.consecutive_failures} failure(s) in a row`
      : current.running ? "not run yet" : "not running (container stopped, not managed, or quarantined)";
    summary = `<div class="small mb-2" id="hc-current"><strong>${esc(current.check_type)}</strong> ${esc(target(current))},
every ${esc(current.interval_seconds)} s, timeout ${esc(current.timeout_seconds)} s, ${esc(current.retries)} retries
<span class="badge text-bg-secondary">from ${current.source === "api" ? "the API" : "labels"}</span><br>${last}
${current.source === "api" ? ' <button type="button" class="btn btn-sm btn-outline-danger ms-2" id="hc-remove">Remove check</button>'
    : '<br><span class="text-body-secondary">Defined by the container\'s labels; a check saved here overrides them.</span>'}</div>`;
  }
  root.innerHTML = `<div id="hc-message" role="status" aria-live="polite"></div>${summary}<details${current ? "" : " open"}><summary class="small mb-2">${current ? "Replace the check" : "Add a check"}</summary>${FORM}</details>`;
  const form = root.querySelector("#hc-form");
  form.querySelector("#hc-type").addEventListener("change", () => showKind(form));
  if (current && current.check_type !== "docker") form.querySelector("#hc-type").value = current.check_type;
  showKind(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    try {
      await api("/api/healthchecks", { method: "POST", body: collect(form, c) });
      await render(root, c, onChanged);
      alertInto(root.querySelector("#hc-message"), "success", "Check saved.");
      onChanged();
    } catch (error) {
      const errors = error.errors.map((e) => ({ ...e, field: e.field.split(".")[0] }));
      const rest = showFieldErrors(form, errors);
      const result = form.querySelector("#hc-result");
      if (rest.length || !errors.length) alertInto(result, "danger", `Not saved: ${rest.length ? "" : error.message}`, rest.map((e) => `${e.field}: ${e.message}`));
      else alertInto(result, "danger", "Not saved: see the marked fields.");
    }
  });
  root.querySelector("#hc-remove")?.addEventListener("click", async () => {
    try {
      await api(`/api/healthchecks/${encodeURIComponent(c.name)}`, { method: "DELETE" });
      await render(root, c, onChanged);
      alertInto(root.querySelector("#hc-message"), "success", "Check removed.");
      onChanged();
    } catch (error) {
      alertInto(root.querySelector("#hc-message"), "danger", `Not removed: ${error.message}`);
    }
  });
}
