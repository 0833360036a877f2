/**
 * What the sql case (sql-case.js `sqlCase`) must report on every host.
 */
import { expect } from "vitest";

type Outcome = [string, ...unknown[]];

export function expectSqlCase(r: { outcomes: Outcome[]; runaway: Outcome[]; replay: string; verified: boolean; reloaded: Outcome[] }): void {
  expect(r.outcomes.map((o) => o[0])).toEqual(["ok", "ok", "ok", "ok", "ok", "denied", "ok", "ok", "denied", "denied", "invalid"]);
  // The trigger's write to audit is the statement's: the policy sees it.
  expect(r.outcomes[5]).toEqual(["denied", "audit-kept", "the audit is the kernel's"]);
  // The view's base table is read: the policy sees it.
  expect(r.outcomes[8]).toEqual(["denied", "no-secrets", "secrets stay put"]);
  expect(r.outcomes[9][1]).toBeNull();
  expect(r.runaway[0][0]).toBe("limit");
  expect(r.runaway[0][1]).toMatch(/SQL time limit of \d+ ms/);
  expect(r.replay).toBe("identical");
  expect(r.verified).toBe(true);
  // Saved to the store by the first kernel, loaded by the second.
  expect(r.reloaded).toEqual([["ok", '{"columns":["body","score"],"rows":[["edge",2.5]],"changes":0}']]);
}
