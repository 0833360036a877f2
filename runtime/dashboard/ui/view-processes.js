// Processes: the live table (pid, agent, state, fuel, tokens, host calls, denials), updated as
// the kernel reports, with the signal buttons; the runs that ended last below it.
import { on, post } from "./api.js";
import { fill, h, num, shortId, time } from "./dom.js";

const SIGNALS = ["SIGSTOP", "SIGCONT", "SIGTERM", "SIGKILL"];
const COLUMNS = ["PID", "Agent", "Run", "State", "Fuel", "Tokens (in / out)", "Host calls", "Denials", "Signals"];

export function renderProcesses(view) {
  const note = h("p", { class: "note", id: "signals-note", hidden: true });
  const message = h("p", { class: "message", role: "status", id: "signal-message" });
  const body = h("tbody");
  const empty = h("p", { class: "muted", id: "no-processes" }, "No live processes.");
  const recent = h("tbody");
  fill(
    view,
    h("h2", {}, "Processes"),
    note,
    message,
    h("table", { class: "grid", id: "processes" }, h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", {}, c)))), body),
    empty,
    h("h3", {}, "Recently ended"),
    h("table", { class: "grid", id: "recent" }, h("thead", {}, h("tr", {}, ["Run", "Agent", "Status", "Reason", "Ended", "Calls", "Denials"].map((c) => h("th", {}, c)))), recent),
  );
  const rows = new Map();
  const send = async (pid, signal) => {
    message.textContent = "";
    try {
      await post("/api/signal", { pid, signal });
      message.textContent = `${signal} sent to pid ${pid}`;
    } catch (error) {
      message.textContent = `${signal} to pid ${pid}: ${error.message}`;
    }
  };
  const stop = on("processes", (table) => {
    const kernel = table.mode === "kernel";
    note.hidden = kernel;
    note.textContent = kernel ? "" : "Signals need the kernel's process: this dashboard reads a log directory, so the buttons are disabled. Live processes here are the runs with no exit event yet.";
    updateRows(body, rows, table.live, kernel, send);
    empty.hidden = table.live.length > 0;
    fill(recent, table.recent.map(recentRow));
  });
  return stop;
}

function updateRows(body, rows, live, kernel, send) {
  const seen = new Set();
  for (const p of live) {
    seen.add(p.pid);
    let row = rows.get(p.pid);
    if (!row) {
      row = newRow(p, kernel, send);
      rows.set(p.pid, row);
      body.append(row.tr);
    }
    row.tr.dataset.state = p.state;
    if (row.state.dataset.shown !== p.state) {
      // A call held for a person: the state links to where it is answered.
      fill(row.state, p.state === "waiting" ? h("a", { href: "#/approvals", title: "a call is waiting for a person" }, "waiting") : p.state);
      row.state.dataset.shown = p.state;
    }
    row.fuel.textContent = num(p.fuel);
    row.tokens.textContent = `${num(p.tokens.input)} / ${num(p.tokens.output)}`;
    row.calls.textContent = num(p.hostCalls);
    row.denials.textContent = num(p.denials);
    row.denials.classList.toggle("bad", p.denials > 0);
  }
  for (const [pid, row] of rows) {
    if (seen.has(pid)) continue;
    row.tr.remove();
    rows.delete(pid);
  }
}

function newRow(p, kernel, send) {
  const cell = (cls) => h("td", { class: cls });
  const row = { state: cell("state"), fuel: cell("fuel num"), tokens: cell("tokens num"), calls: cell("calls num"), denials: cell("denials num") };
  const buttons = SIGNALS.map((signal) =>
    h("button", { type: "button", class: `signal ${signal.toLowerCase()}`, disabled: !kernel, title: kernel ? `send ${signal} to pid ${p.pid}` : "signals need the kernel's process", onclick: () => send(p.pid, signal) }, signal),
  );
  row.tr = h(
    "tr",
    { dataset: { pid: String(p.pid), runId: p.runId } },
    h("td", { class: "num" }, String(p.pid)),
    h("td", {}, p.agent),
    h("td", { title: p.runId }, h("a", { href: `#/runs/${encodeURIComponent(p.runId)}` }, shortId(p.runId))),
    row.state,
    row.fuel,
    row.tokens,
    row.calls,
    row.denials,
    h("td", { class: "buttons" }, buttons),
  );
  return row;
}

function recentRow(r) {
  return h(
    "tr",
    { dataset: { runId: r.runId } },
    h("td", { title: r.runId }, h("a", { href: `#/runs/${encodeURIComponent(r.runId)}` }, shortId(r.runId))),
    h("td", {}, r.agent),
    h("td", { class: `status ${r.status}` }, r.status),
    h("td", {}, r.reason ?? ""),
    h("td", {}, time(r.ended)),
    h("td", { class: "num" }, num(r.calls)),
    h("td", { class: `num${r.denials > 0 ? " bad" : ""}` }, num(r.denials)),
  );
}
