// A stand-in SQL process that speaks the protocol of runtime/hosts/node/sql/sql-child.ts but answers
// junk, chosen by the statement's text: the kernel must fail every such call closed.
const FACTS = (statement) => ({ statement, canonical: statement, operations: ["select"], reads: [], writes: [] });
const ANSWERS = {
  "facts of another statement": (m) => ({ type: "reply", id: m.id, ok: FACTS("SELECT 1") }),
  "an unknown operation": (m) => ({ type: "reply", id: m.id, ok: { ...FACTS(m.statement), operations: ["sudo"] } }),
  "no operations": (m) => ({ type: "reply", id: m.id, ok: { ...FACTS(m.statement), operations: [] } }),
  "tables that are not strings": (m) => ({ type: "reply", id: m.id, ok: { ...FACTS(m.statement), reads: [1] } }),
  "a number": (m) => ({ type: "reply", id: m.id, ok: 42 }),
  "another id": (m) => ({ type: "reply", id: m.id + 1000, ok: FACTS(m.statement) }),
  "not a reply": () => "garbage",
  "an error that is not one": (m) => ({ type: "reply", id: m.id, err: { tag: "root", val: "x" } }),
  "rows of numbers": (m) => m.type === "analyze" ? { type: "reply", id: m.id, ok: FACTS(m.statement) } : { type: "reply", id: m.id, ok: { columns: ["a"], rows: [[{ tag: "integer", val: 1 }]], changes: 0n } },
  "no changes": (m) => m.type === "analyze" ? { type: "reply", id: m.id, ok: FACTS(m.statement) } : { type: "reply", id: m.id, ok: { columns: [], rows: [] } },
};
process.on("message", (m) => {
  if (m.type === "analyze" || m.type === "query") {
    if (m.statement === "die") process.exit(3);
    if (m.statement === "silence") return;
    const answer = ANSWERS[m.statement];
    const fine = m.type === "analyze" ? FACTS(m.statement) : { columns: [], rows: [], changes: 0n };
    process.send(answer ? answer(m) : { type: "reply", id: m.id, ok: fine });
  }
});
process.send({ type: "ready" });
