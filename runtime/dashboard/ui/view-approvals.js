// Approvals: the calls held for a person (effect "ask") with Approve (once, for the run, or
// always: the diff of the policy file is shown first, then confirmed) and Deny; the answers the
// log recorded below, each linked to its run's timeline.
import { get, on, post } from "./api.js";
import { fill, h, shortId, time } from "./dom.js";

const SCOPE_LABELS = { once: "Approve once", run: "Approve for this run" };

export function renderApprovals(view) {
  const message = h("p", { class: "message", role: "status", id: "approval-message" });
  const proposal = h("section", { class: "panel", id: "always-proposal", hidden: true });
  const pending = h("tbody");
  const none = h("p", { class: "muted", id: "no-approvals" }, "No calls are waiting for a person.");
  const answered = h("tbody");
  const disabled = h("p", { class: "note", hidden: true }, "Approvals are not enabled on this kernel (KernelOptions.approvals): every ask is denied at once.");
  fill(
    view,
    h("h2", {}, "Approvals"),
    disabled,
    message,
    proposal,
    h("table", { class: "grid", id: "approvals" }, h("thead", {}, h("tr", {}, ["Request", "Agent", "Run", "Action", "Resource", "Rule", "Reason", "Expires", "Answer"].map((c) => h("th", {}, c)))), pending),
    none,
    h("h3", {}, "Answered"),
    h("table", { class: "grid", id: "answered" }, h("thead", {}, h("tr", {}, ["Time", "Request", "Agent", "Run", "Outcome", "By", "Reason"].map((c) => h("th", {}, c)))), answered),
  );
  const act = async (label, work) => {
    message.textContent = "";
    try {
      await work();
      message.textContent = label;
    } catch (error) {
      message.textContent = `${label}: ${error.message}`;
    }
  };
  const handlers = {
    approve: (r, scope) => act(`${r.id} approved (${scope})`, () => post(`/api/approvals/${r.id}/approve`, { scope })),
    deny: (r) => act(`${r.id} denied`, () => post(`/api/approvals/${r.id}/deny`, { reason: "denied in the dashboard" })),
    always: (r) => showProposal(proposal, r, act),
  };
  return on("approvals", (table) => {
    disabled.hidden = table.enabled;
    fill(pending, table.pending.map((r) => pendingRow(r, handlers)));
    none.hidden = table.pending.length > 0;
    if (!proposal.hidden && !table.pending.some((r) => r.id === proposal.dataset.id)) proposal.hidden = true;
    fill(answered, table.answered.map(answeredRow));
  });
}

function pendingRow(r, handlers) {
  const buttons = r.scopes.filter((s) => s !== "always").map((scope) => h("button", { type: "button", onclick: () => handlers.approve(r, scope) }, SCOPE_LABELS[scope] ?? scope));
  if (r.scopes.includes("always")) buttons.push(h("button", { type: "button", onclick: () => handlers.always(r) }, "Approve always…"));
  buttons.push(h("button", { type: "button", class: "deny", onclick: () => handlers.deny(r) }, "Deny"));
  return h(
    "tr",
    { dataset: { id: r.id, runId: r.runId } },
    h("td", {}, h("code", {}, r.id)),
    h("td", {}, r.agent),
    h("td", { title: r.runId }, h("a", { href: `#/runs/${encodeURIComponent(r.runId)}` }, shortId(r.runId))),
    h("td", {}, r.action, r.method ? ` ${r.method}` : ""),
    h("td", { class: "resource" }, r.resource),
    h("td", {}, r.rule ?? "(default)"),
    h("td", {}, r.reason),
    h("td", {}, time(Date.parse(r.expiresAt))),
    h("td", { class: "buttons" }, buttons),
  );
}

async function showProposal(panel, r, act) {
  panel.dataset.id = r.id;
  panel.hidden = false;
  fill(panel, h("p", { class: "muted" }, "reading the policy file…"));
  let shown;
  try {
    shown = await get(`/api/approvals/${r.id}/always`);
  } catch (error) {
    fill(panel, h("p", { class: "message bad" }, error.message));
    return;
  }
  const confirm = h("button", { type: "button", id: "always-confirm" }, `Confirm: approve always and write ${shown.file}`);
  const cancel = h("button", { type: "button", onclick: () => (panel.hidden = true) }, "Cancel");
  confirm.addEventListener("click", () => act(`${r.id} approved (always): rule ${shown.ruleId} written to ${shown.file}`, () => post(`/api/approvals/${r.id}/approve`, { scope: "always", proposal: shown.hash })).then(() => (panel.hidden = true)));
  fill(
    panel,
    h("h3", {}, `Approve ${r.action} ${r.resource} always?`),
    h("p", {}, `This adds the rule ${shown.ruleId} to ${shown.file}; calls it matches are no longer asked about.`),
    h("pre", { class: "diff", id: "always-diff" }, shown.diff),
    h("div", { class: "row" }, confirm, cancel),
  );
}

function answeredRow(a) {
  return h(
    "tr",
    { dataset: { id: a.id, outcome: a.outcome } },
    h("td", {}, time(a.time)),
    h("td", {}, h("code", {}, a.id)),
    h("td", {}, a.agent),
    h("td", { title: a.runId }, h("a", { href: `#/runs/${encodeURIComponent(a.runId)}?event=${a.seq}` }, shortId(a.runId))),
    h("td", { class: `outcome ${a.outcome}` }, a.outcome, a.scope ? ` (${a.scope})` : ""),
    h("td", {}, a.by),
    h("td", {}, a.reason ?? ""),
  );
}
