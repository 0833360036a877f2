/**
 * The agent the edge fs tests run: it carries out a script of fs calls (the task, as JSON) and
 * answers each call's outcome, so that the same script can run on EdgeKernel and on Node's kernel.
 */
export const FS_AGENT_SOURCE = `import { fs } from "agent-os/guest";
export async function run(task) {
  const out = [];
  for (const [op, ...args] of JSON.parse(task)) {
    try {
      let value = await fs[op](...args);
      if (op === "stat") value = { kind: value.kind, size: value.size };
      if (value instanceof Uint8Array) value = Array.from(value);
      out.push(["ok", value ?? null]);
    } catch (error) {
      out.push(error.name === "PermissionDenied" ? ["denied", error.rule, error.reason] : [error.kind ?? "thrown", error.detail ?? String(error)]);
    }
  }
  return JSON.stringify(out);
}
`;

/** The policy both kernels run under: standard, a denied directory, writes allowed on /data (the mount refuses), an entry a recursive remove may not touch, one a listing may not show. */
export const FS_POLICY = [
  "version: 1",
  "name: edge-fs",
  "extends: [standard]",
  "rules:",
  "  - { id: no-secret, action: fs.*, resource: /workspace/secret/**, effect: deny, reason: secrets stay put }",
  "  - { id: data, action: fs.*, resource: /data/**, effect: allow }",
  "  - { id: keep-me, action: fs.remove, resource: /workspace/tree/keep.txt, effect: deny, reason: kept }",
  "  - { id: unseen, action: fs.stat, resource: /workspace/tree/hidden.txt, effect: deny, reason: not shown }",
  "",
].join("\n");
