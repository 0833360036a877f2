// Backtest: decide every recorded call of the selected runs under the edited policy and show
// the calls whose effect changes, grouped by the rule that decides them under the new text.
import { get, post } from "./api.js";
import { fill, h, shortId, time } from "./dom.js";

/** The backtest panel; `policyText` gives the editor's current text. */
export function backtestPanel(policyText) {
  const runs = h("div", { class: "backtest-runs", id: "backtest-runs" }, h("span", { class: "muted" }, "loading runs…"));
  const go = h("button", { type: "button", id: "backtest-start" }, "Backtest");
  const out = h("div", { id: "backtest-result" });
  const all = h("button", { type: "button", onclick: () => runs.querySelectorAll("input").forEach((box) => (box.checked = true)) }, "all");
  const reload = h("button", { type: "button", onclick: () => loadRuns(runs) }, "refresh");
  go.addEventListener("click", async () => {
    const runIds = [...runs.querySelectorAll("input:checked")].map((box) => box.value);
    if (runIds.length === 0) return fill(out, h("p", { class: "message" }, "Select the runs to decide again."));
    go.disabled = true;
    fill(out, h("p", { class: "muted" }, "deciding again…"));
    try {
      const answer = await post("/api/policy/backtest", { text: policyText(), runIds });
      fill(out, answer.problems ? h("p", { class: "message bad" }, "Fix the policy's problems first.") : report(answer.report));
    } catch (error) {
      fill(out, h("p", { class: "message bad" }, error.message));
    } finally {
      go.disabled = false;
    }
  });
  loadRuns(runs);
  return h(
    "section",
    { class: "panel" },
    h("h3", {}, "Backtest"),
    h("p", { class: "muted" }, "Decide every recorded call of these runs under the edited text, and list the calls whose effect would change."),
    h("div", { class: "row" }, h("span", {}, "Runs:"), all, reload),
    runs,
    go,
    out,
  );
}

async function loadRuns(box) {
  try {
    const { runs } = await get("/api/runs", { limit: 30 });
    fill(
      box,
      runs.length ? runs.map((r) => h("label", { title: r.runId }, h("input", { type: "checkbox", value: r.runId, dataset: { agent: r.agent } }), ` ${r.agent} ${shortId(r.runId)} · ${r.status} · ${time(r.started)}`)) : h("span", { class: "muted" }, "No runs in the log yet."),
    );
  } catch (error) {
    fill(box, h("span", { class: "bad" }, error.message));
  }
}

function report(r) {
  const summary = h("p", { class: `verdict ${r.changed.length ? "diverged" : "identical"}`, id: "backtest-summary" }, `${r.changed.length} of ${r.calls} recorded call${r.calls === 1 ? "" : "s"} in ${r.runs} run${r.runs === 1 ? "" : "s"} would change`);
  const groups = r.byRule.map((g) =>
    h(
      "div",
      { class: "group", dataset: { rule: g.rule ?? "" } },
      h("h4", {}, g.rule ?? "(the default)", ` → ${g.effect}: ${g.calls.length} call${g.calls.length === 1 ? "" : "s"}`),
      h(
        "table",
        { class: "grid" },
        h("thead", {}, h("tr", {}, ["#", "Agent", "Action", "Resource", "Recorded", "Now"].map((c) => h("th", {}, c)))),
        h(
          "tbody",
          {},
          g.calls.map((c) =>
            h(
              "tr",
              { dataset: { seq: String(c.seq) } },
              h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(c.runId)}?event=${c.seq}` }, String(c.seq))),
              h("td", {}, c.agent),
              h("td", {}, c.action, c.method ? ` ${c.method}` : ""),
              h("td", { class: "resource" }, c.resource),
              h("td", { class: `effect ${c.before.effect}` }, `${c.before.effect} (${c.before.rule ?? "default"})`),
              h("td", { class: `effect ${c.after.effect}` }, `${c.after.effect} (${c.after.rule ?? "default"})`, c.withoutSqlFacts ? " *" : ""),
            ),
          ),
        ),
      ),
    ),
  );
  const blind = r.withoutSqlFacts.length ? h("p", { class: "muted" }, `* ${r.withoutSqlFacts.length} SQL decision(s) were made without the statement's facts (recorded before the kernel kept them).`) : null;
  return [summary, ...groups, blind];
}
