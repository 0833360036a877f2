/** Reading the invalid fixtures' headers: the error each must produce, where, and what the schema says. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES = "test/fixtures/policies";

export interface InvalidFixture {
  file: string;
  path: string;
  error: string;
  at: { file: string; line: number; column: number; field?: string };
  schema: "rejects" | "accepts" | "unparsable";
}

/** Every file in test/fixtures/policies/invalid with its `# error:`, `# at:` and `# schema:` header. */
export function invalidFixtures(): InvalidFixture[] {
  const dir = join(FIXTURES, "invalid");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), "utf8");
      const header = (key: string) => {
        const m = new RegExp(`^# ${key}: (.*)$`, "m").exec(text);
        if (!m) throw new Error(`${file}: missing "# ${key}:" header`);
        return m[1];
      };
      const at = /^(?:(\S+\.yaml):)?(\d+):(\d+)(?: (\S+))?$/.exec(header("at"));
      if (!at) throw new Error(`${file}: bad "# at:" header`);
      return {
        file,
        path: join(dir, file),
        error: header("error"),
        at: { file: at[1] ?? file, line: Number(at[2]), column: Number(at[3]), field: at[4] },
        schema: header("schema").split(" ")[0] as InvalidFixture["schema"],
      };
    });
}
