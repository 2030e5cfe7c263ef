// The operator console's queue: every case in the account's scope, or the manual-dispatch queue.

import { api, optional, subscribe, el, t, when, isOverdue, stateBadge, put } from "./core.js";
import { loadChoices, departmentName, categoryName } from "./workflow.js";

const PAGE_SIZE = 50;
const state = { queue: "all", offset: 0, items: [], next: null };
const table = document.querySelector("#queue tbody");
const form = document.getElementById("filters");

const gridNames = new Map(); // code → name, filled from the grid API as rows need them

function finestCode(path) {
  const levels = ["street", "community", "compound", "micro"];
  const found = levels.map((level) => path[level]).filter(Boolean);
  return found.length ? found[found.length - 1] : Object.values(path).pop() || null;
}

function gridText(path) {
  const code = finestCode(path);
  return code ? gridNames.get(code) || code : "–";
}

async function nameGrids(items) {
  const missing = [...new Set(items.map((item) => finestCode(item.grid_path || {})).filter((c) => c && !gridNames.has(c)))];
  await Promise.all(
    missing.map(async (code) => {
      const grid = await optional(`/api/v1/grids/${encodeURIComponent(code)}`).catch(() => null);
      gridNames.set(code, grid ? grid.name : code);
    }),
  );
}

function matches(item, q, onlyOverdue) {
  if (onlyOverdue && !isOverdue(item)) return false;
  if (!q) return true;
  const haystack = [
    String(item.id),
    item.category_code,
    item.category_name,
    categoryName(item.category_code),
    item.assignee_department,
    departmentName(item.assignee_department),
    gridText(item.grid_path || {}),
    ...Object.values(item.grid_path || {}),
    item.state,
    item.state_zh,
    t(`state.${item.state}`),
  ]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((word) => haystack.includes(word));
}

function draw() {
  const q = document.getElementById("filter-q").value.trim();
  const onlyOverdue = document.getElementById("filter-overdue").checked;
  const shown = state.items.filter((item) => matches(item, q, onlyOverdue));
  put(table,
    ...shown.map((item) => {
      const overdue = isOverdue(item);
      return el("tr", { dataset: { caseId: item.id }, class: overdue ? "overdue" : "" },
        el("td", {}, el("a", { href: `/console/cases/${item.id}` }, t("case.number", { id: item.id }))),
        el("td", {}, stateBadge(item.state), item.supervised ? el("span", { class: "badge badge-supervised" }, t("case.supervised")) : null),
        el("td", {}, item.category_code ? categoryName(item.category_code, item.category_name) : t("case.uncategorised")),
        el("td", {}, gridText(item.grid_path || {})),
        el("td", {}, departmentName(item.assignee_department)),
        el("td", {}, when(item.reported_at)),
        el("td", { class: overdue ? "late" : "" }, when(item.handle_due), overdue ? el("span", { class: "badge badge-overdue" }, t("case.overdue")) : null),
      );
    }),
  );
  document.getElementById("queue-empty").hidden = shown.length > 0;
  document.getElementById("prev").disabled = state.queue !== "all" || state.offset === 0;
  document.getElementById("next").disabled = state.queue !== "all" || state.next === null;
  document.getElementById("page-info").textContent =
    state.queue === "all" ? t("pager.range", { from: state.offset + 1, to: state.offset + state.items.length }) : t("pager.count", { count: state.items.length });
  table.closest("table").dataset.loaded = "true";
}

async function load() {
  table.closest("table").dataset.loaded = "false";
  if (state.queue === "manual") {
    state.items = await api("/api/v1/queue/manual");
    state.next = null;
  } else {
    const selected = document.getElementById("filter-state").value;
    const params = new URLSearchParams({ limit: PAGE_SIZE, offset: state.offset });
    if (selected) params.set("state", selected);
    const page = await api(`/api/v1/cases?${params}`);
    state.items = page.items;
    state.next = page.next_offset;
  }
  await nameGrids(state.items);
  document.getElementById("new-cases").hidden = true;
  draw();
}

document.querySelectorAll("[data-queue]").forEach((tab) => {
  tab.addEventListener("click", () => {
    document.querySelectorAll("[data-queue]").forEach((other) => other.setAttribute("aria-selected", String(other === tab)));
    state.queue = tab.dataset.queue;
    state.offset = 0;
    load();
  });
});
document.getElementById("filter-state").addEventListener("change", () => {
  state.offset = 0;
  load();
});
document.getElementById("filter-q").addEventListener("input", draw);
document.getElementById("filter-overdue").addEventListener("change", draw);
document.getElementById("refresh").addEventListener("click", load);
document.getElementById("show-new").addEventListener("click", load);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  draw();
});
document.getElementById("prev").addEventListener("click", () => {
  state.offset = Math.max(0, state.offset - PAGE_SIZE);
  load();
});
document.getElementById("next").addEventListener("click", () => {
  if (state.next !== null) state.offset = state.next;
  load();
});
document.addEventListener("gg:online", load);

// New cases while the operator works: offer to refresh rather than move rows under the pointer.
subscribe("/api/v1/analytics/live", (event) => {
  if (!state.items.some((item) => item.id === event.id)) document.getElementById("new-cases").hidden = false;
});

loadChoices().then(load);
