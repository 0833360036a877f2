// The bundling benchmark's agent: a file of its own and two npm packages (yaml, picomatch).
import { log } from "agent-os/guest";
import picomatch from "picomatch";
import { parse } from "yaml";
import { count } from "./deps-count.js";

export async function run(task) {
  const config = parse(task);
  const isMatch = picomatch(config.include, { windows: false });
  const names = config.names.filter((name) => isMatch(name));
  await log.info("matched", { count: count(names) });
  return names.join(",");
}
