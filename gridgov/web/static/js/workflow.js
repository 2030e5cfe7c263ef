// Workflow actions as forms: which fields each action asks for, and sending it. Shared by the
// operator's case page and the worker's phone page.

import { api, el, t, page, showError, clearErrors, ApiError, put, fileInputs } from "./core.js";

// The fields each action asks for; the API names any that is missing or wrong.
const FIELDS = {
  file: ["category_code"],
  reject: ["reason"],
  dispatch: ["department"],
  accept: ["person", "reason"],
  return: ["reason"],
  handle: ["evidence", "reason"],
  verify_pass: ["reason"],
  verify_fail: ["reason", "handle_due"],
  close: ["reason"],
  evaluate: ["satisfaction"],
  reopen: ["reason", "handle_due"],
  request_extension: ["until", "reason"],
  approve_extension: ["handle_due", "reason"],
  deny_extension: ["reason"],
  escalate: ["grounds", "reason"],
  supervise: ["due", "reason"],
  merge: ["into", "reason"],
  reassign: ["department", "person", "reason"],
};
const REQUIRED = {
  reject: ["reason"], return: ["reason"], handle: ["evidence"], verify_fail: ["reason"], evaluate: ["satisfaction"],
  reopen: ["reason"], request_extension: ["until", "reason"], approve_extension: ["handle_due"], deny_extension: ["reason"],
  escalate: ["reason"], merge: ["into"], reassign: ["department"],
};
const DATETIMES = new Set(["handle_due", "until", "due"]);
const PRIMARY = new Set(["file", "dispatch", "accept", "handle", "verify_pass", "close"]);

export function isPrimary(action) {
  return PRIMARY.has(action);
}

/** Lists the forms draw their choices from; filled once by `loadChoices`. */
export const choices = { categories: [], departments: [] };

export async function loadChoices() {
  const english = page.lang === "en";
  try {
    const found = await api("/api/v1/categories?leaf=true");
    choices.categories = found.rows.map((c) => ({ code: c.code, name: english ? c.name_en : c.name_zh }));
  } catch (_) {
    // Residents' list of the same leaves, for a server without the staff reference lists.
    const services = await api("/open311/v2/services.json").catch(() => []);
    choices.categories = services.map((s) => ({ code: s.service_code, name: s.service_name }));
  }
  try {
    const found = await api("/api/v1/departments");
    choices.departments = found.rows.map((d) => ({ code: d.code, name: english ? d.name_en : d.name_zh }));
  } catch (_) {
    choices.departments = [];
  }
}

/** The actions to offer: the API's list, less those whose condition the case plainly fails. */
export function usable(item) {
  const pending = Boolean(item.pending_extension);
  return item.allowed_actions.filter((a) => {
    if (a === "report" || a === "absorb") return false;
    if (a === "approve_extension" || a === "deny_extension") return pending;
    if (a === "request_extension") return !pending;
    return true;
  });
}

/** A category's name in the page's language from the reference list, else `fallback`. */
export function categoryName(code, fallback = null) {
  const found = choices.categories.find((c) => c.code === code);
  return found ? found.name : fallback || code || "";
}

/** A department's name from the reference list, else its code. */
export function departmentName(code) {
  if (!code) return "–";
  const found = choices.departments.find((d) => d.code === code);
  return found ? found.name : code;
}

function input(action, name, defaults) {
  const id = `f-${action}-${name}`;
  const required = (REQUIRED[action] || []).includes(name);
  const label = el("label", { for: id }, t(`field.${name}`), required ? el("span", { class: "req" }, " *") : null);
  let control;
  if (name === "reason") {
    control = el("textarea", { id, name, rows: 2, maxlength: 2000 });
  } else if (name === "evidence") {
    control = el("input", { id, name, type: "file", accept: "image/jpeg,image/png,image/webp", multiple: true, capture: "environment" });
  } else if (name === "category_code") {
    control = el("select", { id, name },
      el("option", { value: "" }, t("field.category_default")),
      ...choices.categories.map((c) => el("option", { value: c.code }, `${c.code} ${c.name}`)));
  } else if (name === "department") {
    control = el("input", { id, name, list: "department-list", maxlength: 128, autocomplete: "off" });
  } else if (name === "satisfaction") {
    control = el("select", { id, name },
      el("option", { value: "" }, t("field.choose")),
      ...["satisfied", "basically_satisfied", "dissatisfied"].map((s) => el("option", { value: s }, t(`satisfaction.${s}`))));
  } else if (name === "grounds") {
    control = el("select", { id, name }, ...["beyond_authority", "overdue", "returned_twice"].map((g) => el("option", { value: g }, t(`grounds.${g}`))));
  } else if (DATETIMES.has(name)) {
    control = el("input", { id, name, type: "datetime-local" });
  } else if (name === "into") {
    control = el("input", { id, name, inputmode: "numeric", maxlength: 12 });
  } else {
    control = el("input", { id, name, maxlength: 128 });
  }
  if (defaults[name] !== undefined && defaults[name] !== null && name !== "evidence") control.value = defaults[name];
  return el("div", { class: "field" }, label, control, el("p", { class: "field-error", dataset: { for: name } }));
}

function departmentList() {
  if (document.getElementById("department-list")) return null;
  return el("datalist", { id: "department-list" }, ...choices.departments.map((d) => el("option", { value: d.code }, d.name)));
}

/** A local date-time from a form as ISO 8601 with the city's offset. */
function isoOf(value) {
  if (!value) return undefined;
  return `${value.length === 16 ? `${value}:00` : value}${page.utc_offset || "+08:00"}`;
}

async function uploadEvidence(files) {
  const ids = [];
  for (const file of files) {
    const form = new FormData();
    form.append("photo", file);
    try {
      const stored = await api("/console/photos", { method: "POST", form });
      ids.push(stored.id);
    } catch (error) {
      if (error instanceof ApiError && error.field) error.field = "evidence";
      throw error;
    }
  }
  return ids;
}

/** The body of `action` from its form's fields. */
async function bodyOf(action, form) {
  const body = {};
  for (const name of FIELDS[action]) {
    const control = form.elements.namedItem(name);
    if (!control) continue;
    if (name === "evidence") {
      body.evidence = await uploadEvidence([...control.files]);
      continue;
    }
    const value = control.value.trim();
    if (!value) continue;
    if (DATETIMES.has(name)) body[name] = isoOf(value);
    else if (name === "into") body.into = /^\d+$/.test(value) ? Number(value) : value;
    else body[name] = value;
  }
  return body;
}

/** Send `action` with `body` on case `caseId`; resolves with the case as it now stands. */
export function perform(caseId, action, body = {}) {
  return api(`/api/v1/cases/${caseId}/actions/${action}`, { method: "POST", body });
}

/**
 * Fill `form` with the fields of `action` and send it when submitted; `done(case)` afterwards.
 * `defaults` prefills fields (the AI's category and department, a pending extension's date).
 */
export function openForm(form, caseId, action, defaults, done) {
  put(form,
    el("h3", {}, t(`action.${action}`)),
    departmentList(),
    ...FIELDS[action].map((name) => input(action, name, defaults)),
    el("p", { class: "form-error", role: "alert" }),
    el("div", { class: "row" },
      el("button", { type: "submit", class: "primary", dataset: { testid: `submit-${action}` } }, t("action.confirm", { action: t(`action.${action}`) })),
      el("button", { type: "button", class: "link-button", onclick: () => (form.hidden = true) }, t("common.cancel")),
    ),
  );
  form.dataset.action = action;
  fileInputs(form);
  form.hidden = false;
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const body = await bodyOf(action, form);
      const updated = await perform(caseId, action, body);
      form.hidden = true;
      done(updated, action);
    } catch (error) {
      showError(form, error);
    } finally {
      button.disabled = false;
    }
  };
  const first = form.querySelector("input, select, textarea");
  if (first) first.focus();
}
