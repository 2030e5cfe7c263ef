// The operation-centre dashboard: one scope (city, district, street…), its figures, map and panels.

import { api, optional, ApiError, subscribe, el, t, page, percent, number, when, isOverdue, stateBadge, stateLabel, unavailable, put } from "./core.js";
import { createMap } from "./map.js";
import { bars, lines, ring } from "./charts.js";

const scope = page.scope || page.account.scope_code || "";
const query = scope ? `scope=${encodeURIComponent(scope)}` : "";
const day = page.now.slice(0, 10);
const month = page.now.slice(0, 7);
const LATEST = 12;

let map = null;
const latest = new Map(); // case id → row data, newest first when drawn
const categoryNames = new Map();
let refreshTimer = null;

function withScope(path, extra = "") {
  const parts = [query, extra].filter(Boolean).join("&");
  return parts ? `${path}?${parts}` : path;
}

function drill(code) {
  if (code && code !== scope) window.location.assign(`/dashboard?scope=${encodeURIComponent(code)}`);
}

function refuse() {
  document.getElementById("dashboard").hidden = true;
  document.getElementById("scope-refused").hidden = false;
}

function panel(name) {
  return document.querySelector(`[data-panel="${name}"]`);
}

function markUnavailable(name, body) {
  const section = panel(name);
  section.dataset.state = "unavailable";
  unavailable(body || section.querySelector(".chart, .list, .mini-kpis, .briefing, tbody") || section);
}

// Header: breadcrumb and title from the grid detail.

async function header() {
  const crumbs = document.getElementById("breadcrumb");
  document.getElementById("scope-day").textContent = day;
  if (!scope) {
    document.getElementById("scope-title").textContent = t("dashboard.title_city");
    return null;
  }
  let grid;
  try {
    grid = await optional(`/api/v1/grids/${encodeURIComponent(scope)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return "refused";
    throw error;
  }
  if (!grid) {
    document.getElementById("scope-title").textContent = scope;
    return null;
  }
  const path = grid.path || [];
  put(crumbs,
    ...path.flatMap((step, i) => [
      i ? el("span", { class: "sep" }, "›") : null,
      step.code === grid.code
        ? el("span", { "aria-current": "page" }, step.name)
        : el("a", { href: `/dashboard?scope=${encodeURIComponent(step.code)}` }, step.name),
    ]),
  );
  document.getElementById("scope-title").textContent = `${grid.name} · ${t(`level.${grid.level}`)}`;
  return grid;
}

// Figures

function kpi(name, value) {
  const node = document.querySelector(`[data-kpi="${name}"] .kpi-value`);
  node.textContent = value;
}

async function overview() {
  let data;
  try {
    data = await optional(withScope("/api/v1/analytics/overview", `day=${day}`));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return "refused";
    throw error;
  }
  if (!data) {
    document.getElementById("kpis").dataset.state = "unavailable";
    for (const name of ["channels", "states"]) markUnavailable(name);
    return null;
  }
  if (data.scope && data.scope.name && !scope) {
    document.getElementById("scope-title").textContent = `${data.scope.name} · ${t(`level.${data.scope.level}`)}`;
  }
  kpi("today_reports", number(data.today.reports));
  kpi("today_cases", number(data.today.cases));
  kpi("open", number(data.open));
  kpi("overdue", number(data.overdue));
  kpi("on_time_close_rate", percent(data.on_time_close_rate));
  kpi("close_rate", percent(data.close_rate));
  kpi("satisfaction_rate", percent(data.satisfaction_rate));
  document.querySelector('[data-kpi="overdue"]').classList.toggle("kpi-alert", data.overdue > 0);
  const channels = Object.entries(data.today.by_channel || {}).filter(([, n]) => n > 0);
  bars(document.getElementById("chart-channels"), channels.map(([c]) => t(`channel.${c}`)), channels.map(([, n]) => n), { horizontal: true });
  const states = Object.entries(data.by_state || {}).filter(([, n]) => n > 0);
  ring(document.getElementById("chart-states"), states.map(([s, n]) => [stateLabel(s), n]));
  return data;
}

async function trend() {
  const data = await optional(withScope("/api/v1/analytics/trend", "days=30"));
  if (!data) return markUnavailable("trend");
  const days = data.days || [];
  lines(document.getElementById("chart-trend"), days.map((d) => d.day), [
    { name: t("trend.created"), values: days.map((d) => d.created) },
    { name: t("trend.closed"), values: days.map((d) => d.closed) },
    { name: t("trend.closed_on_time"), values: days.map((d) => d.closed_on_time) },
    { name: t("trend.overdue_open"), values: days.map((d) => d.overdue_open) },
  ]);
}

function grade(value) {
  return el("span", { class: `grade grade-${value || "none"}` }, value || "–");
}

async function rankings() {
  const children = await optional(withScope("/api/v1/analytics/children", `month=${month}`));
  const body = document.querySelector("#rank-children tbody");
  if (!children) {
    markUnavailable("children", body);
  } else if (!children.rows.length) {
    unavailable(body, "common.no_data");
  } else {
    put(body,
      ...children.rows.map((row) =>
        el("tr", {},
          el("td", {}, el("a", { href: `/dashboard?scope=${encodeURIComponent(row.code)}` }, row.name)),
          el("td", { class: "num" }, number(row.filed)),
          el("td", { class: "num" }, number(row.closed)),
          el("td", { class: "num" }, percent(row.close_rate)),
          el("td", { class: "num" }, percent(row.on_time_close_rate)),
          el("td", { class: "num" }, percent(row.supervision_rate)),
          el("td", { class: "num" }, row.score === null || row.score === undefined ? "–" : Number(row.score).toFixed(1)),
          el("td", {}, grade(row.grade)),
        ),
      ),
    );
  }
  document.getElementById("formula-children").textContent = (children && children.formula) || t("common.unavailable");

  const departments = await optional(withScope("/api/v1/analytics/departments", `month=${month}`));
  const dbody = document.querySelector("#rank-departments tbody");
  if (!departments) {
    markUnavailable("departments", dbody);
  } else if (!departments.rows.length) {
    unavailable(dbody, "common.no_data");
  } else {
    put(dbody,
      ...departments.rows.map((row) =>
        el("tr", {},
          el("td", {}, row.department_name || row.name || row.department),
          el("td", { class: "num" }, number(row.filed)),
          el("td", { class: "num" }, number(row.closed)),
          el("td", { class: "num" }, percent(row.close_rate)),
          el("td", { class: "num" }, percent(row.on_time_handle_rate)),
          el("td", { class: "num" }, percent(row.rework_rate)),
          el("td", { class: "num" }, row.score === null || row.score === undefined ? "–" : Number(row.score).toFixed(1)),
          el("td", {}, grade(row.grade)),
        ),
      ),
    );
  }
  document.getElementById("formula-departments").textContent = (departments && departments.formula) || t("common.unavailable");
}

async function warnings() {
  const data = await optional(withScope("/api/v1/analytics/early-warning"));
  const list = document.getElementById("warnings");
  if (!data) return markUnavailable("warnings", list);
  if (!data.alerts.length) return unavailable(list, "dashboard.no_warnings");
  put(list,
    ...data.alerts.map((alert) =>
      el("li", { class: "warning" },
        el("strong", {}, alert.title),
        el("span", { class: "muted" }, ` · ${when(alert.started_at)} · ${t("dashboard.warning_count", { count: alert.count })}`),
        alert.grid_code ? el("a", { href: `/dashboard?scope=${encodeURIComponent(alert.grid_code)}`, class: "sep-left" }, alert.grid_name || alert.grid_code) : null,
        alert.detail ? el("p", { class: "muted" }, typeof alert.detail === "string" ? alert.detail : JSON.stringify(alert.detail)) : null,
      ),
    ),
  );
}

async function party() {
  const data = await optional(withScope("/api/v1/analytics/party"));
  const box = document.getElementById("party");
  if (!data) return markUnavailable("party", box);
  put(box,
    ...[["organisations", data.organisations], ["members", data.members], ["tasks_done", data.tasks_done], ["tasks_open", data.tasks_open]].map(([name, value]) =>
      el("div", { class: "kpi kpi-small" }, el("span", { class: "kpi-value" }, number(value)), el("span", { class: "kpi-label" }, t(`party.${name}`))),
    ),
  );
}

async function briefing() {
  const data = await optional(withScope("/api/v1/briefing/daily", `day=${day}`));
  const box = document.getElementById("briefing");
  if (!data || !data.text) return markUnavailable("briefing", box);
  put(box,
    ...data.text.split(/\n+/).filter(Boolean).map((line) => el("p", {}, line)),
    data.rewritten_by ? el("p", { class: "muted" }, t("dashboard.briefing_by_model")) : null,
  );
}

// Latest cases: the scope's newest, then each one the live stream brings.

function inScope(item) {
  if (!scope) return true;
  const path = item.grid_path || {};
  return Object.values(path).includes(scope) || item.street_code === scope;
}

function drawLatest() {
  const list = document.getElementById("latest");
  const rows = [...latest.values()].sort((a, b) => (b.reported_at || "").localeCompare(a.reported_at || "") || b.id - a.id).slice(0, LATEST);
  if (!rows.length) return unavailable(list, "common.no_data");
  put(list,
    ...rows.map((row) =>
      el("li", { dataset: { caseId: row.id }, class: row.fresh ? "fresh" : "" },
        el("a", { href: `/console/cases/${row.id}` }, t("case.number", { id: row.id })),
        " ",
        stateBadge(row.state),
        " ",
        row.overdue ? el("span", { class: "badge badge-overdue" }, t("case.overdue")) : null,
        el("span", { class: "muted" }, ` ${categoryNames.get(row.category_code) || row.category_name || row.category_code || ""} · ${when(row.reported_at)}`),
      ),
    ),
  );
}

async function loadCategoryNames() {
  const found = await optional("/api/v1/categories?leaf=true").catch(() => null);
  for (const c of (found && found.rows) || []) categoryNames.set(c.code, page.lang === "en" ? c.name_en : c.name_zh);
}

async function latestCases() {
  const data = await api("/api/v1/cases?limit=50");
  for (const item of data.items.filter(inScope)) {
    latest.set(item.id, { ...item, overdue: isOverdue(item) });
  }
  drawLatest();
}

async function mapPanel(grid) {
  const container = document.getElementById("dashboard-map");
  map = await createMap(container, { bounds: grid && grid.bbox ? grid.bbox : null, onGridClick: (p) => drill(p.code) });
  if (!map) return;
  container.dataset.ready = "true";
  document.querySelectorAll("#layer-toggles input").forEach((box) => {
    box.addEventListener("change", () => map.toggle(box.dataset.layer, box.checked));
  });
  const count = document.getElementById("map-count");
  map.onView(async (bounds) => {
    const bbox = bounds.map((v) => v.toFixed(5)).join(",");
    const cases = await optional(withScope("/api/v1/analytics/cases-map", `bbox=${bbox}&limit=5000`)).catch(() => null);
    if (cases) {
      map.setCases(cases);
      count.textContent = t("dashboard.map_count", { count: cases.features.length });
      container.dataset.cases = String(cases.features.length);
    } else {
      count.textContent = t("dashboard.map_cases_unavailable");
    }
  });
  const people = await optional(withScope("/api/v1/people", "role=grid_worker&on_duty=1")).catch(() => null);
  if (people && people.rows) map.setStaff(people.rows.filter((p) => p.lon !== null && p.lat !== null && p.lon !== undefined));
  for (const box of document.querySelectorAll("#layer-toggles input")) map.toggle(box.dataset.layer, box.checked);
}

function live() {
  const state = document.getElementById("live-state");
  const source = subscribe(
    withScope("/api/v1/analytics/live"),
    (event) => {
      if (!inScope(event)) return;
      const known = latest.get(event.id) || {};
      latest.set(event.id, { ...known, ...event, reported_at: known.reported_at || event.created_at, fresh: true });
      drawLatest();
      // The figures follow a moment later, once a burst of events has passed.
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => overview().catch(() => {}), 1500);
      if (map) {
        const shown = map.addCase({ type: "Feature", geometry: { type: "Point", coordinates: [event.lon, event.lat] }, properties: { id: event.id, state: event.state, overdue: Boolean(event.overdue), category_code: event.category_code, created_at: event.created_at } });
        document.getElementById("map-count").textContent = t("dashboard.map_count", { count: shown });
      }
    },
    {
      onUnavailable: () => {
        state.dataset.state = "off";
        state.textContent = t("dashboard.live_off");
      },
    },
  );
  if (source) {
    source.addEventListener("open", () => {
      state.dataset.state = "on";
      state.textContent = t("dashboard.live_on");
    });
  }
}

async function main() {
  if (page.scope_refused) {
    refuse();
    return;
  }
  const [grid, figures] = await Promise.all([header(), overview()]);
  if (grid === "refused" || figures === "refused") {
    refuse();
    return;
  }
  document.getElementById("dashboard").dataset.scope = scope;
  await loadCategoryNames();
  await Promise.all([latestCases(), trend(), rankings(), warnings(), party(), briefing(), mapPanel(grid)]);
  live();
  document.getElementById("dashboard").dataset.loaded = "true";
}

document.addEventListener("gg:online", () => {
  latestCases().catch(() => {});
  overview().catch(() => {});
});
document.addEventListener("gg:offline", () => {
  const state = document.getElementById("live-state");
  if (state.dataset.state === "on") {
    state.dataset.state = "connecting";
    state.textContent = t("dashboard.live_connecting");
  }
});

main().catch((error) => {
  console.warn(error);
});
