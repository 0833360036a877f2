/**
 * Units in policy files: sizes ("64MiB"), durations ("30s") and rates ("60/minute").
 * Each parser returns the value or a message saying what was expected.
 */
import type { Limits } from "../types.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

const SIZE_UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1000,
  KiB: 1024,
  MB: 1000 ** 2,
  MiB: 1024 ** 2,
  GB: 1000 ** 3,
  GiB: 1024 ** 3,
};
const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const RATE_UNITS: Readonly<Record<string, number>> = { second: 1000, minute: 60_000, hour: 3_600_000 };

/** The largest count a rate may allow per window (its window keeps one timestamp per call). */
export const MAX_RATE_COUNT = 100_000;

const SIZE_EXPECTED = "a size: a whole number of bytes or a string like 512KiB, 64MiB, 1GB (units B, KB, KiB, MB, MiB, GB, GiB)";
const DURATION_EXPECTED = "a duration: whole milliseconds or a string like 250ms, 30s, 5m, 1h";
const COUNT_EXPECTED = "a whole number";

function withUnit(value: unknown, units: Readonly<Record<string, number>>): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$/.exec(value);
  if (!m || !Object.hasOwn(units, m[2])) return undefined;
  return Number(m[1]) * units[m[2]];
}

function whole(n: number | undefined, min: number, expected: string): Parsed<number> {
  if (n === undefined || !Number.isSafeInteger(n)) return { ok: false, expected };
  if (n < min) return { ok: false, expected: `${expected}, at least ${min}` };
  return { ok: true, value: n };
}

/**
 * Bytes from a number or a string with a unit (KB = 1000, KiB = 1024).
 *
 * @example parseSize("64MiB") // { ok: true, value: 67108864 }
 */
export function parseSize(value: unknown, min = 0): Parsed<number> {
  return whole(withUnit(value, SIZE_UNITS), min, SIZE_EXPECTED);
}

/**
 * Milliseconds from a number or a string with a unit (ms, s, m, h).
 *
 * @example parseDuration("1.5s") // { ok: true, value: 1500 }
 */
export function parseDuration(value: unknown, min = 0): Parsed<number> {
  return whole(withUnit(value, DURATION_UNITS), min, DURATION_EXPECTED);
}

/** A plain whole number. */
export function parseCount(value: unknown, min = 0): Parsed<number> {
  return whole(typeof value === "number" ? value : undefined, min, COUNT_EXPECTED);
}

export interface Rate {
  /** Calls allowed in any window. */
  count: number;
  unit: "second" | "minute" | "hour";
  windowMs: number;
}

/**
 * A rate such as "60/minute": at most 60 calls in any 60-second window.
 *
 * @example parseRate("10/second") // { ok: true, value: { count: 10, unit: "second", windowMs: 1000 } }
 */
export function parseRate(value: unknown): Parsed<Rate> {
  const expected = `a rate like 60/minute: a whole number from 1 to ${MAX_RATE_COUNT}, "/", and second, minute or hour`;
  if (typeof value !== "string") return { ok: false, expected };
  const m = /^\s*(\d+)\s*\/\s*(second|minute|hour)\s*$/.exec(value);
  if (!m) return { ok: false, expected };
  const count = Number(m[1]);
  if (count < 1 || count > MAX_RATE_COUNT) return { ok: false, expected };
  const unit = m[2] as Rate["unit"];
  return { ok: true, value: { count, unit, windowMs: RATE_UNITS[unit] } };
}

/** How each limit is written. */
export const LIMIT_KINDS: Readonly<Record<keyof Limits, { kind: "size" | "duration" | "count"; min: number }>> = {
  fuel: { kind: "count", min: 1 },
  memory: { kind: "size", min: 1 },
  wallTime: { kind: "duration", min: 1 },
  hostCalls: { kind: "count", min: 0 },
  output: { kind: "size", min: 0 },
  fsWriteBytes: { kind: "size", min: 0 },
  fsFilesCreated: { kind: "count", min: 0 },
  fsReadBytes: { kind: "size", min: 0 },
  httpBody: { kind: "size", min: 0 },
  httpTimeout: { kind: "duration", min: 1 },
  sqlRows: { kind: "count", min: 0 },
  sqlTimeout: { kind: "duration", min: 1 },
  sqlWriteBytes: { kind: "size", min: 0 },
  logBytes: { kind: "size", min: 1 },
  tokens: { kind: "count", min: 0 },
  maxTokensPerCall: { kind: "count", min: 1 },
};

/** Parses one limit by its kind. */
export function parseLimit(key: keyof Limits, value: unknown): Parsed<number> {
  const { kind, min } = LIMIT_KINDS[key];
  if (kind === "size") return parseSize(value, min);
  if (kind === "duration") return parseDuration(value, min);
  return parseCount(value, min);
}
