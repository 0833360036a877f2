/**
 * Host-side checks for the SQL process tests, from /proc: which SQL processes this test process
 * started, which one holds a lock on a database (the one mid-statement), and whether one is gone.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import type * as Guest from "../../dist/guest-sdk/index.js";

/** Pids of the live SQL processes whose parent is this process. */
export function sqlChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== process.pid || fields[0] === "Z") continue;
      if (readFileSync(`/proc/${name}/cmdline`, "latin1").includes("sql-child")) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Pids that hold a POSIX lock on a file (from /proc/locks): a connection inside a transaction
 * (every statement the SQL capability runs is inside one) holds at least a shared lock on the
 * database file.
 */
export function lockHolders(file: string): number[] {
  const ino = statSync(file).ino;
  const out = new Set<number>();
  for (const line of readFileSync("/proc/locks", "latin1").split("\n")) {
    const m = /^\d+:\s+POSIX\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (m && Number(m[2]) === ino) out.add(Number(m[1]));
  }
  return [...out];
}

/** CPU time (user + system) a process has used, in clock ticks; undefined once it is gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Whether a process is gone (or a zombie nobody reaped yet: it runs nothing). */
export function gone(pid: number): boolean {
  return cpuTicks(pid) === undefined;
}

/**
 * A neighbour: for `ms` of the kernel's clock, makes host calls back to back (a log line, a
 * clock reading and, when asked, a one-row select in its own SQL process) and reports how many
 * rounds it made and the longest gap between two clock readings: how long the kernel kept it
 * waiting.
 */
export async function neighbour(task: string, { clock, log, sql }: typeof Guest): Promise<string> {
  const { ms, withSql } = JSON.parse(task) as { ms: number; withSql?: boolean };
  if (withSql) await sql.query("main", "SELECT 1"); // its SQL process is up before the clock starts
  const start = await clock.monotonic();
  let last = start;
  let maxGap = 0n;
  let rounds = 0;
  for (;;) {
    await log.info("tick");
    if (withSql) await sql.query("main", "SELECT 1");
    const now = await clock.monotonic();
    rounds++;
    if (now - last > maxGap) maxGap = now - last;
    last = now;
    if (now - start > BigInt(ms) * 1_000_000n) break;
  }
  return JSON.stringify({ rounds, maxGapMs: Number(maxGap / 1_000_000n) });
}

/** A recursive CTE that counts to `rows`: seconds to tens of seconds of one core, inside one step. */
export const runaway = (rows: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ${rows}) SELECT count(*) FROM c`;
