// Tries to open the log in argv[2] and prints the error it gets as JSON (for lock.test.ts).
import { openLog } from "../../dist/runtime/episodic/index.js";

try {
  const log = await openLog({ dir: process.argv[2] });
  await log.close();
  process.stdout.write(JSON.stringify({ opened: true }));
} catch (err) {
  process.stdout.write(JSON.stringify({ name: err.name, code: err.code, message: err.message }));
}
