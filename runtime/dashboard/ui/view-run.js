// One run: what it is, its chart, and its timeline (every event in order, filtered by action
// and effect); a click on an event opens its JSON. Updated while the run goes on.
import { get, info, on } from "./api.js";
import { runChart } from "./chart.js";
import { debounce, duration, fill, h, num, time } from "./dom.js";
import { openJson } from "./json-dialog.js";
import { setQuery } from "./route.js";

export function renderRun(view, route) {
  const runId = route.parts[1];
  const path = `/api/runs/${encodeURIComponent(runId)}`;
  const head = h("div", { class: "run-head" });
  const chart = h("div", { class: "chart-box", id: "run-chart" });
  const timeline = timelineOf(path, route);
  fill(view, head, chart, h("h3", {}, "Timeline"), timeline.element);
  let alive = true;
  const showError = (error) => alive && fill(head, h("p", { class: "message bad" }, error.message));
  const loadHead = async () => {
    const { run } = await get(path);
    if (alive) fill(head, runHead(run));
  };
  const loadChart = async () => {
    const data = await get(`${path}/chart`);
    if (alive) fill(chart, runChart(data));
  };
  Promise.all([loadHead(), timeline.load(true), loadChart()])
    .then(() => route.query.get("event") && timeline.open(Number(route.query.get("event"))))
    .catch(showError);
  const refresh = debounce(() => Promise.all([loadHead(), timeline.load(false), loadChart()]).catch(() => {}), 300);
  const stops = [
    on("log", (note) => note.events.some((e) => e.runId === runId) && refresh()),
    on("processes", (table) => table.live.some((p) => p.runId === runId) && refresh()),
  ];
  return () => {
    alive = false;
    timeline.stop();
    stops.forEach((stop) => stop());
  };
}

/** The timeline: its filters, its rows (loaded one load at a time, each from where the last ended), and its events' JSON. */
function timelineOf(path, route) {
  const action = h("input", { type: "search", id: "filter-action", placeholder: "action, e.g. fs.*", "aria-label": "filter by action", value: route.query.get("action") ?? "" });
  const effect = h("select", { id: "filter-effect", "aria-label": "filter by effect" }, h("option", { value: "" }, "any effect"));
  info().then(({ effects }) => {
    effect.append(...effects.map((e) => h("option", { value: e }, e)));
    effect.value = route.query.get("effect") ?? "";
  });
  const body = h("tbody");
  const more = h("p", { class: "muted" });
  const columns = ["#", "Time", "Type", "Action", "Resource", "Effect", "Rule", "Detail"];
  const element = [
    h("div", { class: "filters" }, action, effect),
    h("table", { class: "grid timeline", id: "timeline" }, h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))), body),
    more,
  ];
  let alive = true;
  let lastSeq = 0;
  let loading = Promise.resolve();
  const loadNow = async (fresh) => {
    if (fresh) lastSeq = 0;
    const answer = await get(`${path}/events`, { action: action.value, effect: effect.value, after: lastSeq || undefined });
    if (!alive) return;
    if (fresh) fill(body);
    for (const e of answer.events) if (e.seq > lastSeq) body.append(eventRow(e));
    if (answer.events.length) lastSeq = Math.max(lastSeq, answer.events[answer.events.length - 1].seq);
    more.textContent = answer.more ? "More events follow: narrow the filters to see them." : "";
  };
  const load = (fresh) => (loading = loading.catch(() => {}).then(() => loadNow(fresh)));
  const open = (seq) => {
    setQuery({ event: seq });
    openJson(seq, () => setQuery({ event: "" }));
  };
  const refilter = debounce(() => {
    setQuery({ action: action.value, effect: effect.value });
    load(true).catch(() => {});
  }, 250);
  action.addEventListener("input", refilter);
  effect.addEventListener("change", refilter);
  body.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-seq]");
    if (tr) open(Number(tr.dataset.seq));
  });
  body.addEventListener("keydown", (event) => {
    const tr = event.target.closest("tr[data-seq]");
    if (tr && event.key === "Enter") open(Number(tr.dataset.seq));
  });
  return { element, load, open, stop: () => (alive = false) };
}

function runHead(run) {
  const item = (label, value, cls) => [h("dt", {}, label), h("dd", { class: cls }, value)];
  return [
    h("h2", {}, `Run of ${run.agent}`, h("a", { class: "button", href: `#/replay/${encodeURIComponent(run.runId)}` }, "Replay…")),
    h(
      "dl",
      { class: "facts", id: "run-facts" },
      item("Run", run.runId),
      item("Status", run.reason ? `${run.status} (${run.reason})` : run.status, `status ${run.status}`),
      item("PID", String(run.pid)),
      item("Policy", run.policy || "—"),
      item("Started", time(run.started)),
      item("Duration", run.ended ? duration(run.ended - run.started) : "running"),
      item("Calls", num(run.calls)),
      item("Denials", num(run.denials), run.denials > 0 ? "bad" : ""),
      item("Tokens", `${num(run.tokens.input)} in / ${num(run.tokens.output)} out`),
      item("Fuel", num(run.fuel)),
      item("Task", run.task),
    ),
  ];
}

function eventRow(e) {
  return h(
    "tr",
    { dataset: { seq: String(e.seq), type: e.type, effect: e.effect ?? "" }, tabindex: "0", title: "open the event's JSON" },
    h("td", { class: "num" }, String(e.seq)),
    h("td", {}, time(e.time)),
    h("td", { class: `type ${e.type}` }, e.type),
    h("td", {}, e.action ?? ""),
    h("td", { class: "resource" }, e.resource ?? ""),
    h("td", { class: e.effect ? `effect ${e.effect}` : "" }, e.effect ?? ""),
    h("td", {}, e.type === "call" ? (e.rule ?? "(default)") : ""),
    h("td", { class: "detail" }, e.detail),
  );
}
