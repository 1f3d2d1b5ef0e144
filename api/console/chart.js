// The three-year report's chart: per year, the flows in and out as bars and both stocks at year end
// as lines (households on the register as poor, and exited households when the report has them).

import { t } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 620, H = 250, M = { left: 44, right: 110, top: 12, bottom: 28 };

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

/** ``years``: [{year, opening, inflows, outflows, closing, exited_closing (or null)}], households. */
export function drawReportChart(host, years) {
  host.replaceChildren();
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("report"), id: "report-chart" });
  host.append(svg);
  const top = Math.max(1, ...years.flatMap((y) => [y.opening, y.closing, y.inflows, y.exited_closing ?? 0]));
  const bottom = -Math.max(0, ...years.map((y) => y.outflows));
  const y = (v) => M.top + ((top - v) / (top - bottom)) * (H - M.top - M.bottom);
  const band = (W - M.left - M.right) / Math.max(1, years.length);
  const cx = (i) => M.left + band * (i + 0.5);
  const step = Math.max(1, Math.ceil((top - bottom) / 6 / 5) * 5);
  for (let v = Math.ceil(bottom / step) * step; v <= top; v += step) {
    el("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), stroke: v === 0 ? "#98a2b3" : "#eaecf0" }, svg);
    el("text", { x: M.left - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#667085" }, svg)
      .textContent = v;
  }
  years.forEach((row, i) => {
    const bw = Math.min(26, band / 4);
    const inflow = el("rect", { x: cx(i) - bw - 1, y: y(row.inflows), width: bw, height: y(0) - y(row.inflows),
                                fill: "#f79009", class: "bar-in" }, svg);
    el("title", {}, inflow).textContent = `${row.year} ${t("inflows")}: ${row.inflows}`;
    const outflow = el("rect", { x: cx(i) + 1, y: y(0), width: bw, height: y(-row.outflows) - y(0), fill: "#12b76a",
                                 class: "bar-out" }, svg);
    el("title", {}, outflow).textContent = `${row.year} ${t("outflows")}: ${row.outflows}`;
    el("text", { x: cx(i), y: H - 8, "text-anchor": "middle", "font-size": 11 }, svg).textContent = row.year;
  });
  const line = (key, color, name) => {
    const points = years.map((row, i) => [cx(i), y(row[key])]).filter((p, i) => years[i][key] !== null);
    if (!points.length) return;
    el("polyline", { points: points.map((p) => p.join(",")).join(" "), fill: "none", stroke: color,
                     "stroke-width": 2.2 }, svg);
    points.forEach(([px, py], i) => {
      const dot = el("circle", { cx: px, cy: py, r: 3.5, fill: color }, svg);
      el("title", {}, dot).textContent = `${years[i].year} ${name}: ${years[i][key]}`;
    });
  };
  line("closing", "#d92d20", t("stock"));
  line("exited_closing", "#067647", t("exited_stock"));
  const legend = [["#d92d20", `${t("stock")} (${t("closing")})`], ["#067647", t("exited_stock")],
                  ["#f79009", t("inflows")], ["#12b76a", t("outflows")]];
  legend.forEach(([color, name], i) => {
    el("rect", { x: W - M.right + 10, y: M.top + i * 18, width: 10, height: 10, fill: color }, svg);
    el("text", { x: W - M.right + 24, y: M.top + i * 18 + 9, "font-size": 11 }, svg).textContent = name;
  });
}
