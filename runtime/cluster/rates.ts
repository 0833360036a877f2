/**
 * Rate limits that hold across the cluster: each (policy, rule, key) window is a key in the
 * rates bucket holding the times of the calls it let through; a call is taken by
 * compare-and-set on the key's revision, so two nodes cannot both take the last place.
 * The times are the nodes' clocks: nodes must keep their clocks in step (NTP).
 */
import { createHash } from "node:crypto";
import type { KV } from "nats";
import type { SharedRates } from "../gate-rates.js";
import type { Rate } from "../policy/units.js";
import { json } from "./connect.js";
import { getJson, lostRace } from "./records.js";

const short = (text: string, n: number): string => createHash("sha256").update(text).digest("hex").slice(0, n);

/**
 * The cluster's rate counts in `kv`.
 * @example new KernelSpace({ sharedRates: clusterRates(conn.rates) })
 */
export function clusterRates(kv: KV): SharedRates {
  return {
    scope: "across the cluster",
    async take(policyHash: string, rule: string, rate: Readonly<Rate>, keys: readonly string[], now: number): Promise<boolean> {
      const names = keys.map((k) => `${policyHash.slice(0, 16)}.${short(rule, 16)}.${short(k, 24)}`);
      // Every key must have room before any is counted; then each is taken by compare-and-set.
      for (const name of names) if (!(await hasRoom(kv, name, rate, now))) return false;
      for (const name of names) if (!(await takeOne(kv, name, rate, now))) return false;
      return true;
    },
  };
}

async function hasRoom(kv: KV, name: string, rate: Readonly<Rate>, now: number): Promise<boolean> {
  const entry = await getJson<number[]>(kv, name);
  return !entry || recent(entry.value, rate, now).length < rate.count;
}

async function takeOne(kv: KV, name: string, rate: Readonly<Rate>, now: number): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const entry = await getJson<number[]>(kv, name);
    const times = entry ? recent(entry.value, rate, now) : [];
    if (times.length >= rate.count) return false;
    times.push(now);
    try {
      if (entry) await kv.update(name, json.encode(times), entry.revision);
      else await kv.create(name, json.encode(times));
      return true;
    } catch (error) {
      if (!lostRace(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (attempt + 1)));
    }
  }
  throw new Error("the count kept changing (too many nodes taking at once)");
}

/** The times still inside the window ending at `now`, oldest first. */
function recent(times: unknown, rate: Readonly<Rate>, now: number): number[] {
  if (!Array.isArray(times)) throw new Error("a rate count in the bucket is not a list of times");
  return times.filter((t): t is number => typeof t === "number" && now - t < rate.windowMs).sort((a, b) => a - b);
}
