// A run's chart: fuel, tokens and host calls over time, one small panel each on a shared time
// axis, drawn as inline SVG step lines (every series is cumulative).
import { duration, num, svg } from "./dom.js";

const WIDTH = 720;
const PANEL = 64;
const GAP = 18;
const LEFT = 110;
const RIGHT = 12;
const SERIES = [
  ["fuel", "Fuel"],
  ["tokens", "Tokens"],
  ["calls", "Host calls"],
];

/** The chart of `data` ({ start, end, fuel, tokens, calls }: [time, value] points). */
export function runChart(data) {
  const height = SERIES.length * (PANEL + GAP) + 14;
  const span = Math.max(1, data.end - data.start);
  const x = (t) => LEFT + ((t - data.start) / span) * (WIDTH - LEFT - RIGHT);
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "chart", role: "img", "aria-label": "fuel, tokens and host calls over time" });
  SERIES.forEach(([key, label], i) => root.append(panel(data[key], label, key, i * (PANEL + GAP) + 4, x, data.end)));
  const axis = SERIES.length * (PANEL + GAP) + 8;
  root.append(
    svg("text", { x: LEFT, y: axis, class: "axis" }, "0"),
    svg("text", { x: WIDTH - RIGHT, y: axis, class: "axis", "text-anchor": "end" }, duration(span)),
  );
  return root;
}

function panel(points, label, key, top, x, end) {
  const max = Math.max(1, ...points.map((p) => p[1]));
  const y = (v) => top + PANEL - (v / max) * PANEL;
  const last = points.length ? points[points.length - 1][1] : 0;
  const g = svg("g", { class: `series ${key}`, "data-series": key, "data-last": String(last) });
  g.append(
    svg("rect", { x: LEFT, y: top, width: WIDTH - LEFT - RIGHT, height: PANEL, class: "frame" }),
    svg("text", { x: 4, y: top + 14, class: "label" }, label),
    svg("text", { x: 4, y: top + 32, class: "value" }, num(last)),
    svg("text", { x: LEFT - 4, y: top + 10, class: "axis", "text-anchor": "end" }, num(max)),
  );
  if (points.length === 0) return g;
  let d = `M${x(points[0][0]).toFixed(1)},${y(points[0][1]).toFixed(1)}`;
  for (let i = 1; i < points.length; i++) {
    d += ` H${x(points[i][0]).toFixed(1)} V${y(points[i][1]).toFixed(1)}`;
  }
  d += ` H${x(end).toFixed(1)}`;
  g.append(svg("path", { d, class: "line" }));
  return g;
}
