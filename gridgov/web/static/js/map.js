// Maps with MapLibre GL, served by this app (no CDN). Without the library, WebGL or the grid
// tiles, the panel says so instead of staying blank.

import { page, t, optional } from "./core.js";

const LIBRARY = "/static/vendor/maplibre-gl/maplibre-gl.mjs";
const LIBRARY_CSS = "/static/vendor/maplibre-gl/maplibre-gl.css";
const TILEJSON = "/tiles/grids.json";
const ZHENGZHOU = [113.65, 34.75];

// Source layers of the grid tiles, coarse to fine, with how each is drawn.
const GRID_LEVELS = [
  { id: "district", line: "#1f4e79", width: 2.2, fill: 0.04 },
  { id: "street", line: "#2f6fad", width: 1.6, fill: 0.05 },
  { id: "community", line: "#4f8fc9", width: 1.1, fill: 0.05 },
  { id: "compound", line: "#7fa9d4", width: 0.8, fill: 0.04 },
  { id: "micro", line: "#a9c3df", width: 0.5, fill: 0.0, toggle: "micro" },
  { id: "special", line: "#d46b08", width: 1.4, fill: 0.12, toggle: "special", fillColor: "#fa8c16" },
];
// Fallback zoom bands when the TileJSON does not give them per layer.
const DEFAULT_ZOOMS = { district: [0, 11], street: [9, 13], community: [11, 15], compound: [13, 17], micro: [15, 22], special: [12, 22] };

let loading = null;

function loadLibrary() {
  if (!loading) {
    loading = (async () => {
      if (!document.querySelector(`link[href="${LIBRARY_CSS}"]`)) {
        const link = document.createElement("link");
        link.rel = "stylesheet";
        link.href = LIBRARY_CSS;
        document.head.append(link);
      }
      return import(LIBRARY);
    })();
  }
  return loading;
}

function showUnavailable(container, reason) {
  const wrap = container.closest(".map-wrap") || container.parentElement;
  container.hidden = true;
  const note = wrap.querySelector(".map-unavailable");
  if (note) {
    note.hidden = false;
    note.dataset.reason = reason;
  }
}

function webglAvailable() {
  try {
    const canvas = document.createElement("canvas");
    return Boolean(canvas.getContext("webgl2") || canvas.getContext("webgl"));
  } catch (_) {
    return false;
  }
}

function baseStyle() {
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#eef2f6" } }],
  };
  if (page.basemap) {
    style.sources.basemap = { type: "raster", tiles: [page.basemap], tileSize: 256 };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  return style;
}

/**
 * A map in `container`, or null when one cannot be shown (the panel then says so).
 * `grids`: draw the grid tiles; `onGridClick(properties)`: a click on a grid.
 */
export async function createMap(container, { center = null, zoom = 10, bounds = null, grids = true, onGridClick = null, interactive = true } = {}) {
  let lib;
  try {
    lib = await loadLibrary();
  } catch (_) {
    showUnavailable(container, "library");
    return null;
  }
  if (!webglAvailable()) {
    showUnavailable(container, "webgl");
    return null;
  }
  let map;
  try {
    map = new lib.Map({
      container,
      style: baseStyle(),
      center: center || ZHENGZHOU,
      zoom,
      interactive,
      attributionControl: false,
      maxZoom: 19,
    });
  } catch (_) {
    showUnavailable(container, "webgl");
    return null;
  }
  if (interactive) map.addControl(new lib.NavigationControl({ showCompass: false }), "top-right");
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once("load", resolve)));
  // Tests and screenshots wait for this: the map has drawn everything it has asked for.
  map.on("idle", () => (container.dataset.idle = "true"));
  map.on("dataloading", () => (container.dataset.idle = "false"));
  const view = new MapView(lib, map, container);
  if (bounds) view.fit(bounds);
  // Without a place to show, the whole grid layer is the view.
  if (grids) await view.addGrids(onGridClick, { fit: !bounds && !center });
  return view;
}

class MapView {
  constructor(lib, map, container) {
    this.lib = lib;
    this.map = map;
    this.container = container;
    this.popup = null;
    this.gridsShown = false;
  }

  fit(bounds, padding = 24) {
    const [w, s, e, n] = bounds;
    if ([w, s, e, n].some((v) => typeof v !== "number" || Number.isNaN(v))) return;
    if (w === e && s === n) {
      this.map.jumpTo({ center: [w, s], zoom: 16 });
      return;
    }
    this.map.fitBounds([[w, s], [e, n]], { padding, duration: 0, maxZoom: 17 });
  }

  async addGrids(onGridClick, { fit = false } = {}) {
    const tilejson = await optional(TILEJSON).catch(() => null);
    if (!tilejson || !Array.isArray(tilejson.tiles) || !tilejson.tiles.length) {
      this.note(t("map.grids_unavailable"));
      return;
    }
    if (fit && Array.isArray(tilejson.bounds)) this.fit(tilejson.bounds);
    const zooms = {};
    for (const layer of tilejson.vector_layers || []) zooms[layer.id] = [layer.minzoom ?? 0, layer.maxzoom ?? 22];
    // Kept as written: the {z}/{x}/{y} placeholders must not be URL-encoded.
    const tiles = tilejson.tiles.map((url) => (/^https?:/.test(url) ? url : `${location.origin}${url}`));
    this.map.addSource("grids", { type: "vector", tiles, minzoom: tilejson.minzoom ?? 0, maxzoom: tilejson.maxzoom ?? 16 });
    const fills = [];
    for (const level of GRID_LEVELS) {
      const [minzoom, maxzoom] = zooms[level.id] || DEFAULT_ZOOMS[level.id];
      const visibility = level.toggle === "micro" ? "none" : "visible";
      this.map.addLayer({
        id: `grid-${level.id}-fill`, type: "fill", source: "grids", "source-layer": level.id, minzoom, maxzoom: maxzoom + 1,
        layout: { visibility },
        paint: { "fill-color": level.fillColor || level.line, "fill-opacity": level.fill },
      });
      this.map.addLayer({
        id: `grid-${level.id}-line`, type: "line", source: "grids", "source-layer": level.id, minzoom, maxzoom: maxzoom + 1,
        layout: { visibility },
        paint: { "line-color": level.line, "line-width": level.width },
      });
      fills.push(`grid-${level.id}-fill`);
    }
    this.gridsShown = true;
    this.map.on("mousemove", (event) => {
      const hit = this.map.queryRenderedFeatures(event.point, { layers: fills.filter((id) => this.map.getLayer(id)) });
      this.map.getCanvas().style.cursor = hit.length && onGridClick ? "pointer" : "";
      this.hover(hit[0], event.lngLat);
    });
    if (onGridClick) {
      this.map.on("click", (event) => {
        const hit = this.map.queryRenderedFeatures(event.point, { layers: fills.filter((id) => this.map.getLayer(id)) });
        // The finest regular grid under the pointer: specials overlap and are not a scope.
        const regular = hit.filter((f) => f.sourceLayer !== "special");
        const chosen = regular.length ? regular[regular.length - 1] : null;
        if (chosen && chosen.properties && chosen.properties.code) onGridClick(chosen.properties);
      });
    }
  }

  hover(feature, lngLat) {
    if (!feature) {
      if (this.popup) this.popup.remove();
      this.popup = null;
      return;
    }
    const p = feature.properties || {};
    const text = `${p.name || p.code} · ${t(`level.${p.level || feature.sourceLayer}`)}`;
    if (!this.popup) this.popup = new this.lib.Popup({ closeButton: false, closeOnClick: false, className: "grid-tip" });
    this.popup.setLngLat(lngLat).setText(text).addTo(this.map);
  }

  note(text) {
    const wrap = this.container.closest(".map-wrap");
    if (!wrap || wrap.querySelector(".map-note")) return;
    const note = document.createElement("p");
    note.className = "map-note";
    note.textContent = text;
    wrap.append(note);
  }

  toggle(name, visible) {
    const value = visible ? "visible" : "none";
    for (const layer of this.map.getStyle().layers) {
      if (layer.id.startsWith(`grid-${name}-`) || layer.id === `${name}-layer` || layer.id.startsWith(`${name}-layer-`)) {
        this.map.setLayoutProperty(layer.id, "visibility", value);
      }
    }
  }

  /** Case points coloured by state and overdue, with a heatmap when zoomed out. */
  setCases(collection) {
    this.caseFeatures = [...collection.features];
    const source = this.map.getSource("cases");
    if (source) {
      source.setData(collection);
      return;
    }
    this.map.addSource("cases", { type: "geojson", data: collection });
    this.map.addLayer({
      id: "heatmap-layer", type: "heatmap", source: "cases", maxzoom: 14,
      paint: {
        "heatmap-weight": ["case", ["==", ["get", "overdue"], true], 1, 0.5],
        "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 8, 10, 14, 24],
        "heatmap-opacity": ["interpolate", ["linear"], ["zoom"], 11, 0.75, 14, 0],
      },
    });
    this.map.addLayer({
      id: "cases-layer", type: "circle", source: "cases",
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 9, 2.5, 15, 6],
        "circle-color": [
          "case",
          ["==", ["get", "overdue"], true], "#d4380d",
          ["in", ["get", "state"], ["literal", ["closed", "evaluated", "rejected", "merged"]]], "#8c8c8c",
          "#1677ff",
        ],
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 1,
      },
    });
  }

  /** One case added or moved on (a live event); the others stay. */
  addCase(feature) {
    const others = (this.caseFeatures || []).filter((f) => f.properties.id !== feature.properties.id);
    this.setCases({ type: "FeatureCollection", features: [...others, feature] });
    return this.caseFeatures.length;
  }

  /** People on duty as green points. */
  setStaff(points) {
    const collection = {
      type: "FeatureCollection",
      features: points.map((p) => ({ type: "Feature", geometry: { type: "Point", coordinates: [p.lon, p.lat] }, properties: { name: p.name, role: p.role } })),
    };
    const source = this.map.getSource("staff");
    if (source) {
      source.setData(collection);
      return;
    }
    this.map.addSource("staff", { type: "geojson", data: collection });
    this.map.addLayer({
      id: "staff-layer", type: "circle", source: "staff",
      paint: { "circle-radius": 5, "circle-color": "#389e0d", "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 },
    });
  }

  /** One outlined area (a grid's GeoJSON geometry). */
  setOutline(feature) {
    this.map.addSource("outline", { type: "geojson", data: feature });
    this.map.addLayer({ id: "outline-fill", type: "fill", source: "outline", paint: { "fill-color": "#1677ff", "fill-opacity": 0.06 } });
    this.map.addLayer({ id: "outline-line", type: "line", source: "outline", paint: { "line-color": "#1677ff", "line-width": 2 } });
  }

  /** A draggable-by-click pin; `onMove([lon, lat])` when the user places it. */
  pin(lngLat, { movable = false, onMove = null } = {}) {
    if (!this.marker) {
      this.marker = new this.lib.Marker({ color: "#d4380d", draggable: movable });
      if (movable && onMove) this.marker.on("dragend", () => {
        const p = this.marker.getLngLat();
        onMove([p.lng, p.lat]);
      });
    }
    if (lngLat) this.marker.setLngLat(lngLat).addTo(this.map);
    if (movable && onMove && !this.clickBound) {
      this.clickBound = true;
      this.map.on("click", (event) => {
        this.marker.setLngLat(event.lngLat).addTo(this.map);
        onMove([event.lngLat.lng, event.lngLat.lat]);
      });
    }
  }

  /** The visible area as [west, south, east, north]. */
  bounds() {
    const b = this.map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  }

  /** Call `handler(bounds)` after the view settles, and once now. */
  onView(handler) {
    let timer = null;
    this.map.on("moveend", () => {
      clearTimeout(timer);
      timer = setTimeout(() => handler(this.bounds()), 250);
    });
    handler(this.bounds());
  }

  center(lngLat, zoom = 16) {
    this.map.jumpTo({ center: lngLat, zoom });
  }
}
