// Building the page from data: every text goes in as text (textContent), never as HTML, so
// nothing an agent wrote can become markup or script.

/** An element: h("a", { href: "#/runs", class: "x" }, "text", child). `on*` attributes take functions. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** 1234567 -> "1,234,567"; null -> "—". */
export function num(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

/** A time as HH:MM:SS.mmm (local), with the date when it is not today. */
export function time(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  const clock = d.toLocaleTimeString("en-GB", { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  return d.toDateString() === new Date().toDateString() ? clock : `${d.toISOString().slice(0, 10)} ${clock}`;
}

/** A duration in ms as "1.2 s", "3 min 4 s". */
export function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A run id shortened for tables (the full one is in the title). */
export function shortId(id) {
  return id.length > 13 ? id.slice(0, 8) + "…" : id;
}

/** Calls fn at most once per `ms`, with the latest arguments, the last call always landing. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
