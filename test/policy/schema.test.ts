import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadPolicy } from "../../dist/runtime/policy/index.js";
import { FIXTURES, invalidFixtures } from "./fixtures.js";
import { schemaErrors } from "./json-schema.js";

const schema = JSON.parse(readFileSync("policies/policy.schema.json", "utf8")) as Record<string, unknown>;
const read = (path: string): unknown => parse(readFileSync(path, "utf8"));

function policyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? policyFiles(join(dir, e.name)) : /\.(ya?ml|json)$/.test(e.name) && !e.name.endsWith(".schema.json") ? [join(dir, e.name)] : [],
  );
}

describe("policies/policy.schema.json agrees with the loader", () => {
  const good = [...policyFiles("policies"), ...policyFiles(join(FIXTURES, "valid"))];

  it.each(good)("%s: loads, and the schema accepts it", (file) => {
    expect(() => loadPolicy(file)).not.toThrow();
    expect(schemaErrors(schema, read(file))).toEqual([]);
  });

  for (const fixture of invalidFixtures()) {
    if (fixture.schema === "unparsable") continue;
    it(`${fixture.file}: the loader rejects it, and the schema ${fixture.schema} it`, () => {
      expect(() => loadPolicy(fixture.path)).toThrow();
      expect(schemaErrors(schema, read(fixture.path)).length > 0).toBe(fixture.schema === "rejects");
    });
  }

  it("is referenced by every built-in policy for editors", () => {
    for (const file of policyFiles("policies").filter((f) => f.endsWith(".yaml"))) {
      expect(readFileSync(file, "utf8"), file).toMatch(/^# yaml-language-server: \$schema=(\.\.\/)?(\.\/)?policy\.schema\.json$/m);
    }
  });
});
