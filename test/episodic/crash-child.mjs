// Appends to the log in argv[2] in a loop, many appends in flight, until killed. After each
// append resolves (the reply is "sent") it prints "seq nonce" on a line (for crash.test.ts).
import { openLog } from "../../dist/runtime/episodic/index.js";

const [dir, round] = process.argv.slice(2);
const log = await openLog({ dir });
process.stdout.write("open\n");
let i = 0;
async function writer() {
  for (;;) {
    const nonce = `${round}-${i++}`;
    const e = await log.append({ type: "call", runId: `round-${round}`, pid: 1, agent: "crash", data: { action: "fs.write", nonce, pad: "x".repeat(200) } });
    process.stdout.write(`${e.seq} ${nonce}\n`);
  }
}
await Promise.all(Array.from({ length: 16 }, writer));
