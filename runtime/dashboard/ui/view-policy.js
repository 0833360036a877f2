// The policy editor: the YAML in a text area; its problems as you type (file, line, column,
// field, message; the line marked in the gutter); explain a request under the edited text;
// backtest it against recorded runs; Save to the policy file, only when the text loads (the
// server checks again).
import { get, post } from "./api.js";
import { debounce, fill, h } from "./dom.js";
import { explainPanel } from "./policy-explain.js";
import { backtestPanel } from "./policy-backtest.js";

export function renderPolicy(view) {
  const state = h("span", { id: "policy-state", class: "pill" }, "checking…");
  const where = h("p", { class: "muted", id: "policy-where" });
  const editor = editorOf(state);
  fill(view, h("h2", {}, "Policy ", state), where, h("div", { class: "editor-layout" }, editor.element, h("div", { class: "side" }, explainPanel(editor.value), backtestPanel(editor.value))));
  let alive = true;
  get("/api/policy").then((p) => {
    if (!alive) return;
    where.textContent = p.file ? `${p.name} — Save writes ${p.file}` : `${p.name} — ${p.readOnly ?? ""}`;
    editor.load(p);
  });
  return () => {
    alive = false;
    editor.stop();
  };
}

/** The text area with its line gutter, its problems (checked as it is typed) and Save. */
function editorOf(state) {
  const gutter = h("div", { class: "gutter", id: "policy-gutter", "aria-hidden": "true" });
  const text = h("textarea", { id: "policy-text", spellcheck: "false", wrap: "off", "aria-label": "policy YAML" });
  const problems = h("ol", { id: "policy-problems", class: "problems" });
  const save = h("button", { type: "button", id: "policy-save", disabled: true }, "Save");
  const saved = h("p", { id: "policy-saved", class: "message", role: "status" });
  const element = h("div", { class: "editor-col" }, h("div", { class: "editor" }, gutter, text), h("div", { class: "row" }, save, saved), h("h3", {}, "Problems"), problems);
  let alive = true;
  let source = { readOnly: "loading" };
  let current = [];
  const drawGutter = () => {
    const bad = new Map(current.filter((p) => p.line).map((p) => [p.line, p]));
    const count = text.value.split("\n").length;
    fill(gutter, Array.from({ length: count }, (_, i) => h("div", { class: bad.has(i + 1) ? "bad" : "", dataset: { line: String(i + 1) }, title: bad.get(i + 1)?.message }, String(i + 1))));
    gutter.scrollTop = text.scrollTop;
  };
  const showProblems = (list) => {
    current = list;
    state.textContent = list.length === 0 ? "loads" : `${list.length} problem${list.length === 1 ? "" : "s"}`;
    state.dataset.state = list.length === 0 ? "ok" : "bad";
    fill(problems, list.map((p) => problemItem(p, text)));
    save.disabled = Boolean(source.readOnly) || list.length > 0;
    drawGutter();
  };
  const check = debounce(async () => {
    try {
      const { problems: list } = await post("/api/policy/check", { text: text.value });
      if (alive) showProblems(list);
    } catch (error) {
      if (alive) state.textContent = error.message;
    }
  }, 300);
  text.addEventListener("input", () => {
    drawGutter();
    saved.textContent = "";
    state.textContent = "checking…";
    save.disabled = true;
    check();
  });
  text.addEventListener("scroll", () => (gutter.scrollTop = text.scrollTop));
  save.addEventListener("click", async () => {
    try {
      const answer = await post("/api/policy/save", { text: text.value });
      saved.textContent = `Saved to ${answer.saved}. A running kernel keeps the policy it started with: the change applies to the next one.`;
    } catch (error) {
      saved.textContent = error.message;
    }
  });
  const load = (p) => {
    source = p;
    text.value = p.text;
    save.title = p.readOnly ?? `write ${p.file}`;
    drawGutter();
    check();
  };
  return { element, value: () => text.value, load, stop: () => (alive = false) };
}

function problemItem(p, text) {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined && x !== null).join(":");
  const item = h("li", { dataset: { line: p.line ? String(p.line) : "" } }, h("span", { class: "where" }, where ? `${where}  ` : ""), p.field ? h("code", {}, p.field) : null, p.field ? ": " : "", p.message);
  if (p.line) {
    item.classList.add("jump");
    item.title = `go to line ${p.line}`;
    item.addEventListener("click", () => selectLine(text, p.line));
  }
  return item;
}

function selectLine(text, line) {
  const lines = text.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  text.focus();
  text.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
}
