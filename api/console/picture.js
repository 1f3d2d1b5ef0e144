// The bitemporal picture: valid time across, transaction time (known at) up, both on one scale.
//
// Each layer is the household's status timeline as believed from one recording moment to the
// next; a late recording or a correction changes the layers above its moment, so it shows as a
// step. The dashed diagonal is "recorded the day it took effect": an event's dot far above it was
// recorded late. The crosshair is the (as of, known at) the card answers for.

import { statusLabel, t } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const W = 720, H = 440, M = { left: 64, right: 14, top: 14, bottom: 38 };
export const DAY = 86_400_000;

export function dayMs(iso) { return Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)); }
export function isoDay(ms) { return new Date(ms).toISOString().slice(0, 10); }

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.append(node);
  return node;
}

export function statusColor(status) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--s-${status}`).trim() || "#999";
}

/**
 * Draws into ``host`` and returns {update(asOf, knownAt)} to move the crosshair.
 * ``model``: {start, end (ms), layers: [{from, to (ms), intervals}], events: [{effective, recorded,
 * type, event_id, meta, target_effective}]}; ``onPick(asOfMs, knownAtMs)`` on a click.
 */
export function drawPicture(host, model, onPick) {
  host.replaceChildren();
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": t("picture"), id: "picture-svg" });
  host.append(svg);
  const span = model.end - model.start;
  const x = (ms) => M.left + ((ms - model.start) / span) * (W - M.left - M.right);
  const y = (ms) => H - M.bottom - ((ms - model.start) / span) * (H - M.top - M.bottom);
  const clampX = (ms) => x(Math.max(model.start, Math.min(model.end, ms)));
  const clampY = (ms) => y(Math.max(model.start, Math.min(model.end, ms)));

  // years on both axes
  const grid = el("g", { class: "grid" }, svg);
  const first = new Date(model.start).getUTCFullYear(), last = new Date(model.end).getUTCFullYear();
  for (let year = first; year <= last + 1; year++) {
    const ms = Date.UTC(year, 0, 1);
    if (ms < model.start || ms > model.end) continue;
    el("line", { x1: x(ms), x2: x(ms), y1: M.top, y2: H - M.bottom, stroke: "#eaecf0" }, grid);
    el("line", { x1: M.left, x2: W - M.right, y1: y(ms), y2: y(ms), stroke: "#eaecf0" }, grid);
    el("text", { x: x(ms), y: H - M.bottom + 14, "text-anchor": "middle", "font-size": 11, fill: "#667085" }, grid)
      .textContent = year;
    el("text", { x: M.left - 6, y: y(ms) + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" }, grid)
      .textContent = year;
  }
  el("text", { x: (M.left + W - M.right) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12 }, svg)
    .textContent = `${t("as_of")} →`;
  el("text", { x: 14, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle", "font-size": 12,
               transform: `rotate(-90 14 ${(M.top + H - M.bottom) / 2})` }, svg).textContent = `${t("known_at")} →`;

  // the layers: each status interval as believed from one recording to the next
  const bands = el("g", { class: "bands" }, svg);
  for (const layer of model.layers) {
    const top = clampY(layer.to), bottom = clampY(layer.from);
    for (const interval of layer.intervals) {
      const from = dayMs(interval.from), to = interval.to ? dayMs(interval.to) : model.end;
      const rect = el("rect", {
        x: clampX(from), y: top, width: Math.max(0.5, clampX(to) - clampX(from)), height: Math.max(0.5, bottom - top),
        fill: statusColor(interval.status), "fill-opacity": 0.78, "data-status": interval.status,
      }, bands);
      el("title", {}, rect).textContent =
        `${statusLabel(interval.status)}: ${interval.from} – ${interval.to || "…"} (${t("known_at")} ${isoDay(layer.from)})`;
    }
    el("line", { x1: M.left, x2: W - M.right, y1: bottom, y2: bottom, stroke: "#fff", "stroke-width": 0.6 }, bands);
  }

  // recorded the day it took effect
  el("line", { x1: x(model.start), y1: y(model.start), x2: x(model.end), y2: y(model.end), stroke: "#475467",
               "stroke-dasharray": "4 4", "stroke-width": 1 }, svg);
  el("text", { x: x(model.end) - 4, y: y(model.end) + 14, "text-anchor": "end", "font-size": 11, fill: "#475467" }, svg)
    .textContent = t("diagonal");

  // the events: where they took effect, when they were recorded
  const dots = el("g", { class: "events" }, svg);
  for (const ev of model.events) {
    const cx = clampX(ev.effective), cy = clampY(ev.recorded);
    const late = ev.recorded - ev.effective > 30 * DAY;
    if (ev.meta && ev.target_effective !== null) {
      el("line", { x1: clampX(ev.target_effective), y1: cy, x2: cx, y2: cy, stroke: "#6941c6",
                   "stroke-dasharray": "2 2" }, dots);
    }
    const mark = ev.meta
      ? el("rect", { x: cx - 4, y: cy - 4, width: 8, height: 8, fill: "#6941c6", transform: `rotate(45 ${cx} ${cy})` }, dots)
      : el("circle", { cx, cy, r: late ? 4.5 : 3, fill: late ? "#b54708" : "#1d2430", stroke: "#fff",
                       "stroke-width": 1 }, dots);
    mark.setAttribute("data-event", ev.event_id);
    el("title", {}, mark).textContent = `${ev.label}: ${t("effective")} ${isoDay(ev.effective)}, ${t("recorded")} ${isoDay(ev.recorded)}`;
  }

  // the crosshair
  const cross = el("g", { class: "crosshair", "pointer-events": "none" }, svg);
  const vLine = el("line", { y1: M.top, y2: H - M.bottom, stroke: "#1849a9", "stroke-width": 1.5 }, cross);
  const hLine = el("line", { x1: M.left, x2: W - M.right, stroke: "#1849a9", "stroke-width": 1.5 }, cross);
  const dot = el("circle", { r: 5, fill: "#fff", stroke: "#1849a9", "stroke-width": 2 }, cross);

  svg.addEventListener("click", (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * W, py = ((event.clientY - box.top) / box.height) * H;
    const fx = (px - M.left) / (W - M.left - M.right), fy = (H - M.bottom - py) / (H - M.top - M.bottom);
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return;
    onPick(model.start + fx * span, model.start + fy * span);
  });

  return {
    update(asOfMs, knownAtMs) {
      const cx = clampX(asOfMs), cy = clampY(knownAtMs);
      vLine.setAttribute("x1", cx); vLine.setAttribute("x2", cx);
      hLine.setAttribute("y1", cy); hLine.setAttribute("y2", cy);
      dot.setAttribute("cx", cx); dot.setAttribute("cy", cy);
    },
  };
}
