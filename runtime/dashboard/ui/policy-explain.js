// Explain: the decision the edited policy makes for one request, and why each rule on its
// action matched or not.
import { post } from "./api.js";
import { fill, h } from "./dom.js";

export function explainPanel(policyText) {
  const action = h("input", { id: "explain-action", placeholder: "fs.write", "aria-label": "action" });
  const resource = h("input", { id: "explain-resource", placeholder: "/workspace/out.txt", "aria-label": "resource" });
  const method = h("input", { id: "explain-method", placeholder: "GET (http)", "aria-label": "method", size: "8" });
  const out = h("div", { id: "explain-result" });
  const go = h("button", { type: "submit" }, "Explain");
  const form = h("form", { class: "stack", id: "explain-form" }, action, resource, method, go);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await post("/api/policy/explain", { text: policyText(), action: action.value, resource: resource.value, method: method.value });
      fill(out, answer.problems ? h("p", { class: "message bad" }, "Fix the policy's problems first.") : explanation(answer.explanation));
    } catch (error) {
      fill(out, h("p", { class: "message bad" }, error.message));
    }
  });
  return h("section", { class: "panel" }, h("h3", {}, "Explain a request"), form, out);
}

function explanation(x) {
  const d = x.decision;
  return [
    h("p", { class: `verdict effect ${d.effect}`, id: "explain-decision" }, `${d.effect} — ${d.rule ?? "(no rule: the default decided)"}`),
    h("p", {}, d.reason),
    h(
      "ul",
      { class: "rules" },
      x.considered.map((r) => h("li", { class: r.matched ? "matched" : "" }, h("code", {}, r.id), ` ${r.effect}${r.matched ? " (matched)" : ""}: `, r.why.join("; "))),
    ),
  ];
}
