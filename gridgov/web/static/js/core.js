// What every page shares: the message catalogue, the JSON API, the connection banner, field errors.

const messages = JSON.parse(document.getElementById("gg-messages").textContent);
export const page = JSON.parse(document.getElementById("gg-page").textContent);

const CSRF_COOKIE = "gridgov_csrf";
const HEALTH = "/healthz";

/** The message `key` in the page's language, with `{name}` placeholders filled in. */
export function t(key, params = {}) {
  let text = messages[key];
  if (text === undefined) {
    console.warn(`missing message ${key}`);
    text = key;
  }
  for (const [name, value] of Object.entries(params)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

/** A refusal from the API: its status and, when it names one, the field at fault. */
export class ApiError extends Error {
  constructor(status, problem, field = null, body = null) {
    super(problem);
    this.status = status;
    this.field = field;
    this.body = body;
  }
  get offline() {
    return this.status === 0;
  }
  /** An endpoint this server does not have (yet): FastAPI's own 404, not one of ours. */
  get missing() {
    return (this.status === 404 || this.status === 405) && !(this.body && this.body.error);
  }
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return "";
}

// The connection: lost when a request cannot reach the server; found again when /healthz answers.
const connection = {
  lost: false,
  waiters: [],
  timer: null,
};

function banner(show) {
  const el = document.getElementById("gg-banner");
  if (el) el.hidden = !show;
}

/** Mark the connection lost: show the banner and poll until the server answers again. */
export function connectionLost() {
  if (connection.lost) return;
  connection.lost = true;
  banner(true);
  document.dispatchEvent(new CustomEvent("gg:offline"));
  const probe = async () => {
    try {
      const response = await fetch(HEALTH, { cache: "no-store" });
      if (response.ok) {
        connectionFound();
        return;
      }
    } catch (_) {
      // still away
    }
    connection.timer = setTimeout(probe, 2000);
  };
  connection.timer = setTimeout(probe, 1000);
}

function connectionFound() {
  if (!connection.lost) return;
  connection.lost = false;
  clearTimeout(connection.timer);
  banner(false);
  const waiting = connection.waiters.splice(0);
  waiting.forEach((resolve) => resolve());
  document.dispatchEvent(new CustomEvent("gg:online"));
}

function untilOnline() {
  return new Promise((resolve) => connection.waiters.push(resolve));
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  const error = body && body.error;
  if (error) {
    return new ApiError(response.status, error.problem || String(response.status), error.field || null, body);
  }
  if (Array.isArray(body) && body[0] && body[0].description) {
    // Open311's own error shape
    return new ApiError(response.status, body[0].description, null, body);
  }
  return new ApiError(response.status, t("error.http", { status: response.status }), null, body);
}

/**
 * Call the JSON API. `body` is sent as JSON, `form` as multipart. GETs wait out a lost connection
 * and retry; other methods fail at once with an offline ApiError unless `retry` says they are
 * safe to repeat (an idempotency key).
 */
export async function api(path, { method = "GET", body, form, retry = method === "GET", headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  } else if (form !== undefined) {
    init.body = form;
  }
  for (;;) {
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      connectionLost();
      if (!retry) throw new ApiError(0, t("error.offline"));
      await untilOnline();
      continue;
    }
    connectionFound();
    if (response.status === 401 && page.account) {
      // The session ended (expired, signed out elsewhere): back to sign-in, then here again.
      window.location.assign(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`);
      throw new ApiError(401, t("error.signed_out"));
    }
    if (!response.ok) throw await problemOf(response);
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    return type.includes("json") ? response.json() : response.text();
  }
}

/** Like `api`, but an endpoint that is missing or refuses comes back as null (shown as "not available"). */
export async function optional(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error instanceof ApiError && (error.missing || error.status >= 500)) return null;
    throw error;
  }
}

// Server-sent events with the banner: a network loss shows it; a refused stream stops quietly.
export function subscribe(path, onEvent, { onUnavailable = () => {} } = {}) {
  if (!("EventSource" in window)) {
    onUnavailable();
    return null;
  }
  const source = new EventSource(path);
  let opened = false;
  source.addEventListener("open", () => {
    opened = true;
    connectionFound();
  });
  source.addEventListener("case", (event) => {
    try {
      onEvent(JSON.parse(event.data));
    } catch (_) {
      // a malformed event is skipped, not fatal
    }
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // Not an event stream (missing endpoint, refused scope): nothing to retry.
      if (!opened) onUnavailable();
      return;
    }
    if (opened) connectionLost();
  });
  return source;
}

// DOM helpers

/** An element: el("a", {href: "/"}, "text", child…). Strings become text, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace `container`'s children, skipping the null and false that optional parts leave. */
export function put(container, ...children) {
  container.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** Show the API's `{"error": {"field", "problem"}}` next to the field it names, or above the button. */
export function showError(form, error) {
  clearErrors(form);
  const problem = error instanceof ApiError && error.offline ? t("error.offline") : error.message;
  const field = error instanceof ApiError ? fieldName(error.field) : null;
  const slot = field ? form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`) : null;
  if (slot) {
    slot.textContent = problem;
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
    return;
  }
  const general = form.querySelector(".form-error");
  if (general) general.textContent = field ? `${field}: ${problem}` : problem;
}

/** Put a message next to a field from the page itself (checks before sending). */
export function fieldError(form, field, problem) {
  const slot = form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
  if (slot) slot.textContent = problem;
  const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
  if (input) input.setAttribute("aria-invalid", "true");
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((node) => (node.textContent = ""));
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
}

// Field names in answers carry a path (body.reason, payload.photos[0]); the form knows the last part.
function fieldName(field) {
  if (!field) return null;
  const last = String(field).split(".").pop();
  return last.replace(/\[\d+\]$/, "");
}

// Formatting

const TZ = page.tz || "Asia/Shanghai";
const LOCALE = page.lang === "en" ? "en-GB" : "zh-CN";

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(LOCALE, { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

export function percent(value) {
  if (value === null || value === undefined) return "–";
  return `${(Number(value) * 100).toFixed(1)}%`;
}

export function number(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(LOCALE);
}

/** The server's clock when the page was made, moved on by the time since: deadlines are judged by it. */
const started = Date.now();
export function now() {
  return new Date(new Date(page.now).getTime() + (Date.now() - started));
}

export function isOverdue(item) {
  const closed = ["rejected", "closed", "evaluated", "merged", "handled", "verified"];
  return Boolean(item.handle_due) && !closed.includes(item.state) && new Date(item.handle_due) < now();
}

export function stateLabel(state) {
  return t(`state.${state}`);
}

export function stateBadge(state) {
  return el("span", { class: `badge state-${state}`, dataset: { state } }, stateLabel(state));
}

/** A panel whose data cannot be had: the "not available" note instead of a blank. */
export function unavailable(container, key = "common.unavailable") {
  if (container.tagName === "TBODY") {
    const columns = container.closest("table").querySelectorAll("thead th").length || 1;
    put(container, el("tr", {}, el("td", { colspan: columns, class: "unavailable" }, t(key))));
    return;
  }
  put(container, el("p", { class: "unavailable" }, t(key)));
}

/**
 * File inputs in the page's language: the browser's own button speaks the browser's language,
 * so it is hidden behind a label that speaks ours, with the chosen files' names beside it.
 */
export function fileInputs(root = document) {
  root.querySelectorAll('input[type="file"]:not([data-dressed])').forEach((input) => {
    input.dataset.dressed = "true";
    input.classList.add("file-native");
    const names = el("span", { class: "file-names muted" }, t("form.no_file"));
    const button = el("label", { class: "button file-button", for: input.id }, t(input.multiple ? "form.choose_photos" : "form.choose_photo"));
    input.after(button, names);
    input.addEventListener("change", () => {
      names.textContent = input.files.length ? [...input.files].map((f) => f.name).join(", ") : t("form.no_file");
    });
    input.form && input.form.addEventListener("reset", () => (names.textContent = t("form.no_file")));
  });
}
fileInputs();

// Sign out, from the top bar of every page.
const signout = document.getElementById("gg-signout");
if (signout) {
  signout.addEventListener("click", async () => {
    try {
      await api("/api/v1/auth/sign-out", { method: "POST" });
    } catch (_) {
      // signed out already, or offline: the sign-in page says which
    }
    window.location.assign("/signin");
  });
}
