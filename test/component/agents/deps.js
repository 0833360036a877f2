// An agent with dependencies, for the conformance suite: a TypeScript module of its own and
// two npm packages (yaml, picomatch), bundled by the same step for both engines. The task is a
// workspace directory holding config.yaml (title, include, exclude).
import { fs, log } from "agent-os/guest";
import picomatch from "picomatch";
import { parse, stringify } from "yaml";
import { tally } from "./deps-lib.ts";

export async function run(task) {
  const config = parse(await fs.readText(`${task}/config.yaml`));
  const matches = picomatch(config.include, { ignore: config.exclude, windows: false });
  const names = (await fs.list(task)).map((entry) => entry.name).filter((name) => matches(name)).sort();
  const files = [];
  for (const name of names) files.push(tally(name, await fs.readText(`${task}/${name}`)));
  const report = stringify({ title: config.title, files });
  await fs.write(`${task}/report.yaml`, report);
  await log.info("report written", { files: names.length });
  return report;
}
