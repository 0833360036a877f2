// The page: one view at a time, chosen by the address's hash, so that every view (and an open
// event) has a URL of its own: #/processes, #/runs?q=, #/runs/<id>?action=&effect=&event=<seq>,
// #/replay/<id>, #/chain, #/approvals, #/policy.
import { connect, info as askInfo, on } from "./api.js";
import { fill } from "./dom.js";
import { closeJson } from "./json-dialog.js";
import { currentRoute } from "./route.js";
import { renderProcesses } from "./view-processes.js";
import { renderRuns } from "./view-runs.js";
import { renderRun } from "./view-run.js";
import { renderReplay } from "./view-replay.js";
import { renderChain } from "./view-chain.js";
import { renderPolicy } from "./view-policy.js";

const VIEWS = {
  processes: renderProcesses,
  runs: (el, route) => (route.parts[1] ? renderRun(el, route) : renderRuns(el, route)),
  replay: renderReplay,
  chain: renderChain,
  policy: renderPolicy,
};

/** Views added when the server has them (approvals). */
export function addView(name, render) {
  VIEWS[name] = render;
}

let cleanup = () => {};

function show() {
  // (a view changes its own query with setQuery, which fires no hashchange: this is a new address)
  const route = currentRoute();
  cleanup();
  closeJson();
  const view = document.getElementById("view");
  fill(view);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.dataset.view === route.parts[0]);
  const render = VIEWS[route.parts[0]];
  cleanup = render ? render(view, route) ?? (() => {}) : (fill(view, `There is no view "${route.parts[0]}".`), () => {});
}

function showInfo(info) {
  const where = document.getElementById("where");
  where.textContent = info.mode === "kernel" ? `live kernel · log ${info.location} · policy ${info.policy}` : `log ${info.location} (read only) · policy ${info.policy}`;
  const banner = document.getElementById("problem");
  banner.hidden = !info.problem;
  banner.textContent = info.problem ? `The log cannot be read: ${info.problem}` : "";
}

async function start() {
  const pill = document.getElementById("connection");
  connect((state) => {
    pill.textContent = state;
    pill.dataset.state = state;
  });
  let info = {};
  on("info", (next) => showInfo((info = next)));
  on("problem", (p) => showInfo({ ...info, problem: p.message }));
  try {
    info = await askInfo();
    showInfo(info);
    if (info.approvals) {
      const { renderApprovals } = await import("./view-approvals.js");
      addView("approvals", renderApprovals);
      document.querySelector('nav a[data-view="approvals"]').hidden = false;
    }
  } catch (error) {
    document.getElementById("where").textContent = String(error.message ?? error);
  }
  window.addEventListener("hashchange", show);
  show();
}

start();
