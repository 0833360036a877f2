// Replay: runs a recorded run again with every host call answered from the log (nothing is
// carried out) and shows where it diverged: the recorded call, the replayed agent's call, why.
import { post } from "./api.js";
import { fill, h, shortId } from "./dom.js";

export function renderReplay(view, route) {
  const runId = route.parts[1] ?? "";
  const result = h("div", { id: "replay-result" });
  const button = h("button", { type: "button", id: "replay-start" }, "Replay this run");
  fill(
    view,
    h("h2", {}, "Replay ", h("a", { href: `#/runs/${encodeURIComponent(runId)}`, title: runId }, shortId(runId))),
    h("p", { class: "muted" }, "The same agent code runs in a fresh isolate; each host call is compared with the recorded one and answered from the log. Nothing is carried out."),
    button,
    result,
  );
  let alive = true;
  button.addEventListener("click", async () => {
    button.disabled = true;
    fill(result, h("p", { class: "muted" }, "replaying…"));
    try {
      const { result: r } = await post("/api/replay", { runId });
      if (alive) fill(result, report(r));
    } catch (error) {
      if (alive) fill(result, h("p", { class: "message bad" }, error.message));
    } finally {
      button.disabled = false;
    }
  });
  return () => (alive = false);
}

const call = (c) => {
  if (c === null || c === undefined) return "(nothing)";
  if ("op" in c) return `${c.op}${c.method ? ` ${c.method}` : ""} ${c.resource || '""'}  args ${JSON.stringify(c.args)}`;
  return `run ended ${c.status}${c.reason ? ` (${c.reason})` : ""}${c.output !== undefined ? `, output ${JSON.stringify(c.output)}` : ""}`;
};

function report(r) {
  const n = `${r.events.length} call${r.events.length === 1 ? "" : "s"} replayed`;
  const headline =
    r.status === "identical"
      ? `Identical: ${n}, ended ${r.recorded?.status ?? "as recorded"}`
      : r.status === "stopped"
        ? `Stopped at the checkpoint: ${n}`
        : `Diverged at event #${r.divergence.seq}: ${n} identically before it`;
  const parts = [h("p", { class: `verdict ${r.status}`, id: "replay-verdict" }, headline)];
  if (r.divergence) {
    const d = r.divergence;
    parts.push(
      h(
        "div",
        { class: "divergence", id: "divergence" },
        h("p", {}, d.reason),
        h("dl", { class: "facts" }, h("dt", {}, "Recorded"), h("dd", {}, call(d.expected)), h("dt", {}, "Replayed"), h("dd", {}, call(d.actual))),
        h("a", { href: `#/runs/${encodeURIComponent(r.runId)}?event=${d.seq}` }, `open event #${d.seq}`),
      ),
    );
  }
  parts.push(
    h(
      "table",
      { class: "grid" },
      h("thead", {}, h("tr", {}, ["#", "Action", "Resource", "Effect", "Rule", "Outcome"].map((c) => h("th", {}, c)))),
      h(
        "tbody",
        {},
        r.events.map((e) =>
          h("tr", {}, h("td", { class: "num" }, String(e.seq)), h("td", {}, e.action), h("td", { class: "resource" }, e.resource), h("td", { class: `effect ${e.effect}` }, e.effect), h("td", {}, e.rule ?? "(default)"), h("td", {}, e.outcome)),
        ),
      ),
    ),
  );
  if (r.output !== undefined) parts.push(h("p", {}, "Output: ", h("code", {}, r.output)));
  return parts;
}
