/**
 * Every spelling of the attack tables, tried by a real agent: a function registered with the
 * kernel, run in a QuickJS isolate in a worker thread, each call crossing the channel and the
 * gate to the capability. The agent reports what it was told; then the host is checked: the
 * files outside the mounts (and the read-only mount) are unchanged, the HTTP servers logged no
 * request they should not have, the tables still have their rows.
 *
 * The "broad" policy allows fs.*, http.fetch and sql.query on any resource, so that what holds
 * is the capabilities' containment, not the policy. SQL is the exception that proves the rule:
 * a statement the policy allows runs, so the SQL spellings are also tried under a policy that
 * decides on the analyzer's facts (operations and tables from SQLite's compiler), and every
 * table is also tried under the built-in `standard` policy.
 *
 * What stays at the capability level (http.test.ts): names answered by the test resolver
 * (TEST_DNS: `loopback.test`, `mixed.test`, a DNS answer that changes between two lookups),
 * because KernelSpace has no resolver option; through the kernel, `localhost` is the name that
 * resolves to loopback (the system's resolver).
 */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, posix, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KernelSpace, dnsResolver, type KernelOptions, type RunResult } from "../../dist/runtime/index.js";
import type * as Guest from "../../dist/guest-sdk/index.js";
import { PATH_ATTACKS, SQL_CASES, SQL_SCHEMA, URL_ATTACKS, type SqlCase } from "./attack-tables.js";
import { attack, type Call, type Told } from "./attacker.js";
import { startDnsServer, type DnsServer } from "./dns-server.js";
import { SECRET, buildPathTree, snapshotTree, tempDir, type PathTree } from "./helpers.js";

/** Every denial the run reports is a call event in the log, with the same rule. */
async function expectDenialsLogged(kernel: KernelSpace, result: RunResult): Promise<void> {
  const log = await kernel.log;
  const calls = new Map<number, { rule: string | null; effect: string }>();
  for await (const e of log.query({ runId: result.runId, type: "call" })) {
    calls.set(e.seq, (e.data as { decision: { rule: string | null; effect: string } }).decision);
  }
  for (const d of result.denials) {
    // A capability refuses what the policy allowed; everything else was logged as refused.
    if (d.kind === "capability") expect(["allow", "audit"], `denial #${d.seq} ${d.action} ${d.resource}`).toContain(calls.get(d.seq)?.effect);
    else expect(calls.get(d.seq), `denial #${d.seq} ${d.action} ${d.resource}`).toMatchObject({ rule: d.rule });
    if (d.kind !== "capability") expect(["deny", "stop", "kill"]).toContain(calls.get(d.seq)?.effect);
  }
}

// --- the host ----------------------------------------------------------------------------------

const BASICS = { id: "basics", action: ["log.write", "clock.now", "random.bytes", "process.*"], effect: "allow" };

/** Allows every capability call on every resource: what holds is the capabilities' containment. */
const BROAD = {
  version: 1,
  name: "broad",
  default: "deny",
  rules: [
    BASICS,
    { id: "fs-any", action: "fs.*", effect: "allow" },
    { id: "http-any", action: "http.fetch", effect: "allow" },
    { id: "sql-any", action: "sql.query", effect: "allow" },
  ],
};

/** A host directory tree per suite: the path-attack tree, and a SQLite file outside every mount. */
interface Host {
  root: string;
  tree: PathTree;
  /** Holds app.db (and must hold nothing else afterwards). */
  dbDir: string;
  dbFile: string;
  /** Everything outside the read-write mount: outside/, the read-only mount, the database's directory. */
  outsideMount(): Record<string, string>;
  counts(): Record<string, number>;
  cleanup(): void;
}

function makeHost(): Host {
  const tmp = tempDir("agents");
  const tree = buildPathTree(tmp.path);
  const dbDir = join(tmp.path, "db");
  mkdirSync(dbDir);
  const dbFile = join(dbDir, "app.db");
  const db = new Database(dbFile);
  db.exec(SQL_SCHEMA);
  db.close();
  return {
    root: tmp.path,
    tree,
    dbDir,
    dbFile,
    // The database file changes legitimately (allowed writes, journal files): its rows are checked by counts().
    outsideMount: () => snapshotTree(tmp.path, (p) => p === tree.ws || p === dbFile),
    counts: () => {
      const check = new Database(dbFile, { readonly: true });
      try {
        const out: Record<string, number> = {};
        for (const t of ["users", "secrets", "kv", "audit"]) out[t] = (check.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
        out.schema = (check.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number }).n;
        return out;
      } finally {
        check.close();
      }
    },
    cleanup: tmp.cleanup,
  };
}

const INITIAL_COUNTS = { users: 2, secrets: 1, kv: 1, audit: 2, schema: 11 };

function kernelFor(host: Host, policy: KernelOptions["policy"], options: Partial<KernelOptions> = {}): KernelSpace {
  return new KernelSpace({
    policy,
    log: false,
    pool: { warm: 1 },
    mounts: { "/workspace": host.tree.ws, "/data": { host: host.tree.data, readOnly: true } },
    databases: { main: host.dbFile, ro: { file: host.dbFile, readOnly: true } },
    // A statement of the tables must not meet the SQL time limit on a starved machine: that would
    // stop the run's SQL and turn every later answer into `limit` (sql-limits.test.ts tests the limit).
    limits: { sqlTimeout: 120_000 },
    ...options,
  });
}

/** Files an escaped write would most likely create, on the host, outside any temporary directory. */
const STRAY = ["/etc/agent-was-here", "/made", "/new.txt", resolve("copy.db"), resolve("other.db"), resolve("made")];
const strayBefore = STRAY.filter((p) => existsSync(p));

function expectNoStrayFiles(): void {
  expect(STRAY.filter((p) => existsSync(p))).toEqual(strayBefore);
}

// --- HTTP servers on loopback ------------------------------------------------------------------

interface Recorder {
  server: Server;
  port: number;
  /** Every request received: method and URL. */
  log: string[];
  /** The bodies of requests that had one, in order. */
  bodies: string[];
}

/** A real server that records every request; /redirect?to=X&status=N answers a redirect. */
async function recorder(host: string, port = 0): Promise<Recorder> {
  const log: string[] = [];
  const bodies: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    log.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (chunks.length > 0) bodies.push(Buffer.concat(chunks).toString("utf8"));
    });
    const url = new URL(req.url ?? "/", "http://x");
    const to = url.searchParams.get("to");
    if (url.pathname === "/redirect" && to !== null) {
      res.writeHead(Number(url.searchParams.get("status") ?? 302), { location: to });
      res.end();
      return;
    }
    res.end(`hello from ${host}, Host: ${req.headers.host}`);
  });
  await new Promise<void>((done) => server.listen(port, host, done));
  return { server, port: (server.address() as AddressInfo).port, log, bodies };
}

let victim: Recorder; // 127.0.0.1: allowed only where a test says so
let other: Recorder; // 127.0.0.2, same port: never allowed, must never see a request
let named: Recorder; // listens on "localhost": reached through a name that resolves to loopback

beforeAll(async () => {
  victim = await recorder("127.0.0.1");
  other = await recorder("127.0.0.2", victim.port);
  named = await recorder("localhost");
});

afterAll(async () => {
  for (const r of [victim, other, named]) await new Promise((done) => r.server.close(done));
});

beforeEach(() => {
  for (const r of [victim, other, named]) r.log.length = 0;
});

// --- the spellings -----------------------------------------------------------------------------

const LOOK_OPS = ["read", "readText", "stat", "list"] as const;

function lookCalls(paths: string[]): Call[] {
  return paths.flatMap((path) => LOOK_OPS.map((fs) => ({ fs, path })));
}

/** Every change an agent can ask for through one spelling; removals last, so they hide nothing. */
function changeCalls(paths: string[]): Call[] {
  const changes = paths.flatMap((path): Call[] => [
    { fs: "write", path, text: "PWNED" },
    { fs: "append", path, text: "PWNED" },
    { fs: "write", path: `${path}/new.txt`, text: "PWNED" },
    { fs: "mkdir", path: `${path}/made` },
  ]);
  return [...changes, ...paths.map((path): Call => ({ fs: "remove", path }))];
}

/**
 * Where a spelling of PATH_ATTACKS leads in the guest's tree, worked out without the kernel's
 * code: null for the rows the table marks invalid, else node's POSIX resolution (another
 * implementation of the same rules: `.` and `..` resolved, `..` at the root stays there, doubled
 * and trailing slashes dropped, nothing decoded).
 */
function guestLocation(path: string): string | null {
  const row = PATH_ATTACKS.find((a) => a.path === path);
  if (row === undefined) throw new Error(`not a row of PATH_ATTACKS: ${JSON.stringify(path)}`);
  return row.expect === "invalid" ? null : posix.resolve(path);
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

const insideAMount = (path: string) => {
  const location = guestLocation(path);
  return location !== null && (under(location, "/workspace") || under(location, "/data"));
};

/** Spellings against the read-only mount /data: nothing may change in it. */
const READ_ONLY_PATHS = [
  "/data/ro.txt",
  "/data/new.txt",
  "/data//ro.txt",
  "/data/./new.txt",
  "/data/sub/../ro.txt",
  "/data/",
  "/data/sub/deeper/x.txt",
  "/workspace/../data/ro.txt",
  "/DATA/ro.txt",
];

/** URL_ATTACKS whose host the system resolver can answer (the `.test` names need the test resolver). */
const AGENT_URL_ATTACKS = URL_ATTACKS.filter(({ url }) => {
  try {
    return !new URL(url.replace("PORT", "1")).hostname.endsWith(".test");
  } catch {
    return true;
  }
});

/** More spellings of loopback and private targets, and of what is not an http URL at all. */
const MORE_URL_ATTACKS: { url: string; expect: "denied" | "invalid"; note: string }[] = [
  { url: "http://0x7f.0x0.0x0.0x1:PORT/", expect: "denied", note: "hex in every part" },
  { url: "http://0177.0000.0000.0001:PORT/", expect: "denied", note: "octal, zero-padded" },
  { url: "http://127.0.0.1.:PORT/", expect: "denied", note: "IPv4 with a trailing dot" },
  { url: "http://%31%32%37.0.0.1:PORT/", expect: "denied", note: "percent-encoded host" },
  { url: "http://\u2460\u2461\u2466.0.0.1:PORT/", expect: "denied", note: "circled digits, mapped by IDNA" },
  { url: "http://127\u30020\u30020\u30021:PORT/", expect: "denied", note: "ideographic full stops" },
  { url: "HTTP://127.0.0.1:PORT/", expect: "denied", note: "upper-case scheme" },
  { url: " http://127.0.0.1:PORT/ ", expect: "denied", note: "surrounding spaces" },
  { url: "http:/127.0.0.1:PORT/", expect: "denied", note: "one slash" },
  { url: "http:\\\\127.0.0.1:PORT\\", expect: "denied", note: "backslashes for slashes" },
  { url: "http://[0:0:0:0:0:ffff:127.0.0.1]:PORT/", expect: "denied", note: "IPv4-mapped, long form" },
  { url: "http://[::ffff:169.254.169.254]/", expect: "denied", note: "IPv4-mapped metadata" },
  { url: "http://[::ffff:a00:1]/", expect: "denied", note: "IPv4-mapped 10.0.0.1, hex" },
  { url: "http://localhost#@93.184.216.34/", expect: "denied", note: "fragment trick, the host is localhost" },
  { url: "http://LocalHost.:PORT/x/../", expect: "denied", note: "mixed case, trailing dot, dot segments" },
  { url: "http://[fe80::1%25lo]:PORT/", expect: "invalid", note: "IPv6 zone id" },
  { url: "http://127.0.0.1:PORT@evil.example/", expect: "invalid", note: "user info naming the loopback" },
  { url: "http://evil.example\t@127.0.0.1:PORT/", expect: "invalid", note: "a tab in the user info" },
  { url: "ws://127.0.0.1:PORT/", expect: "invalid", note: "websocket scheme" },
  { url: "data:text/plain,hello", expect: "invalid", note: "data URL" },
  { url: "javascript:alert(1)", expect: "invalid", note: "javascript URL" },
  { url: "blob:http://127.0.0.1:PORT/x", expect: "invalid", note: "blob URL" },
  { url: "/relative/path", expect: "invalid", note: "relative URL" },
];

const withPort = (url: string, port: number) => url.replaceAll("PORT", String(port));

/**
 * Redirects from an allowed server (127.0.0.1) to targets that are not allowed: each hop passes
 * the gate and the address guard again.
 */
const REDIRECTS: { to: string; status?: number; method?: string; expect: "denied" | "invalid"; note: string }[] = [
  { to: "http://127.0.0.2:PORT/", expect: "denied", note: "another loopback address" },
  { to: "http://2130706434:PORT/", expect: "denied", note: "127.0.0.2, decimal" },
  { to: "http://0x7f.2:PORT/", expect: "denied", note: "127.0.0.2, hex" },
  { to: "//127.0.0.2:PORT/", expect: "denied", note: "scheme-relative location" },
  { to: "http://[::1]:PORT/", expect: "denied", note: "IPv6 loopback" },
  { to: "http://[::ffff:127.0.0.2]:PORT/", expect: "denied", note: "IPv4-mapped" },
  { to: "http://169.254.169.254/latest/meta-data/", expect: "denied", note: "cloud metadata" },
  { to: "http://10.0.0.1/", expect: "denied", note: "private 10/8" },
  { to: "http://127.0.0.2:PORT/", status: 307, method: "POST", expect: "denied", note: "307 keeping the method" },
  { to: "http://127.0.0.2:PORT/", status: 301, expect: "denied", note: "301" },
  { to: "/redirect?to=http%3A%2F%2F127.0.0.2%3APORT%2F", expect: "denied", note: "two hops, the second private" },
  { to: "file:///etc/passwd", expect: "invalid", note: "file scheme" },
  { to: "gopher://127.0.0.1:PORT/", expect: "invalid", note: "gopher scheme" },
  { to: "http://a@127.0.0.1:PORT/", expect: "invalid", note: "user info" },
];

/** Statements that only the capability (or SQLite) refuses: a policy that allows every statement lets them through. */
function rawSqlAttacks(host: Host): { sql: string; database?: string; params?: string[]; expect: string; note: string }[] {
  return [
    { sql: "select 1; drop table users", expect: "invalid", note: "stacked" },
    { sql: "SELECT 1;DROP TABLE users;", expect: "invalid", note: "stacked, no spaces" },
    { sql: "select 1; /* x */ drop table users", expect: "invalid", note: "stacked after a comment" },
    { sql: "SELECT 1 /* */; DELETE FROM users", expect: "invalid", note: "stacked DELETE" },
    { sql: `ATTACH '${host.dbDir}/attached.db' AS a`, expect: "denied", note: "ATTACH" },
    { sql: `attach database '${host.tree.outside}/x.db' as m`, expect: "denied", note: "ATTACH outside" },
    { sql: "SELECT load_extension('/tmp/nothing.so')", expect: "denied", note: "load_extension" },
    { sql: "select LOAD_EXTENSION('x', 'init')", expect: "denied", note: "load_extension, upper case" },
    { sql: "SELECT name, load_extension('x') FROM user_names", expect: "denied", note: "load_extension over a view" },
    { sql: `VACUUM INTO '${host.tree.outside}/copy.db'`, expect: "denied", note: "VACUUM INTO a host file" },
    { sql: `vacuum main into '${host.dbDir}/copy2.db'`, expect: "denied", note: "VACUUM main INTO" },
    { sql: "VACUUM INTO ?", params: [`${host.tree.outside}/bound.db`], expect: "denied", note: "VACUUM INTO a bound name" },
    { sql: `VACUUM INTO '${host.tree.outside}/ro-copy.db'`, database: "ro", expect: "denied", note: "VACUUM INTO from the read-only database" },
    { sql: "DELETE FROM users", database: "ro", expect: "denied", note: "a write to the read-only database" },
    { sql: "UPDATE sqlite_schema SET sql = 'CREATE TABLE users(x)' WHERE name = 'users'", expect: "invalid", note: "schema rewrite" },
    { sql: "PRAGMA writable_schema = 1", expect: "denied", note: "the capability refuses to set writable_schema (defensive mode would keep the schema read-only anyway)" },
    { sql: "UPDATE sqlite_schema SET sql = 'CREATE TABLE users(x)' WHERE name = 'users'", expect: "invalid", note: "schema rewrite after writable_schema" },
    { sql: "DELETE FROM sqlite_master WHERE name = 'secrets'", expect: "invalid", note: "schema delete after writable_schema" },
    { sql: "SELECT count(*) FROM users WHERE name = ?", params: ["'); DROP TABLE users; --"], expect: "ok", note: "a parameter is data" },
  ];
}

/** SQL_CASES with relative file names (resolved against the host's working directory) moved into `dir`. */
function sqlCasesIn(dir: string): SqlCase[] {
  return SQL_CASES.map((c) => ({ ...c, sql: c.sql.replace(/'(other|copy)\.db'/g, `'${dir}/$1.db'`) }));
}

// --- fs ----------------------------------------------------------------------------------------

describe("fs through a real agent: nothing outside the mounts exists", () => {
  let host: Host;
  let kernel: KernelSpace;
  beforeAll(() => {
    host = makeHost();
    kernel = kernelFor(host, BROAD);
  });
  afterAll(async () => {
    await kernel.close();
    host.cleanup();
  });

  it("tries every path spelling: reads answer as the table says, changes leave the host untouched", async () => {
    expect(PATH_ATTACKS.length + READ_ONLY_PATHS.length).toBeGreaterThanOrEqual(30);
    const before = host.outsideMount();
    const paths = PATH_ATTACKS.map((a) => a.path);

    const look = await attack(kernel, lookCalls(paths));
    PATH_ATTACKS.forEach(({ path, expect: tag }, i) => {
      const [read, readText, stat, list] = look.told.slice(i * 4, i * 4 + 4);
      for (const t of [read, readText]) expect(t.value ?? "", path).not.toContain(SECRET);
      expect(list.value ?? "", path).not.toContain("secret.txt");
      expect([read.tag, readText.tag, stat.tag], path).toEqual([tag, tag, tag]); // a NUL arrives whole, and is refused
    });

    const change = await attack(kernel, changeCalls(paths));
    const perPath = (i: number) => [...change.told.slice(i * 4, i * 4 + 4), change.told[paths.length * 4 + i]];
    paths.forEach((path, i) => {
      if (path.includes("\0")) expect(perPath(i).map((t) => t.tag), path).toEqual(Array(5).fill("invalid")); // whole, never cut at the NUL
      else if (!insideAMount(path)) expect(perPath(i).filter((t) => t.tag === "ok"), path).toEqual([]);
    });

    expect(host.outsideMount()).toEqual(before);
    expect(readFileSync(join(host.tree.outside, "secret.txt"), "utf8")).toBe(SECRET);
    expectNoStrayFiles();
    // The policy allowed everything: no denial came from it.
    expect([...look.result.denials, ...change.result.denials].filter((d) => d.kind === "policy")).toEqual([]);
  });

  it("the read-only mount can be read and never changed", async () => {
    const before = host.outsideMount();
    const { told } = await attack(kernel, [{ fs: "readText", path: "/data/ro.txt" }, ...changeCalls(READ_ONLY_PATHS)]);
    expect(told[0]).toEqual({ tag: "ok", value: "read only" });
    READ_ONLY_PATHS.forEach((path, i) => {
      const answers = [...told.slice(1 + i * 4, 1 + i * 4 + 4), told[1 + READ_ONLY_PATHS.length * 4 + i]];
      const expected = path === "/DATA/ro.txt" ? { tag: "not-found" } : { tag: "denied", rule: null, reason: "mount /data is read-only" };
      for (const answer of answers) expect(answer, path).toMatchObject(expected);
    });
    expect(host.outsideMount()).toEqual(before);
  });

  it("a link swapped in and out by another process while the agent reads and writes never leads outside", async () => {
    const before = host.outsideMount();
    const script = `
      const fs = require("node:fs");
      const [race, real, outside] = process.argv.slice(1);
      for (;;) {
        try { fs.renameSync(race, real); fs.symlinkSync(outside, race); fs.unlinkSync(race); fs.renameSync(real, race); } catch {}
      }`;
    const swapper = spawn(process.execPath, ["-e", script, join(host.tree.ws, "race"), join(host.tree.ws, "race-real"), host.tree.outside], { stdio: "ignore" });
    const exited = new Promise((done) => swapper.once("exit", done));
    let told: Told[];
    try {
      // Start once the swapping has (so the agent's calls overlap it, however loaded the machine).
      for (let i = 0; i < 500 && !existsSync(join(host.tree.ws, "race-real")); i++) await new Promise((r) => setTimeout(r, 10));
      ({ told } = await attack(
        kernel,
        [
          { fs: "readText", path: "/workspace/race/f.txt" },
          { fs: "write", path: "/workspace/race/w.txt", text: "PWNED" },
          { fs: "append", path: "/workspace/race/f.txt", text: "+" },
          { fs: "mkdir", path: "/workspace/race/sub" },
          { fs: "list", path: "/workspace/race" },
        ],
        60,
      ));
    } finally {
      swapper.kill("SIGKILL");
      await exited;
    }
    expect(told.some((t) => t.value?.includes(SECRET) || t.value?.includes("secret.txt"))).toBe(false);
    expect(host.outsideMount()).toEqual(before);
  });

  // Strings cross by length: a path arrives whole, NUL included, and the canonicalizer refuses it.
  it("a path with a NUL byte is refused as invalid, not cut off at the NUL", async () => {
    const { told } = await attack(kernel, [{ fs: "readText", path: "/workspace/inner.txt\0/../../outside/secret.txt" }]);
    expect(told[0].tag).toBe("invalid");
  });

  it("text with a NUL byte is written whole, never truncated", async () => {
    const { told } = await attack(kernel, [{ fs: "write", path: "/workspace/nul.txt", text: "abc\0def\0" }]);
    expect(told[0].tag).toBe("ok");
    expect(readFileSync(join(host.tree.ws, "nul.txt"), "latin1")).toBe("abc\0def\0");
  });
});

// --- http --------------------------------------------------------------------------------------

describe("http through a real agent: no request reaches a private target", () => {
  let host: Host;
  let closed: KernelSpace; // no private target allowed
  let open: KernelSpace; // 127.0.0.1 and localhost allowed, as an operator would for a local service
  beforeAll(() => {
    host = makeHost();
    closed = kernelFor(host, BROAD);
    const port = victim.port;
    open = kernelFor(
      host,
      { ...BROAD, rules: [...BROAD.rules, { id: "no-secret", action: "http.fetch", resource: `http://127.0.0.1:${port}/secret/**`, effect: "deny" }] },
      { allowPrivate: ["127.0.0.1", "localhost"] },
    );
  });
  afterAll(async () => {
    await Promise.all([closed.close(), open.close()]);
    host.cleanup();
  });

  it("refuses every spelling of a loopback, private or metadata address, and every other scheme", async () => {
    const attacks = [...AGENT_URL_ATTACKS, ...MORE_URL_ATTACKS];
    expect(attacks.length).toBeGreaterThanOrEqual(25);
    const { told, result } = await attack(closed, attacks.map(({ url }) => ({ http: withPort(url, victim.port) })));
    attacks.forEach(({ url, expect: tag, note }, i) => {
      expect(told[i].tag, `${url} (${note})`).toBe(tag);
      // A refusal after DNS comes from the kernel's address guard, not from a policy rule.
      if (tag === "denied") expect(told[i], `${url} (${note})`).toMatchObject({ rule: null, reason: expect.stringContaining("address guard") });
    });
    // Each refusal is listed, as the address guard's (a capability), none as the policy's.
    expect(result.denials.map((d) => d.kind)).toEqual(attacks.map((a) => (a.expect === "invalid" ? "invalid" : "capability")));
    expect([victim.log, other.log, named.log]).toEqual([[], [], []]);
  });

  it("reaches an allowed server by address and through a name that resolves to loopback", async () => {
    const { told } = await attack(open, [{ http: `http://127.0.0.1:${victim.port}/ok` }, { http: `http://LOCALHOST:${named.port}/by-name` }]);
    expect(told[0]).toEqual({ tag: "ok", value: `200 hello from 127.0.0.1, Host: 127.0.0.1:${victim.port}` });
    expect(told[1]).toEqual({ tag: "ok", value: `200 hello from localhost, Host: localhost:${named.port}` });
    expect(victim.log).toEqual(["GET /ok"]);
    expect(named.log).toEqual(["GET /by-name"]);
  });

  it("follows no redirect to a target that is not allowed: the allowed server sees only its own hops", async () => {
    const port = victim.port;
    const calls = REDIRECTS.map(({ to, status, method }): Call => ({
      http: `http://127.0.0.1:${port}/redirect?status=${status ?? 302}&to=${encodeURIComponent(withPort(to, port))}`,
      method,
    }));
    const { told } = await attack(open, calls);
    REDIRECTS.forEach(({ to, expect: tag, note }, i) => expect(told[i].tag, `${to} (${note}): ${JSON.stringify(told[i])}`).toBe(tag));
    const hops = REDIRECTS.reduce((n, r) => n + (r.to.startsWith("/redirect") ? 2 : 1), 0);
    expect(victim.log).toHaveLength(hops);
    expect(victim.log.every((line) => / \/redirect\?/.test(line))).toBe(true);
    expect(other.log).toEqual([]);
  });

  it("a redirect the policy denies is decided, logged and reported with its rule, and not requested", async () => {
    const port = victim.port;
    const { told, result } = await attack(open, [{ http: `http://127.0.0.1:${port}/redirect?to=/secret/x` }]);
    expect(told[0]).toMatchObject({ tag: "denied" });
    expect(result.denials).toMatchObject([{ action: "http.fetch", resource: `http://127.0.0.1:${port}/secret/x`, rule: "no-secret" }]);
    await expectDenialsLogged(open, result);
    expect(victim.log).toEqual(["GET /redirect?to=/secret/x"]);
  });

  it("a request body (a Uint8Array from the SDK) reaches the allowed server", async () => {
    const { told } = await attack(open, [{ http: `http://127.0.0.1:${victim.port}/post`, method: "POST", body: "payload" }]);
    expect(told[0].tag).toBe("ok");
    expect(victim.log).toContain("POST /post");
    expect(victim.bodies).toContain("payload");
  });

  it("refuses headers and methods an agent may not use, before any request", async () => {
    const url = `http://127.0.0.1:${victim.port}/`;
    const calls: Call[] = [
      { http: url, headers: { Host: "evil.example" } },
      { http: url, headers: { "Proxy-Authorization": "Basic x" } },
      { http: url, headers: { "Transfer-Encoding": "chunked" } },
      { http: url, headers: { Connection: "upgrade" } },
      { http: url, headers: { "X-A": "1\r\nHost: evil.example" } },
      { http: url, method: "TRACE" },
      { http: url, method: "CONNECT" },
      { http: url, method: "GET / HTTP/1.1\r\nHost: x" },
    ];
    const { told } = await attack(open, calls);
    expect(told.map((t) => t.tag)).toEqual(calls.map(() => "invalid"));
    expect(victim.log).toEqual([]);
  });
});

describe("http through a real agent: names answered by a real DNS server, one that rebinds", () => {
  let dns: DnsServer;
  let host: Host;
  let kernel: KernelSpace; // 127.0.0.1 allowed; names resolved by the test's DNS server only
  beforeAll(async () => {
    dns = await startDnsServer((name, n) => {
      switch (name) {
        case "api.test":
          return ["127.0.0.1"];
        case "rebind.test": // allowed first, then a private address that is never allowed
          return [n === 0 ? "127.0.0.1" : "127.0.0.2"];
        case "flip.test": // the other way round
          return [n === 0 ? "127.0.0.2" : "127.0.0.1"];
        case "mixed.test": // both at once: how a rebinding attack often starts
          return ["127.0.0.1", "127.0.0.2"];
        default:
          return [];
      }
    });
    host = makeHost();
    kernel = kernelFor(host, BROAD, { allowPrivate: ["127.0.0.1"], resolver: dnsResolver([dns.address]) });
  });
  afterAll(async () => {
    await kernel.close();
    await dns.close();
    host.cleanup();
  });
  const aQueries = (name: string) => dns.queries.filter((q) => q.name === name && q.type === "A").length;

  it("reaches a name that resolves to loopback through the DNS server, keeping the name as Host", async () => {
    const { told } = await attack(kernel, [{ http: `http://API.test:${victim.port}/named` }]);
    expect(told[0]).toEqual({ tag: "ok", value: `200 hello from 127.0.0.1, Host: api.test:${victim.port}` });
    expect(victim.log).toEqual(["GET /named"]);
    expect(aQueries("api.test")).toBe(1);
  });

  it("DNS rebinding fails: a request goes to the address that was checked, one lookup each", async () => {
    const port = victim.port;
    const { told } = await attack(kernel, [
      { http: `http://rebind.test:${port}/one` },
      { http: `http://rebind.test:${port}/two` },
      { http: `http://flip.test:${port}/three` },
      { http: `http://mixed.test:${port}/four` },
      { http: `http://nowhere.test:${port}/five` },
    ]);
    // 1: checked 127.0.0.1 and connected there, though the server's next answer is 127.0.0.2.
    expect(told[0]).toEqual({ tag: "ok", value: `200 hello from 127.0.0.1, Host: rebind.test:${port}` });
    // 2, 3, 4: an answer naming 127.0.0.2 is refused by the address guard before any connection.
    for (const t of told.slice(1, 4)) expect(t).toMatchObject({ tag: "denied", rule: null, reason: expect.stringContaining("127.0.0.2") });
    expect(told[4].tag).toBe("io"); // no address at all
    expect(victim.log).toEqual(["GET /one"]);
    expect(other.log).toEqual([]);
    // One A query per request: the connection never looked the name up a second time.
    expect([aQueries("rebind.test"), aQueries("flip.test"), aQueries("mixed.test")]).toEqual([2, 1, 1]);
  });
});

// --- sql ---------------------------------------------------------------------------------------

/** Decides SQL on the analyzer's facts only (no text pattern): reads of public tables go ahead. */
const SQL_FACTS_POLICY = {
  version: 1,
  name: "sql-facts",
  default: "deny",
  rules: [
    BASICS,
    { id: "sql-select", action: "sql.query", operations: ["select"], effect: "allow" },
    { id: "sql-no-writes", action: "sql.query", operations: ["insert", "update", "delete", "create", "drop", "alter", "pragma", "attach", "transaction", "other"], effect: "deny" },
    { id: "sql-no-secrets", action: "sql.query", tables: ["secrets"], effect: "deny" },
  ],
};

/** Everything but deleting and dropping, decided on the analyzer's facts; reads and writes in the workspace. */
const NO_DELETE_POLICY = {
  version: 1,
  name: "no-delete",
  default: "deny",
  rules: [
    BASICS,
    { id: "fs-any", action: "fs.*", effect: "allow" },
    { id: "sql-any", action: "sql.query", effect: "allow" },
    { id: "sql-keep-rows", action: "sql.query", operations: ["delete", "drop"], effect: "deny" },
  ],
};

describe("sql through a real agent: the tables keep their rows", () => {
  let host: Host;
  let facts: KernelSpace;
  let broad: KernelSpace;
  beforeAll(() => {
    host = makeHost();
    facts = kernelFor(host, SQL_FACTS_POLICY);
    broad = kernelFor(host, BROAD);
  });
  afterAll(async () => {
    await Promise.all([facts.close(), broad.close()]);
    host.cleanup();
  });

  describe("a trigger planted after a statement was first allowed is seen the next time the statement comes", () => {
    let own: Host;
    let kernel: KernelSpace;
    beforeEach(() => {
      own = makeHost();
      kernel = kernelFor(own, NO_DELETE_POLICY);
    });
    afterEach(async () => {
      await kernel.close();
      own.cleanup();
    });

    it("planted by the agent itself (a temp trigger changes only temp's schema)", async () => {
      const insert = "INSERT INTO kv VALUES (?, 1)";
      const { told, result } = await attack(kernel, [
        { sql: insert, params: ["p1"] },
        { sql: "CREATE TEMP TRIGGER plant AFTER INSERT ON main.kv BEGIN DELETE FROM users; END" },
        { sql: insert, params: ["p2"] },
        { sql: "CREATE TRIGGER plant2 AFTER UPDATE ON kv BEGIN DELETE FROM secrets; END" },
        { sql: "UPDATE kv SET v = 2 WHERE k = 'p1'" },
      ]);
      expect(told.map((t) => t.tag)).toEqual(["ok", "ok", "denied", "ok", "denied"]);
      expect(result.denials.map((d) => d.rule)).toEqual(["sql-keep-rows", "sql-keep-rows"]);
      expect(own.counts()).toMatchObject({ users: 2, secrets: 1 });
    });

    it("planted by another connection while the agent runs", async () => {
      // The agent inserts, says so, waits for the host's word, and inserts again: in between, the
      // host adds a trigger through a connection of its own.
      const agent = kernel.register(async function waiter(_task: string, { fs, sql }: typeof Guest) {
        const insert = "INSERT INTO kv VALUES (?, 1)";
        const told: string[] = [];
        const tell = async (fn: () => Promise<unknown>) => {
          try {
            await fn();
            told.push("ok");
          } catch (e) {
            told.push(String((e as { rule?: string }).rule ?? (e as { kind?: string }).kind));
          }
        };
        await tell(() => sql.query("main", insert, ["p1"]));
        await fs.write("/workspace/ready", "");
        for (let i = 0; i < 100000; i++) {
          try {
            await fs.stat("/workspace/go");
            break;
          } catch {
            // not yet
          }
        }
        // The run remembers the statement's facts from the first insert: the process finds they
        // changed and refuses (io, "try again") before anything runs; tried again, it is decided
        // on the new facts.
        await tell(() => sql.query("main", insert, ["p2"]));
        if (told[told.length - 1] === "io") await tell(() => sql.query("main", insert, ["p2"]));
        return told.join(" ");
      });
      const proc = kernel.spawn(agent, "");
      const ready = join(own.tree.ws, "ready");
      for (let i = 0; i < 3000 && !existsSync(ready); i++) await new Promise((r) => setTimeout(r, 5));
      const db = new Database(own.dbFile);
      db.exec("CREATE TRIGGER plant AFTER INSERT ON kv BEGIN DELETE FROM users; END");
      db.close();
      writeFileSync(join(own.tree.ws, "go"), "");
      const result = await proc.wait();
      expect(result).toMatchObject({ status: "ok", output: "ok io sql-keep-rows" });
      expect(own.counts()).toMatchObject({ users: 2, secrets: 1 });
    });
  });

  it("every SQL spelling is decided on what SQLite's compiler says it does", async () => {
    expect(SQL_CASES.length).toBeGreaterThanOrEqual(25);
    const cases = sqlCasesIn(host.dbDir);
    const { told, result } = await attack(facts, cases.map((c) => ({ sql: c.sql })));
    cases.forEach((c, i) => {
      const label = `${c.sql} -> ${JSON.stringify(told[i])}`;
      if (c.invalid) return expect(told[i].tag, label).toBe("invalid");
      const denying = [
        ...((c.operations ?? []).some((op) => op !== "select") ? ["sql-no-writes"] : []),
        ...[...(c.reads ?? []), ...(c.writes ?? [])].includes("secrets") ? ["sql-no-secrets"] : [],
      ];
      if (denying.length === 0) return expect(told[i].tag, label).toBe("ok");
      expect(told[i].tag, label).toBe("denied");
      expect(denying, label).toContain(told[i].rule);
    });
    expect(result.denials.filter((d) => d.kind !== "invalid").length).toBe(told.filter((t) => t.tag === "denied").length);
    await expectDenialsLogged(facts, result);
    expect(host.counts()).toEqual(INITIAL_COUNTS);
    expect(existsSync(join(host.dbDir, "copy.db"))).toBe(false);
    expectNoStrayFiles();
  });

  it("what a policy allows, the capability still confines: stacked statements, ATTACH, load_extension, VACUUM INTO, the schema", async () => {
    const before = host.outsideMount();
    const attacks = rawSqlAttacks(host);
    const { told } = await attack(broad, attacks.map(({ sql, database, params }) => ({ sql, database, params })));
    attacks.forEach(({ sql, expect: tag, note }, i) => expect(told[i].tag, `${sql} (${note}): ${JSON.stringify(told[i])}`).toBe(tag));
    expect(host.counts()).toEqual(INITIAL_COUNTS);
    expect(host.outsideMount()).toEqual(before);
  });
});

// --- the built-in standard policy --------------------------------------------------------------

describe("every table through a real agent under the built-in standard policy", () => {
  let host: Host;
  let kernel: KernelSpace;
  beforeAll(() => {
    host = makeHost();
    kernel = kernelFor(host, "standard", { allowPrivate: ["127.0.0.1"] });
  });
  afterAll(async () => {
    await kernel.close();
    host.cleanup();
  });

  it("paths: outside /workspace the policy denies, inside it the capability contains", async () => {
    const before = host.outsideMount();
    const paths = PATH_ATTACKS.map((a) => a.path);
    const look = await attack(kernel, lookCalls(paths));
    PATH_ATTACKS.forEach(({ path, expect: tag }, i) => {
      for (const t of look.told.slice(i * 4, i * 4 + 2)) expect(t.value ?? "", path).not.toContain(SECRET);
      const location = guestLocation(path); // a path with a NUL arrives whole: invalid
      const expected = location === null ? "invalid" : under(location, "/workspace") ? tag : "denied";
      expect(
        look.told.slice(i * 4, i * 4 + 3).map((t) => t.tag),
        path,
      ).toEqual([expected, expected, expected]);
    });
    const change = await attack(kernel, [...changeCalls(paths), ...changeCalls(READ_ONLY_PATHS)]);
    expect(change.told.filter((t) => t.tag === "ok").length).toBeGreaterThan(0); // inside /workspace, writes go ahead
    await expectDenialsLogged(kernel, look.result);
    await expectDenialsLogged(kernel, change.result);
    expect(host.outsideMount()).toEqual(before);
    expectNoStrayFiles();
  });

  it("URLs: the network is closed, whatever the spelling", async () => {
    const attacks = [...AGENT_URL_ATTACKS, ...MORE_URL_ATTACKS];
    const { told, result } = await attack(kernel, attacks.map(({ url }) => ({ http: withPort(url, victim.port) })));
    attacks.forEach(({ url, expect: tag }, i) => expect(told[i].tag, url).toBe(tag));
    expect(result.denials.filter((d) => d.kind !== "invalid").length).toBe(attacks.filter((a) => a.expect === "denied").length);
    await expectDenialsLogged(kernel, result);
    expect([victim.log, other.log, named.log]).toEqual([[], [], []]);
  });

  it("SQL: nothing destructive runs, nothing is written outside the database", async () => {
    const before = host.outsideMount();
    const cases = sqlCasesIn(host.dbDir);
    const raw = rawSqlAttacks(host);
    // The raw attacks first: SQL_CASES leaves a transaction open (BEGIN, SAVEPOINT), in which VACUUM cannot run at all.
    const { told, result } = await attack(kernel, [...raw.map(({ sql, database, params }) => ({ sql, database, params })), ...cases.map((c) => ({ sql: c.sql }))]);
    const destructive = ["drop", "delete", "alter", "attach", "pragma"];
    raw.forEach(({ sql, expect: tag }, i) => {
      if (tag !== "ok") expect(told[i].tag, sql).not.toBe("ok");
    });
    cases.forEach((c, j) => {
      const i = raw.length + j;
      const label = `${c.sql} -> ${JSON.stringify(told[i])}`;
      if (c.invalid) return expect(told[i].tag, label).toBe("invalid");
      if ((c.operations ?? []).some((op) => destructive.includes(op))) {
        expect(told[i].tag, label).toBe("denied");
        expect(["standard-sql-destructive-text", "standard-sql-destructive-operations"], label).toContain(told[i].rule);
      }
    });
    await expectDenialsLogged(kernel, result);
    // Inserts and updates are allowed under standard; no row may be gone.
    const counts = host.counts();
    expect(counts.users).toBeGreaterThanOrEqual(2);
    expect(counts.secrets).toBe(1);
    expect(counts.kv).toBeGreaterThanOrEqual(1);
    expect(counts.schema).toBeGreaterThanOrEqual(INITIAL_COUNTS.schema);
    expect(host.outsideMount()).toEqual(before);
    expect(existsSync(join(host.dbDir, "copy.db"))).toBe(false);
    expectNoStrayFiles();
  });
});

afterAll(() => {
  // An escaped VACUUM INTO or ATTACH with a relative name lands in the working directory: never leave it there.
  for (const p of STRAY) if (!strayBefore.includes(p)) rmSync(p, { force: true, recursive: true });
});
