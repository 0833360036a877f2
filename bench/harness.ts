/**
 * The benchmark harness: every figure is printed beside a baseline measured in the same run,
 * as a ratio, so that the noise of a shared machine cancels out.
 */

export interface BenchRow {
  /** What was measured, e.g. "gated host call (no-op)". */
  name: string;
  value: number;
  /** Unit of value and baseline, e.g. "calls/s", "µs", "ms". */
  unit: string;
  /** Whether a larger value is better (throughput) or a smaller one (latency). */
  better: "higher" | "lower";
  baseline?: { name: string; value: number };
  /** The target, in words, and whether this run met it. */
  target?: { text: string; met: boolean };
}

export interface BenchSuite {
  title: string;
  run(): Promise<BenchRow[]>;
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `fn` `count` times and returns each duration in microseconds. */
export async function timeEach(count: number, fn: () => unknown | Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await fn();
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/** Calls per second of `fn` over at least `minMs` milliseconds, in batches of `batch`. */
export async function throughput(fn: () => unknown | Promise<unknown>, minMs = 500, batch = 1000): Promise<number> {
  let calls = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < batch; i++) await fn();
    calls += batch;
    elapsed = performance.now() - t0;
  }
  return calls / (elapsed / 1000);
}

function fmt(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString("en-US");
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A ratio with two significant digits even when it is tiny (0.00012×), never "0.00×". */
function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return "-";
  return ratio >= 0.1 ? `${ratio.toFixed(2)}×` : `${ratio.toPrecision(2)}×`;
}

/** Formats rows as a plain-text table. */
export function formatTable(title: string, rows: BenchRow[]): string {
  const header = ["measure", "value", "baseline", "baseline value", "ratio", "target"];
  const lines = rows.map((r) => {
    const ratio = r.baseline ? r.value / r.baseline.value : undefined;
    return [
      r.name,
      `${fmt(r.value)} ${r.unit}`,
      r.baseline?.name ?? "-",
      r.baseline ? `${fmt(r.baseline.value)} ${r.unit}` : "-",
      ratio === undefined ? "-" : formatRatio(ratio),
      r.target ? `${r.target.met ? "met" : "MISSED"}: ${r.target.text}` : "-",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [`\n${title}`, row(header), row(widths.map((w) => "-".repeat(w))), ...lines.map(row)].join("\n");
}

/** What the SIGSTOP measurement needs of a process (an AgentProcess). */
export interface Stoppable {
  readonly usage: { fuel: number };
  signal(signal: "SIGSTOP" | "SIGKILL"): void;
  stopped(timeoutMs?: number): Promise<boolean>;
  wait(): Promise<unknown>;
}

/**
 * Milliseconds from SIGSTOP to the guest's acknowledgement, `count` times: each process is
 * spawned, `inLoop` is awaited (the agent has made the host call it makes on entering its
 * spin loop), then the fuel counter must move once more, so that the signal lands in the loop
 * and not while the engine still loads the agent (QuickJS does not interrupt compilation).
 */
export async function sigstopLatencies(count: number, spawn: () => Stoppable, inLoop: () => boolean): Promise<number[]> {
  const stops: number[] = [];
  for (let i = 0; i < count; i++) {
    const proc = spawn();
    while (!inLoop()) await new Promise((r) => setTimeout(r, 1));
    const fuel = proc.usage.fuel;
    while (proc.usage.fuel === fuel) await new Promise((r) => setImmediate(r));
    const t0 = performance.now();
    proc.signal("SIGSTOP");
    await proc.stopped(1000);
    stops.push(performance.now() - t0);
    proc.signal("SIGKILL");
    await proc.wait();
  }
  return stops;
}
