// Chain status: verify the log's hash chain (what agent-os verify runs), with its progress, and
// name the first event that does not match.
import { on, post } from "./api.js";
import { fill, h, num, duration } from "./dom.js";

export function renderChain(view) {
  const button = h("button", { type: "button", id: "verify-start" }, "Verify the chain");
  const bar = h("progress", { id: "verify-progress", max: "1", value: "0" });
  const status = h("p", { id: "verify-status", role: "status" });
  const result = h("div", { id: "verify-result" });
  fill(
    view,
    h("h2", {}, "Chain status"),
    h("p", { class: "muted" }, "Every event is hashed with the one before it. Verifying recomputes the whole chain, the run marks and the stored blobs, and names the first event that does not match."),
    button,
    bar,
    status,
    result,
  );
  button.addEventListener("click", () => post("/api/verify").catch((error) => (status.textContent = error.message)));
  return on("verify", (s) => show(s, { button, bar, status, result }));
}

function show(s, el) {
  el.button.disabled = s.phase === "walking" || s.phase === "hashing";
  el.bar.max = Math.max(1, s.total);
  el.bar.value = s.phase === "done" ? el.bar.max : s.checked;
  el.bar.dataset.phase = s.phase;
  const took = s.finishedAt && s.startedAt ? ` in ${duration(s.finishedAt - s.startedAt)}` : "";
  el.status.textContent = {
    idle: "Not verified yet in this session.",
    walking: `Reading events: ${num(s.checked)} of ${num(s.total)}…`,
    hashing: `Read ${num(s.checked)} events; recomputing the chain…`,
    done: `Verified${took}.`,
    failed: `Could not verify: ${s.error}`,
  }[s.phase];
  if (s.phase !== "done" || !s.report) return fill(el.result);
  const r = s.report;
  if (r.ok) return fill(el.result, h("p", { class: "verdict identical", id: "chain-verdict" }, `OK: ${num(r.count)} events, head ${r.head}`));
  const link = s.badRunId ? h("a", { href: `#/runs/${encodeURIComponent(s.badRunId)}?event=${r.firstBad}` }, `open event #${r.firstBad}`) : null;
  fill(el.result, h("p", { class: "verdict diverged", id: "chain-verdict" }, `TAMPERED at event ${r.firstBad}: ${r.problem} (${num(r.count)} events verified before it)`), link);
}
