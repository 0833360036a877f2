/**
 * Policy decision latency at 10, 100 and 1,000 rules, beside Cedar's wasm authorizer
 * (@cedar-policy/cedar-wasm) deciding the same requests against equivalent rules in the same run.
 *
 * The rules: for each tenant, an allow on reads under /data/tenant-<i>/ and a deny on its
 * secret/ directory, all on the same action (so the action index alone does not help). In Cedar:
 * `permit`/`forbid` with `context.path like "/data/tenant-<i>/*"`; Cedar's `*` crosses `/`, which
 * is what our `/**` means for every request used here. Both default to deny and let a deny win,
 * so the decisions must agree, and the run checks that they do before timing anything.
 *
 * Then what priming rate windows from a durable log costs (policy-prime.ts).
 */
import { createRequire } from "node:module";
import { canonicalRequest, loadPolicy } from "../runtime/policy/index.js";
import type { Request } from "../runtime/types.js";
import { median, type BenchRow, type BenchSuite } from "./harness.js";
import { primeRows } from "./policy-prime.js";

interface CedarAnswer {
  type: "success" | "failure";
  response?: { decision: "allow" | "deny"; diagnostics: { errors: unknown[] } };
  errors?: unknown[];
}
interface Cedar {
  preparsePolicySet(id: string, policies: { staticPolicies: string }): { type: string; errors?: unknown[] };
  statefulIsAuthorized(call: {
    principal: { type: string; id: string };
    action: { type: string; id: string };
    resource: { type: string; id: string };
    context: Record<string, string>;
    preparsedPolicySetId: string;
    entities: [];
  }): CedarAnswer;
}

const CASES = [
  { size: 10, anchored: true },
  { size: 100, anchored: true },
  { size: 1000, anchored: true },
  { size: 1000, anchored: false },
];
const REQUESTS = 1000;

/**
 * `anchored`: globs start with a literal directory (/data/tenant-<i>/**), as most policies do.
 * Otherwise they start with ** (the worst case: no index can narrow them down).
 */
function ruleSet(count: number, anchored: boolean) {
  const tenants = count / 2;
  const root = anchored ? "/data" : "**";
  const cedarRoot = anchored ? "/data" : "*";
  const rules: object[] = [];
  const cedar: string[] = [];
  for (let i = 0; i < tenants; i++) {
    rules.push({ id: `t${i}-read`, action: "fs.read", resource: `${root}/tenant-${i}/**`, effect: "allow" });
    rules.push({ id: `t${i}-secret`, action: "fs.read", resource: `${root}/tenant-${i}/secret/**`, effect: "deny" });
    cedar.push(`@id("t${i}-read") permit(principal, action == Action::"fs.read", resource) when { context.path like "${cedarRoot}/tenant-${i}/*" };`);
    cedar.push(`@id("t${i}-secret") forbid(principal, action == Action::"fs.read", resource) when { context.path like "${cedarRoot}/tenant-${i}/secret/*" };`);
  }
  return { rules, cedar: cedar.join("\n"), tenants };
}

/** A deterministic mix: reads in a tenant, reads of its secrets, reads outside every tenant. */
function requests(tenants: number): Request[] {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: REQUESTS }, (_, i) => {
    const tenant = next() % (tenants * 1.1) | 0; // about 10% name no tenant the policy knows
    const kind = i % 3;
    const path = kind === 0 ? `/data/tenant-${tenant}/reports/q${i % 4}.csv` : kind === 1 ? `/data/tenant-${tenant}/secret/key-${i}` : `/data/tenant-${tenant}/x`;
    return canonicalRequest("fs.read", path, { agent: "bench" });
  });
}

/** Median microseconds per call of `fn` over `samples` batches of `batch` calls. */
function perCall(batch: number, samples: number, fn: (i: number) => unknown): number {
  const times: number[] = [];
  let k = 0;
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn(k++);
    times.push(((performance.now() - t0) * 1000) / batch);
  }
  return median(times);
}

export const policyBench: BenchSuite = {
  title: "policy decision latency (median per decision), beside Cedar's wasm authorizer on the same requests",
  async run(): Promise<BenchRow[]> {
    const cedar = createRequire(import.meta.url)("@cedar-policy/cedar-wasm/nodejs") as Cedar;
    // Ours first for every size, then Cedar: interleaving the two in one loop crashed V8 (Node 20)
    // intermittently in its deoptimizer; keeping the phases apart avoids it.
    const prepared = CASES.map(({ size, anchored }) => {
      const { rules, cedar: cedarText, tenants } = ruleSet(size, anchored);
      const policy = loadPolicy({ rules });
      const reqs = requests(tenants);
      const n = reqs.length;
      const effects = reqs.map((r) => policy.decide(r).effect);
      perCall(10_000, 20, (i) => policy.decide(reqs[i % n])); // warm up
      const ours = perCall(10_000, 41, (i) => policy.decide(reqs[i % n]));
      return { size, anchored, cedarText, reqs, effects, ours };
    });
    const rows: BenchRow[] = [];
    for (const { size, anchored, cedarText, reqs, effects, ours } of prepared) {
      const id = `bench-${size}-${anchored}`;
      const parsed = cedar.preparsePolicySet(id, { staticPolicies: cedarText });
      if (parsed.type !== "success") throw new Error(`cedar did not parse the policy set: ${JSON.stringify(parsed.errors)}`);
      const cedarDecide = (r: Request) => {
        const answer = cedar.statefulIsAuthorized({
          principal: { type: "Agent", id: r.agent },
          action: { type: "Action", id: r.action },
          resource: { type: "Path", id: "p" },
          context: { path: r.resource },
          preparsedPolicySetId: id,
          entities: [],
        });
        if (answer.type !== "success" || !answer.response || answer.response.diagnostics.errors.length) {
          throw new Error(`cedar failed: ${JSON.stringify(answer.errors ?? answer.response?.diagnostics.errors)}`);
        }
        return answer.response.decision;
      };
      reqs.forEach((r, i) => {
        const theirs = cedarDecide(r);
        if (theirs !== effects[i]) throw new Error(`decisions differ on ${r.resource}: ours ${effects[i]}, cedar ${theirs}`);
      });
      const n = reqs.length;
      const cedarBatch = size >= 1000 ? 5 : size >= 100 ? 20 : 100;
      perCall(cedarBatch, 3, (i) => cedarDecide(reqs[i % n]));
      const theirs = perCall(cedarBatch, size >= 1000 ? 21 : 41, (i) => cedarDecide(reqs[(i * 7) % n]));
      const name = `policy decision, ${size} rules${anchored ? "" : ", globs starting with ** (unindexable)"}`;
      const row: BenchRow = { name, value: ours, unit: "µs", better: "lower", baseline: { name: "cedar-wasm statefulIsAuthorized", value: theirs } };
      if (size === 1000 && anchored) row.target = { text: "< 2 µs median", met: ours < 2 };
      rows.push(row);
      rows.push({
        name: `speed-up over Cedar, ${size} rules${anchored ? "" : ", unindexable"}`,
        value: theirs / ours,
        unit: "×",
        better: "higher",
        ...(size === 1000 && anchored ? { target: { text: "≥ 5× faster than Cedar", met: theirs / ours >= 5 } } : {}),
      });
    }
    rows.push(...(await primeRows()));
    return rows;
  },
};
