// The smallest agent: it greets, logs what it did, and reads the kernel's clock.
import { log } from "agent-os/guest";

export async function run(task) {
  await log.info("greeting", { task });
  return `Hello from an isolate: ${task}`;
}
