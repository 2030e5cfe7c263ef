// Residents (no account): report a problem with a photo and a place, see what is already reported
// nearby, follow a case with its number and phone digits, and rate it once closed.

import { api, el, t, page, when, showError, clearErrors, fieldError, stateBadge, put } from "./core.js";
import { createMap } from "./map.js";

const NEARBY_METRES = 300;
const REMEMBERED = "gridgov.resident.cases";
const reportForm = document.getElementById("report-form");
const followForm = document.getElementById("follow-form");
const rateForm = document.getElementById("rate-form");
let map = null;
let submission = crypto.randomUUID();
let followed = null; // {case_id, phone_last4}
let place = null; // [lon, lat] chosen before the map was ready

// Tabs

function showTab(name) {
  document.querySelectorAll("[data-tab]").forEach((tab) => tab.setAttribute("aria-selected", String(tab.dataset.tab === name)));
  document.getElementById("tab-report").hidden = name !== "report";
  document.getElementById("tab-follow").hidden = name !== "follow";
}
document.querySelectorAll("[data-tab]").forEach((tab) => tab.addEventListener("click", () => showTab(tab.dataset.tab)));

// Categories

async function categories() {
  const select = document.getElementById("service_code");
  let services = [];
  try {
    services = await api("/open311/v2/services.json");
  } catch (error) {
    fieldError(reportForm, "service_code", error.message);
    return;
  }
  const groups = new Map();
  for (const s of services) {
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group).push(s);
  }
  for (const [group, members] of groups) {
    select.append(el("optgroup", { label: group || "" }, ...members.map((s) => el("option", { value: s.service_code }, s.service_name))));
  }
}

// Place: a pin on the map, the phone's position, or typed coordinates.

function metres(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}

function setPlace([lon, lat], { fromMap = false } = {}) {
  place = [lon, lat];
  document.getElementById("lon").value = lon.toFixed(6);
  document.getElementById("lat").value = lat.toFixed(6);
  document.getElementById("where").textContent = t("resident.pinned", { lon: lon.toFixed(5), lat: lat.toFixed(5) });
  if (map && !fromMap) {
    map.pin([lon, lat]);
    map.center([lon, lat]);
  }
  nearby([lon, lat]);
}

async function nearby(point) {
  const box = document.getElementById("nearby");
  const list = document.getElementById("nearby-list");
  let requests = [];
  try {
    requests = await api("/open311/v2/requests.json?status=open&extensions=true");
  } catch (_) {
    box.hidden = true;
    return;
  }
  const close = requests
    .filter((r) => typeof r.lat === "number" && typeof r.long === "number")
    .map((r) => ({ ...r, distance: metres(point, [r.long, r.lat]) }))
    .filter((r) => r.distance <= NEARBY_METRES)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, 5);
  box.hidden = close.length === 0;
  put(list,
    ...close.map((r) =>
      el("li", { dataset: { caseId: r.service_request_id } },
        el("strong", {}, t("case.number", { id: r.service_request_id }), " ", r.service_name || r.service_code),
        " ",
        r.extended_attributes ? stateBadge(r.extended_attributes.state) : null,
        el("span", { class: "muted" }, ` · ${t("resident.metres", { metres: Math.round(r.distance) })} · ${when(r.requested_datetime)}`),
        r.description ? el("p", { class: "muted" }, r.description) : null,
        el("button", { type: "button", class: "small", onclick: () => sameProblem(r) }, t("resident.is_this_it")),
      ),
    ),
  );
}

function sameProblem(request) {
  const note = document.getElementById("reported");
  put(note, el("p", {}, t("resident.already_reported", { id: request.service_request_id, status: request.status_notes || request.status })));
  note.hidden = false;
  note.scrollIntoView({ block: "nearest" });
}

function useLocation() {
  const where = document.getElementById("where");
  if (!navigator.geolocation) {
    fieldError(reportForm, "location", t("form.no_geolocation"));
    return;
  }
  where.textContent = t("form.locating");
  navigator.geolocation.getCurrentPosition(
    (position) => setPlace([position.coords.longitude, position.coords.latitude]),
    () => {
      where.textContent = t("resident.pin_hint");
      fieldError(reportForm, "location", t("form.geolocation_refused"));
    },
    { enableHighAccuracy: true, timeout: 10000 },
  );
}

async function mapPanel() {
  map = await createMap(document.getElementById("resident-map"), { zoom: 11, grids: true });
  if (!map) return;
  document.getElementById("resident-map").dataset.ready = "true";
  map.pin(null, { movable: true, onMove: (point) => setPlace(point, { fromMap: true }) });
  if (place) {
    map.pin(place);
    map.center(place);
  }
}

// Reporting

function remember(caseId, phone) {
  const digits = phone.replace(/\D/g, "");
  const last4 = digits.slice(-4);
  try {
    const known = JSON.parse(localStorage.getItem(REMEMBERED) || "[]").filter((c) => c.case_id !== caseId);
    known.unshift({ case_id: caseId, phone_last4: last4 });
    localStorage.setItem(REMEMBERED, JSON.stringify(known.slice(0, 10)));
  } catch (_) {
    // private browsing: nothing remembered
  }
  document.getElementById("case_id").value = caseId;
  document.getElementById("phone_last4").value = last4;
}

function reportAnother() {
  reportForm.reset();
  reportForm.hidden = false;
  document.getElementById("reported").hidden = true;
  document.getElementById("where").textContent = t("resident.pin_hint");
  place = null;
}

reportForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(reportForm);
  const data = new FormData(reportForm);
  data.set("submission_id", submission);
  const photo = document.getElementById("photo");
  if (!photo.files.length) data.delete("photo");
  const button = reportForm.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const receipt = await api("/resident/reports", { method: "POST", form: data, retry: true });
    const note = document.getElementById("reported");
    if (receipt.case_id) {
      remember(receipt.case_id, String(data.get("phone") || ""));
      put(note,
        el("p", {}, el("strong", { dataset: { caseId: receipt.case_id } }, t("resident.reported", { id: receipt.case_id }))),
        el("p", {}, receipt.duplicate_of ? t("resident.joined", { id: receipt.case_id }) : t("resident.follow_hint")),
        el("button", { type: "button", class: "small", onclick: () => showTab("follow") }, t("resident.tab_follow")),
      );
    } else {
      put(note, el("p", {}, t("resident.waiting", { token: receipt.token })));
    }
    note.append(el("button", { type: "button", class: "small", onclick: reportAnother }, t("resident.another")));
    note.hidden = false;
    reportForm.hidden = true;
    document.getElementById("nearby").hidden = true;
    note.scrollIntoView({ block: "nearest" });
    submission = crypto.randomUUID();
  } catch (error) {
    showError(reportForm, error);
  } finally {
    button.disabled = false;
  }
});

// Following and rating

function drawFollowed(view) {
  document.getElementById("followed").hidden = false;
  const badge = document.getElementById("followed-state");
  badge.replaceWith(Object.assign(stateBadge(view.state), { id: "followed-state" }));
  // The API says it in both languages, Chinese first: the page shows the visitor's.
  const [zh, en] = String(view.status_notes || "").split(" / ");
  document.getElementById("followed-notes").textContent = page.lang === "en" && en ? en : zh;
  put(document.getElementById("followed-timeline"),
    ...view.timeline.map((entry) =>
      el("li", {},
        el("time", { datetime: entry.at }, when(entry.at)),
        el("strong", {}, t(`action.${entry.action}`)),
        entry.department ? el("span", { class: "muted" }, ` · ${entry.department}`) : null,
        entry.note ? el("p", {}, entry.note) : null,
      ),
    ),
  );
  rateForm.hidden = !view.may_rate;
  const rated = document.getElementById("rated");
  if (view.satisfaction) {
    rated.textContent = t("resident.rated", { satisfaction: t(`satisfaction.${view.satisfaction}`) });
    rated.hidden = false;
  } else {
    rated.hidden = true;
  }
}

followForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(followForm);
  const caseId = followForm.elements.namedItem("case_id").value.trim();
  const last4 = followForm.elements.namedItem("phone_last4").value.trim();
  if (!caseId) {
    fieldError(followForm, "case_id", t("form.required"));
    return;
  }
  try {
    const view = await api(`/api/v1/residents/cases/${encodeURIComponent(caseId)}/follow`, { method: "POST", body: { phone_last4: last4 }, retry: true });
    followed = { case_id: caseId, phone_last4: last4 };
    drawFollowed(view);
  } catch (error) {
    document.getElementById("followed").hidden = true;
    showError(followForm, error);
  }
});

rateForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors(rateForm);
  const chosen = rateForm.querySelector("input[name=satisfaction]:checked");
  const body = { phone_last4: followed.phone_last4, satisfaction: chosen ? chosen.value : "" };
  const comment = rateForm.elements.namedItem("comment").value.trim();
  if (comment) body.comment = comment;
  try {
    await api(`/api/v1/residents/cases/${encodeURIComponent(followed.case_id)}/rating`, { method: "POST", body });
    const view = await api(`/api/v1/residents/cases/${encodeURIComponent(followed.case_id)}/follow`, { method: "POST", body: { phone_last4: followed.phone_last4 }, retry: true });
    drawFollowed(view);
  } catch (error) {
    showError(rateForm, error);
  }
});

function recall() {
  try {
    const known = JSON.parse(localStorage.getItem(REMEMBERED) || "[]");
    if (known.length) {
      document.getElementById("case_id").value = known[0].case_id;
      document.getElementById("phone_last4").value = known[0].phone_last4;
    }
  } catch (_) {
    // nothing remembered
  }
}

document.getElementById("use-location").addEventListener("click", useLocation);
for (const id of ["lon", "lat"]) {
  document.getElementById(id).addEventListener("change", () => {
    const lon = Number(document.getElementById("lon").value);
    const lat = Number(document.getElementById("lat").value);
    if (Number.isFinite(lon) && Number.isFinite(lat) && lon && lat) setPlace([lon, lat]);
  });
}
if (new URLSearchParams(location.search).get("tab") === "follow") showTab("follow");
recall();
Promise.all([categories(), mapPanel()])
  .then(() => (document.body.dataset.loaded = "true"))
  .catch((error) => console.warn(error));
