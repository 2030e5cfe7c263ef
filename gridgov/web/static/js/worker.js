// The field page (phone first): my grid, my tasks, handling a task with photos, patrol reports.

import { api, optional, el, t, page, when, isOverdue, stateBadge, showError, clearErrors, fieldError, unavailable, put } from "./core.js";
import { choices, loadChoices, openForm, usable, categoryName } from "./workflow.js";

const account = page.account;
const acts = new Set(account.acts_as);
// The actions that belong on a phone; the rest are the operation centre's.
const FIELD_ACTIONS = ["accept", "handle", "return", "request_extension", "verify_pass", "verify_fail", "escalate"];

function wanted(item) {
  const mine = !account.department_code || !item.assignee_department || item.assignee_department === account.department_code;
  if (acts.has("handler") && ["dispatched", "accepted", "reopened"].includes(item.state) && mine) return true;
  if (acts.has("grid_worker") && item.state === "handled") return true;
  return false;
}

async function myGrid() {
  const name = document.getElementById("grid-name");
  const path = document.getElementById("grid-path");
  if (!account.scope_code) {
    name.textContent = account.department_code ? t("worker.department", { department: account.department_code }) : t("worker.whole_city");
    return;
  }
  const grid = await optional(`/api/v1/grids/${encodeURIComponent(account.scope_code)}`).catch(() => null);
  if (!grid) {
    name.textContent = account.scope_code;
    return;
  }
  name.textContent = `${grid.name} · ${t(`level.${grid.level}`)}`;
  path.textContent = (grid.path || []).map((p) => p.name).join(" › ");
  const people = await optional(`/api/v1/people?scope=${encodeURIComponent(account.scope_code)}&on_duty=1`).catch(() => null);
  if (people && people.rows) document.getElementById("on-duty").textContent = t("worker.on_duty", { count: people.rows.length });
}

async function tasks() {
  const data = await api("/api/v1/cases?limit=200");
  const mine = data.items.filter(wanted);
  const list = document.getElementById("tasks");
  document.getElementById("task-count").textContent = mine.length ? `(${mine.length})` : "";
  document.getElementById("tasks-empty").hidden = mine.length > 0;
  put(list,
    ...mine.map((item) =>
      el("li", { dataset: { caseId: item.id } },
        el("button", { type: "button", class: "task-button", onclick: () => openTask(item.id) },
          el("span", { class: "task-title" }, t("case.number", { id: item.id }), " ", categoryName(item.category_code, item.category_name)),
          el("span", { class: "task-meta" }, stateBadge(item.state), " ", isOverdue(item) ? el("span", { class: "badge badge-overdue" }, t("case.overdue")) : null, ` ${t("case.handle_due")} ${when(item.handle_due)}`),
        ),
      ),
    ),
  );
  list.dataset.loaded = "true";
}

async function openTask(caseId) {
  const card = document.getElementById("task");
  const [item, stored] = await Promise.all([api(`/api/v1/cases/${caseId}`), api(`/api/v1/cases/${caseId}/reports`)]);
  card.hidden = false;
  card.dataset.caseId = caseId;
  document.getElementById("task-done").hidden = true;
  document.getElementById("task-id").textContent = t("case.number", { id: item.id });
  document.getElementById("task-state").replaceWith(Object.assign(stateBadge(item.state), { id: "task-state" }));
  document.getElementById("task-category").textContent = categoryName(item.category_code, item.category_name);
  const first = stored.reports[0];
  document.getElementById("task-text").textContent = first ? [first.text, first.address].filter(Boolean).join(" · ") : "";
  document.getElementById("task-due").textContent = `${t("case.handle_due")}: ${when(item.handle_due)}`;
  const photos = document.getElementById("task-photos");
  const listing = await api(`/console/cases/${caseId}/photos`);
  put(photos, ...listing.photos.map((p) => el("img", { src: `/console/cases/${caseId}/photos/${p.id}`, alt: p.kind === "evidence" ? t("case.photo_evidence", { at: when(p.at) }) : t("case.photo_report", { channel: t(`channel.${p.channel}`) }) })));
  const actions = usable(item).filter((a) => FIELD_ACTIONS.includes(a));
  const box = document.getElementById("task-actions");
  const form = document.getElementById("task-form");
  form.hidden = true;
  if (!actions.length) unavailable(box, "case.no_actions");
  else {
    put(box,
      ...actions.map((action) =>
        el("button", { type: "button", class: ["accept", "handle", "verify_pass"].includes(action) ? "primary" : "", dataset: { testid: `action-${action}` }, onclick: () => {
          document.getElementById("task-done").hidden = true;
          openForm(form, caseId, action, {}, finished);
        } }, t(`action.${action}`)),
      ),
    );
  }
  card.scrollIntoView({ block: "start" });
}

function finished(updated, action) {
  const note = document.getElementById("task-done");
  note.textContent = t("action.done", { action: t(`action.${action}`), state: t(`state.${updated.state}`) });
  note.hidden = false;
  tasks();
  openTask(updated.id).then(() => (document.getElementById("task-done").hidden = false));
}

// Patrol reports

function locate(form, where) {
  if (!navigator.geolocation) {
    fieldError(form, "location", t("form.no_geolocation"));
    return;
  }
  where.textContent = t("form.locating");
  navigator.geolocation.getCurrentPosition(
    (position) => {
      form.elements.namedItem("lon").value = position.coords.longitude.toFixed(6);
      form.elements.namedItem("lat").value = position.coords.latitude.toFixed(6);
      where.textContent = `${position.coords.longitude.toFixed(5)}, ${position.coords.latitude.toFixed(5)}`;
    },
    () => {
      where.textContent = "";
      fieldError(form, "location", t("form.geolocation_refused"));
    },
    { enableHighAccuracy: true, timeout: 10000 },
  );
}

function patrol() {
  const form = document.getElementById("patrol-form");
  if (!form || document.getElementById("patrol").hidden) return;
  const select = document.getElementById("patrol-category");
  select.append(...choices.categories.map((c) => el("option", { value: c.code }, `${c.code} ${c.name}`)));
  const where = document.getElementById("patrol-where");
  document.getElementById("patrol-locate").addEventListener("click", () => locate(form, where));
  let submission = crypto.randomUUID();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    data.set("submission_id", submission);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const receipt = await api("/worker/reports", { method: "POST", form: data, retry: true });
      const note = document.getElementById("patrol-done");
      note.textContent = receipt.case_id ? t("worker.patrol_done", { id: receipt.case_id }) : t("worker.patrol_waiting");
      note.hidden = false;
      form.reset();
      where.textContent = "";
      submission = crypto.randomUUID();
      tasks();
    } catch (error) {
      showError(form, error);
    } finally {
      button.disabled = false;
    }
  });
}

async function main() {
  await loadChoices();
  await Promise.all([myGrid(), tasks()]);
  patrol();
  document.body.dataset.loaded = "true";
}

document.addEventListener("gg:online", () => tasks().catch(() => {}));
main().catch((error) => console.warn(error));
