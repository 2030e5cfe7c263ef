// Charts with ECharts, served by this app; without it a chart panel says "not available".

import { unavailable, page } from "./core.js";

const LIBRARY = "/static/vendor/echarts/echarts.min.js";
const COLOURS = ["#1677ff", "#13c2c2", "#52c41a", "#faad14", "#eb2f96", "#722ed1", "#fa541c", "#2f54eb", "#8c8c8c"];
let loading = null;

function loadLibrary() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = LIBRARY;
      script.onload = () => (window.echarts ? resolve(window.echarts) : reject(new Error("echarts")));
      script.onerror = () => reject(new Error("echarts"));
      document.head.append(script);
    });
  }
  return loading;
}

const charts = [];
window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));

async function draw(container, option) {
  let echarts;
  try {
    echarts = await loadLibrary();
  } catch (_) {
    unavailable(container, "chart.unavailable");
    return null;
  }
  let chart = echarts.getInstanceByDom(container);
  if (!chart) {
    chart = echarts.init(container, null, { renderer: "canvas", locale: page.lang === "en" ? "EN" : "ZH" });
    charts.push(chart);
  }
  chart.setOption({ color: COLOURS, animation: false, textStyle: { fontFamily: "inherit" }, ...option }, true);
  container.dataset.drawn = "true";
  return chart;
}

/** Bars of `values` under `labels`. */
export function bars(container, labels, values, { horizontal = false } = {}) {
  if (!values.length) {
    unavailable(container, "common.no_data");
    return null;
  }
  const category = { type: "category", data: labels, axisLabel: { interval: 0, rotate: horizontal ? 0 : 30 } };
  const value = { type: "value", minInterval: 1 };
  return draw(container, {
    grid: { left: horizontal ? 110 : 40, right: 16, top: 16, bottom: horizontal ? 24 : 64 },
    tooltip: { trigger: "axis" },
    xAxis: horizontal ? value : category,
    yAxis: horizontal ? category : value,
    series: [{ type: "bar", data: values, barMaxWidth: 28 }],
  });
}

/** Lines over days: `series` is [{name, values}]. */
export function lines(container, days, series) {
  if (!days.length) {
    unavailable(container, "common.no_data");
    return null;
  }
  return draw(container, {
    grid: { left: 40, right: 16, top: 36, bottom: 28 },
    tooltip: { trigger: "axis" },
    legend: { top: 0, data: series.map((s) => s.name) },
    xAxis: { type: "category", data: days.map((d) => d.slice(5)) },
    yAxis: { type: "value", minInterval: 1 },
    series: series.map((s) => ({ type: "line", name: s.name, data: s.values, smooth: true, showSymbol: false })),
  });
}

/** A ring of shares. */
export function ring(container, entries) {
  if (!entries.length) {
    unavailable(container, "common.no_data");
    return null;
  }
  return draw(container, {
    tooltip: { trigger: "item" },
    legend: { type: "scroll", orient: "vertical", right: 0, top: "middle" },
    series: [{ type: "pie", radius: ["40%", "70%"], center: ["35%", "50%"], label: { show: false }, data: entries.map(([name, value]) => ({ name, value })) }],
  });
}
