// Runs: newest first, searched by agent or run id and filtered by status; updated as runs
// start and end.
import { get, on } from "./api.js";
import { setQuery } from "./route.js";
import { debounce, duration, fill, h, num, shortId, time } from "./dom.js";

const STATUSES = ["", "running", "ok", "error", "killed"];

export function renderRuns(view, route) {
  const q = h("input", { type: "search", id: "run-search", placeholder: "agent or run id", "aria-label": "search runs", value: route.query.get("q") ?? "" });
  const status = h("select", { id: "run-status", "aria-label": "status" }, STATUSES.map((s) => h("option", { value: s }, s || "any status")));
  status.value = route.query.get("status") ?? "";
  const body = h("tbody");
  const count = h("span", { class: "muted" });
  fill(
    view,
    h("h2", {}, "Runs"),
    h("div", { class: "filters" }, q, status, count),
    h("table", { class: "grid", id: "runs" }, h("thead", {}, h("tr", {}, ["Run", "Agent", "Status", "Started", "Duration", "Calls", "Denials", "Tokens", "Task"].map((c) => h("th", {}, c)))), body),
  );
  let alive = true;
  const load = async () => {
    setQuery({ q: q.value, status: status.value });
    const { runs } = await get("/api/runs", { q: q.value, status: status.value });
    if (!alive) return;
    fill(body, runs.map(runRow));
    count.textContent = `${runs.length} run${runs.length === 1 ? "" : "s"}`;
  };
  const later = debounce(() => load().catch(() => {}), 250);
  q.addEventListener("input", later);
  status.addEventListener("change", later);
  load().catch(() => {});
  const stop = on("runs", later);
  return () => {
    alive = false;
    stop();
  };
}

function runRow(r) {
  return h(
    "tr",
    { dataset: { runId: r.runId } },
    h("td", { title: r.runId }, h("a", { href: `#/runs/${encodeURIComponent(r.runId)}` }, shortId(r.runId))),
    h("td", {}, r.agent),
    h("td", { class: `status ${r.status}` }, r.status, r.reason ? ` (${r.reason})` : ""),
    h("td", {}, time(r.started)),
    h("td", {}, r.ended ? duration(r.ended - r.started) : "…"),
    h("td", { class: "num" }, num(r.calls)),
    h("td", { class: `num${r.denials > 0 ? " bad" : ""}` }, num(r.denials)),
    h("td", { class: "num" }, num(r.tokens.input + r.tokens.output)),
    h("td", { class: "task", title: r.task }, r.task),
  );
}
