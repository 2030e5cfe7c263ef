// One case for an operator: facts, map, reports, photos, timeline, AI suggestions and actions.

import { api, optional, ApiError, el, t, page, when, isOverdue, stateLabel, unavailable, percent, showError, put } from "./core.js";
import { createMap } from "./map.js";
import { choices, loadChoices, openForm, perform, isPrimary, departmentName, categoryName, usable } from "./workflow.js";

const caseId = page.case_id;
let current = null;
let reports = [];
let mapShown = false;

function photoUrl(fileId) {
  return `/console/cases/${caseId}/photos/${fileId}`;
}

function photo(fileId, caption) {
  return el("figure", { class: "photo" },
    el("a", { href: photoUrl(fileId), target: "_blank", rel: "noopener" }, el("img", { src: photoUrl(fileId), alt: caption, loading: "lazy" })),
    el("figcaption", {}, caption));
}

let gridNames = null; // the finest grid's path with names, when the grid API has it

function finestGrid(item) {
  return ["micro", "compound", "community", "street", "district"].map((l) => (item.grid_path || {})[l]).find(Boolean);
}

function gridPath(item) {
  if (gridNames && gridNames.length) return gridNames.map((g) => g.name).join(" › ");
  return Object.entries(item.grid_path || {}).map(([level, code]) => `${t(`level.${level}`)} ${code}`).join(" › ") || "–";
}

function facts(item) {
  const rows = [
    ["case.category", item.category_code ? `${item.category_code} ${categoryName(item.category_code, item.category_name)}` : t("case.uncategorised")],
    ["case.grid", gridPath(item)],
    ["case.department", departmentName(item.assignee_department)],
    ["case.person", item.assignee_person || "–"],
    ["case.reported_at", when(item.reported_at)],
    ["case.accept_due", when(item.accept_due)],
    ["case.handle_due", when(item.handle_due)],
    ["case.owning_level", t(`level.${item.owning_level}`)],
  ];
  if (item.pending_extension) rows.push(["case.pending_extension", `${when(item.pending_extension.until)} · ${item.pending_extension.reason}`]);
  return rows.flatMap(([key, value]) => [el("dt", {}, t(key)), el("dd", {}, value)]);
}

function drawHeader(item) {
  document.getElementById("case-id").textContent = t("case.number", { id: item.id });
  document.title = `${t("case.number", { id: item.id })} · ${t("app.name")}`;
  const badge = document.getElementById("case-state");
  badge.textContent = stateLabel(item.state);
  badge.className = `badge state-${item.state}`;
  badge.dataset.state = item.state;
  document.getElementById("case-overdue").hidden = !isOverdue(item);
  document.getElementById("case-supervised").hidden = !item.supervised;
  put(document.getElementById("case-facts"), ...facts(item));
}

function timelineDetails(entry) {
  const details = entry.details || {};
  const parts = [];
  if (details.department) parts.push(`${t("case.department")}: ${departmentName(details.department)}`);
  if (details.category_code) parts.push(`${t("case.category")}: ${details.category_code}`);
  if (details.satisfaction) parts.push(t(`satisfaction.${details.satisfaction}`));
  if (details.until) parts.push(`${t("field.until")}: ${when(details.until)}`);
  return parts.join(" · ");
}

function drawTimeline(item) {
  const list = document.getElementById("case-timeline");
  put(list,
    ...item.timeline.map((entry) =>
      el("li", { dataset: { action: entry.action } },
        el("time", { datetime: entry.at }, when(entry.at)),
        el("strong", {}, t(`action.${entry.action}`)),
        el("span", { class: "muted" }, ` · ${t(`role.${entry.actor_role}`)} ${entry.actor_id}`),
        entry.reason ? el("p", {}, entry.reason) : null,
        timelineDetails(entry) ? el("p", { class: "muted" }, timelineDetails(entry)) : null,
      ),
    ),
  );
}

async function drawPhotos() {
  const box = document.getElementById("case-photos");
  const listing = await api(`/console/cases/${caseId}/photos`);
  const shown = listing.photos.map((p) =>
    photo(p.id, p.kind === "evidence" ? t("case.photo_evidence", { at: when(p.at) }) : t("case.photo_report", { channel: t(`channel.${p.channel}`) })),
  );
  // Photos a channel gave as outside addresses are named, never loaded: the page stays offline.
  for (const report of reports) {
    for (const ref of (report.intake && report.intake.photos) || []) {
      if (ref.source === "url") shown.push(el("p", { class: "muted" }, t("case.photo_external"), " ", el("code", {}, ref.value)));
    }
  }
  if (!shown.length) unavailable(box, "case.no_photos");
  else put(box, ...shown);
}

function drawReports() {
  const box = document.getElementById("case-reports");
  if (!reports.length) return unavailable(box, "common.no_data");
  put(box,
    ...reports.map((report) =>
      el("div", { class: "report" },
        el("p", { class: "muted" }, `${t(`channel.${report.channel}`)} · ${when(report.reported_at)} · ${report.external_id}`),
        report.title ? el("p", {}, el("strong", {}, report.title)) : null,
        el("p", {}, report.text),
        report.address ? el("p", { class: "muted" }, report.address) : null,
        report.reporter_name || report.reporter_phone ? el("p", { class: "muted" }, `${t("case.reporter")}: ${[report.reporter_name, report.reporter_phone].filter(Boolean).join(" ")}`) : null,
      ),
    ),
  );
}

async function drawMap(item) {
  if (mapShown) return;
  mapShown = true;
  const located = reports.find((r) => r.lon !== null && r.lat !== null && r.lon !== undefined);
  const container = document.getElementById("case-map");
  const point = located ? [located.lon, located.lat] : null;
  const view = await createMap(container, { center: point || undefined, zoom: point ? 14 : 10, grids: true });
  if (!view) return;
  container.dataset.ready = "true";
  if (point) view.pin(point);
  const finest = finestGrid(item);
  if (finest) {
    const outline = await optional(`/api/v1/grids/${encodeURIComponent(finest)}/geometry`).catch(() => null);
    if (outline) view.setOutline(outline);
  }
}

// AI suggestions: the insights endpoint, or what intake proposed when the report came in.

async function suggestions() {
  const found = await optional(`/api/v1/cases/${caseId}/suggestions`).catch(() => null);
  if (found) return { ...found, source: "insights" };
  const first = reports[0];
  if (!first || !first.intake) return null;
  const names = new Map(choices.categories.map((c) => [c.code, c.name]));
  const routing = first.intake.routing || {};
  return {
    source: "intake",
    categories: (first.intake.suggestions || []).slice(0, 3).map((s) => ({ code: s.code, name: names.get(s.code) || s.code, confidence: s.confidence })),
    description: null,
    department: routing.department ? { code: routing.department, name: routing.department_name || routing.department, confidence: null, source: "rule" } : null,
  };
}

function confidenceBar(value) {
  const share = Math.max(0, Math.min(1, Number(value) || 0));
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${(share * 100).toFixed(0)}%`;
  return el("span", { class: "bar", title: percent(share) }, fill, el("span", { class: "bar-text" }, percent(share)));
}

async function drawSuggestions(item) {
  const body = document.getElementById("ai-body");
  const ai = await suggestions();
  if (!ai || (!ai.categories.length && !ai.department && !ai.description)) return unavailable(body, "ai.none");
  const allowed = new Set(item.allowed_actions);
  const parts = [];
  if (ai.categories.length) {
    parts.push(el("h3", {}, t("ai.categories")));
    parts.push(
      el("ol", { class: "suggestions" },
        ...ai.categories.map((category, i) =>
          el("li", { dataset: { code: category.code } },
            el("span", { class: "suggestion-name" }, `${category.code} ${category.name || ""}`,
              i === 0 && ai.auto_file_proposed ? el("span", { class: "badge badge-auto-file", title: t("ai.auto_file_hint"), dataset: { testid: "auto-file-proposed" } }, t("ai.auto_file")) : null),
            confidenceBar(category.confidence),
            allowed.has("file")
              ? el("button", { type: "button", class: i === 0 ? "primary small" : "small", dataset: { testid: `confirm-category-${category.code}` }, onclick: () => act("file", { category_code: category.code }) }, i === 0 ? t("ai.confirm") : t("ai.choose"))
              : null,
          ),
        ),
      ),
    );
    if (allowed.has("file")) {
      parts.push(el("button", { type: "button", class: "link-button", onclick: () => showForm("file", {}) }, t("ai.correct_category")));
    }
  }
  if (ai.description) {
    parts.push(el("h3", {}, t("ai.description")), el("p", { class: "ai-description" }, ai.description));
  }
  const proposals = [ai.department, ...(ai.learned_departments || []).map((d) => ({ ...d, source: "learned" }))]
    .filter(Boolean)
    .filter((d, i, all) => all.findIndex((o) => o.code === d.code) === i)
    .slice(0, 3);
  if (proposals.length) {
    parts.push(el("h3", {}, t("ai.department")));
    parts.push(
      el("ol", { class: "suggestions" },
        ...proposals.map((department, i) =>
          el("li", { class: "suggestion-department", dataset: { code: department.code } },
            el("span", { class: "suggestion-name" }, department.name || department.code),
            department.confidence !== null && department.confidence !== undefined ? confidenceBar(department.confidence) : null,
            department.source ? el("span", { class: "muted" }, t(`ai.source_${department.source}`)) : null,
            allowed.has("dispatch")
              ? el("button", { type: "button", class: i === 0 ? "primary small" : "small", dataset: { testid: i === 0 ? "dispatch-suggested" : `dispatch-${department.code}` }, onclick: () => act("dispatch", { department: department.code }) }, t("ai.dispatch"))
              : null,
          ),
        ),
      ),
    );
    if (allowed.has("dispatch")) {
      parts.push(el("button", { type: "button", class: "link-button", onclick: () => showForm("dispatch", { department: proposals[0].code }) }, t("ai.correct_department")));
    }
  } else if (ai.manual_centre) {
    parts.push(el("h3", {}, t("ai.department")), el("p", { class: "muted" }, ai.manual_centre.reason));
  }
  if (ai.hazard) {
    parts.push(el("p", { class: ai.hazard === "high" ? "notice notice-error" : "notice" }, t("ai.hazard", { level: t(`hazard.${ai.hazard}`) })));
  }
  if (ai.verification) {
    const check = ai.verification;
    parts.push(el("h3", {}, t("ai.verification")));
    if (check.ok && !check.flags.length) parts.push(el("p", { class: "notice notice-ok" }, t("ai.verification_ok")));
    for (const flag of check.flags) {
      parts.push(el("p", { class: flag.severity === "suspicious" ? "notice notice-error" : "notice" }, page.lang === "en" ? flag.en : flag.zh));
    }
  }
  if (ai.source === "intake") parts.push(el("p", { class: "muted" }, t("ai.from_intake")));
  put(body, ...parts);
}

// Actions

function done(updated, action) {
  const note = document.getElementById("action-done");
  note.textContent = t("action.done", { action: t(`action.${action}`), state: stateLabel(updated.state) });
  note.hidden = false;
  load();
}

async function act(action, body) {
  const note = document.getElementById("action-done");
  const form = document.getElementById("action-form");
  try {
    const updated = await perform(caseId, action, body);
    form.hidden = true;
    done(updated, action);
  } catch (error) {
    // A one-click action the API refuses opens its form, with the problem next to the field.
    showForm(action, body);
    showError(form, error);
    note.hidden = true;
  }
}

function showForm(action, defaults) {
  const form = document.getElementById("action-form");
  document.getElementById("action-done").hidden = true;
  const base = {};
  if (action === "approve_extension" && current.pending_extension) base.handle_due = current.pending_extension.until.slice(0, 16);
  openForm(form, caseId, action, { ...base, ...defaults }, done);
}

function drawActions(item) {
  const box = document.getElementById("case-actions");
  const actions = usable(item);
  if (!actions.length) return unavailable(box, "case.no_actions");
  put(box,
    ...actions.map((action) =>
      el("button", { type: "button", class: isPrimary(action) ? "primary" : "", dataset: { action, testid: `action-${action}` }, onclick: () => showForm(action, {}) }, t(`action.${action}`)),
    ),
  );
}

function missing() {
  document.getElementById("case-missing").hidden = false;
  document.getElementById("case").hidden = true;
}

async function load() {
  if (!caseId) return missing();
  let item;
  try {
    item = await api(`/api/v1/cases/${caseId}`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 422)) return missing();
    throw error;
  }
  current = item;
  if (gridNames === null) {
    const finest = finestGrid(item);
    const grid = finest ? await optional(`/api/v1/grids/${encodeURIComponent(finest)}`).catch(() => null) : null;
    gridNames = grid && grid.path ? grid.path : [];
  }
  const stored = await api(`/api/v1/cases/${caseId}/reports`);
  reports = stored.reports;
  document.getElementById("case").hidden = false;
  drawHeader(item);
  drawReports();
  drawTimeline(item);
  await drawPhotos();
  drawActions(item);
  await drawSuggestions(item);
  document.getElementById("case").dataset.loaded = item.state;
  drawMap(item);
}

loadChoices().then(load).catch((error) => console.warn(error));
