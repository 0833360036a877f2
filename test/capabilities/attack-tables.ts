/**
 * Attack spellings, as data, shared by the capability tests and (later) the tests that try
 * them through a real agent. Each table says what the capability must answer.
 */

/**
 * Path spellings against a mount `/workspace` (host `ws/`) beside a host directory `outside/`
 * holding `secret.txt`. The fixture (see fs.test.ts `makeFixture`) creates these links in ws/:
 * link-out -> ../outside, file-link -> ../outside/secret.txt, abs-link -> <abs>/outside/secret.txt,
 * chain -> link-out/secret.txt, loop -> loop, dir/up -> ../../outside, proc-link ->
 * /proc/self/root<abs>/outside/secret.txt, deep-rel -> ../../../../../../../..<abs>/outside.
 * `expect` is the error tag a read must give.
 */
export const PATH_ATTACKS: { path: string; expect: "not-found" | "invalid" }[] = [
  { path: "/workspace/../outside/secret.txt", expect: "not-found" },
  { path: "/workspace/../../../../outside/secret.txt", expect: "not-found" },
  { path: "/workspace/link-out/secret.txt", expect: "not-found" },
  { path: "/workspace/file-link", expect: "not-found" },
  { path: "/workspace/abs-link", expect: "not-found" },
  { path: "/workspace/chain", expect: "not-found" },
  { path: "/workspace/loop", expect: "not-found" },
  { path: "/workspace/dir/up/secret.txt", expect: "not-found" },
  { path: "/workspace/proc-link", expect: "not-found" },
  { path: "/workspace/deep-rel/secret.txt", expect: "not-found" },
  { path: "/workspace//link-out//secret.txt", expect: "not-found" },
  { path: "/workspace/./link-out/./secret.txt", expect: "not-found" },
  { path: "/workspace/dir/../link-out/secret.txt", expect: "not-found" },
  { path: "/workspace/link-out/../../outside/secret.txt", expect: "not-found" },
  { path: "/workspace/inner.txt/../../outside/secret.txt", expect: "not-found" },
  { path: "/workspace/%2e%2e/outside/secret.txt", expect: "not-found" },
  { path: "/workspace/..%2foutside/secret.txt", expect: "not-found" },
  { path: "/workspace/.../../outside/secret.txt", expect: "not-found" },
  { path: "/outside/secret.txt", expect: "not-found" },
  { path: "/etc/passwd", expect: "not-found" },
  { path: "/", expect: "not-found" },
  { path: "/WORKSPACE/inner.txt", expect: "not-found" },
  { path: "/workspacex/inner.txt", expect: "not-found" },
  { path: "/workspace/link-out", expect: "not-found" },
  { path: "/workspace/link-out/", expect: "not-found" },
  { path: "/workspace\\..\\outside\\secret.txt", expect: "invalid" },
  { path: "/workspace/..\\..\\outside\\secret.txt", expect: "invalid" },
  { path: "workspace/inner.txt", expect: "invalid" },
  { path: "../outside/secret.txt", expect: "invalid" },
  { path: "", expect: "invalid" },
  { path: "/workspace/inner.txt\0/../../outside/secret.txt", expect: "invalid" },
  { path: "/workspace/link-out\0", expect: "invalid" },
  { path: "/workspace/" + "a/".repeat(2100) + "secret.txt", expect: "invalid" },
  { path: "~/outside/secret.txt", expect: "invalid" },
  { path: "file:///workspace/inner.txt", expect: "invalid" },
];

/** URL spellings that must be refused WITHOUT --allow-private; `PORT` is replaced by the test server's port. */
export const URL_ATTACKS: { url: string; expect: "denied" | "invalid"; note: string }[] = [
  { url: "http://127.0.0.1:PORT/", expect: "denied", note: "loopback" },
  { url: "http://localhost:PORT/", expect: "denied", note: "name resolving to loopback" },
  { url: "http://LOCALHOST:PORT/", expect: "denied", note: "upper case name" },
  { url: "http://localhost.:PORT/", expect: "denied", note: "trailing dot" },
  { url: "http://0x7f.1:PORT/", expect: "denied", note: "hex IPv4" },
  { url: "http://0x7f000001:PORT/", expect: "denied", note: "hex IPv4, one number" },
  { url: "http://2130706433:PORT/", expect: "denied", note: "decimal IPv4" },
  { url: "http://0177.0.0.1:PORT/", expect: "denied", note: "octal IPv4" },
  { url: "http://127.1:PORT/", expect: "denied", note: "short IPv4" },
  { url: "http://127.000.000.001:PORT/", expect: "denied", note: "zero-padded IPv4" },
  { url: "http://[::1]:PORT/", expect: "denied", note: "IPv6 loopback" },
  { url: "http://[0:0:0:0:0:0:0:1]:PORT/", expect: "denied", note: "IPv6 loopback, long form" },
  { url: "http://[::ffff:127.0.0.1]:PORT/", expect: "denied", note: "IPv4-mapped IPv6" },
  { url: "http://[::ffff:7f00:1]:PORT/", expect: "denied", note: "IPv4-mapped IPv6, hex" },
  { url: "http://[::127.0.0.1]:PORT/", expect: "denied", note: "IPv4-compatible IPv6" },
  { url: "http://[64:ff9b::7f00:1]:PORT/", expect: "denied", note: "NAT64" },
  { url: "http://0.0.0.0:PORT/", expect: "denied", note: "unspecified" },
  { url: "http://0:PORT/", expect: "denied", note: "unspecified, one number" },
  { url: "http://[::]:PORT/", expect: "denied", note: "IPv6 unspecified" },
  { url: "http://169.254.169.254/latest/meta-data/", expect: "denied", note: "cloud metadata" },
  { url: "http://[fd00:ec2::254]/", expect: "denied", note: "AWS IPv6 metadata" },
  { url: "http://10.0.0.1/", expect: "denied", note: "private 10/8" },
  { url: "http://172.16.5.4/", expect: "denied", note: "private 172.16/12" },
  { url: "http://192.168.0.1/", expect: "denied", note: "private 192.168/16" },
  { url: "http://100.64.0.1/", expect: "denied", note: "CGNAT" },
  { url: "http://[fe80::1]/", expect: "denied", note: "IPv6 link-local" },
  { url: "http://[fc00::1]/", expect: "denied", note: "IPv6 unique-local" },
  { url: "http://224.0.0.1/", expect: "denied", note: "multicast" },
  { url: "http://255.255.255.255/", expect: "denied", note: "broadcast" },
  { url: "http://loopback.test:PORT/", expect: "denied", note: "a name the resolver maps to 127.0.0.1" },
  { url: "http://mixed.test:PORT/", expect: "denied", note: "a name with one public and one private answer" },
  { url: "http://metadata.test/", expect: "denied", note: "a name the resolver maps to 169.254.169.254" },
  { url: "http://public.test#@127.0.0.1:PORT/", expect: "denied", note: "fragment trick: the host is public.test, which resolves to loopback" },
  { url: "http://user@127.0.0.1:PORT/", expect: "invalid", note: "user info" },
  { url: "http://public.test:80@127.0.0.1:PORT/", expect: "invalid", note: "user info hiding the real host" },
  { url: "http://127.0.0.1:PORT\\@public.test/", expect: "denied", note: "backslash user-info trick: the host is 127.0.0.1" },
  { url: "file:///etc/passwd", expect: "invalid", note: "file scheme" },
  { url: "gopher://127.0.0.1:PORT/", expect: "invalid", note: "gopher scheme" },
  { url: "ftp://127.0.0.1:PORT/", expect: "invalid", note: "ftp scheme" },
  { url: "//127.0.0.1:PORT/", expect: "invalid", note: "scheme-relative" },
];

/** What the test resolver answers for the names in URL_ATTACKS (and the http tests). */
export const TEST_DNS: Record<string, string[]> = {
  localhost: ["127.0.0.1", "::1"],
  "loopback.test": ["127.0.0.1"],
  "mixed.test": ["93.184.216.34", "127.0.0.1"],
  "metadata.test": ["169.254.169.254"],
  "public.test": ["127.0.0.1"],
  "api.test": ["127.0.0.1"],
};

/**
 * SQL spellings and what the analyzer must report, against the schema in SQL_SCHEMA.
 * `operations` must be exactly these; `writes`/`reads` must contain these (and, when
 * `exactWrites`, nothing else). `invalid` statements must be refused.
 */
export const SQL_SCHEMA = `
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT UNIQUE, email TEXT);
CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE secrets(id INTEGER PRIMARY KEY, token TEXT);
CREATE INDEX users_email ON users(email);
CREATE VIEW user_names AS SELECT name FROM users;
CREATE VIEW leak AS SELECT token FROM secrets;
CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit(what) VALUES ('user ' || new.name); END;
CREATE TRIGGER kv_wipe AFTER DELETE ON kv BEGIN DELETE FROM secrets; END;
INSERT INTO users(name, email) VALUES ('ada', 'ada@example.com'), ('bob', 'bob@example.com');
INSERT INTO secrets(token) VALUES ('s3cr3t');
INSERT INTO kv VALUES ('a', 1);
`;

export interface SqlCase {
  sql: string;
  invalid?: true;
  operations?: string[];
  writes?: string[];
  reads?: string[];
  exactWrites?: true;
  canonical?: string;
}

export const SQL_CASES: SqlCase[] = [
  { sql: "dRoP TABLE users", operations: ["drop"], writes: ["users"], exactWrites: true, canonical: "DROP TABLE users" },
  { sql: "/* c */ DROP TABLE users", operations: ["drop"], writes: ["users"], canonical: "DROP TABLE users" },
  { sql: "DROP/**/TABLE/**/users", operations: ["drop"], writes: ["users"], canonical: "DROP TABLE users" },
  { sql: "-- hi\nDROP TABLE users -- bye", operations: ["drop"], writes: ["users"], canonical: "DROP TABLE users" },
  { sql: "select 1; drop table users", invalid: true },
  { sql: "SELECT 1;DROP TABLE users;", invalid: true },
  { sql: "select 1; /* x */ drop table users", invalid: true },
  { sql: "select 1 -- ; drop table users", operations: ["select"], canonical: "SELECT 1" },
  { sql: "WITH t AS (SELECT 1) DELETE FROM users", operations: ["delete"], writes: ["users"] },
  { sql: "with recursive t(x) as (select 1) delete from users where id in (select x from t)", operations: ["delete"], writes: ["users"] },
  { sql: "REPLACE INTO users(id, name) VALUES (1, 'eve')", operations: ["insert", "update", "delete"], writes: ["users", "audit"] },
  { sql: "INSERT OR REPLACE INTO users(id, name) VALUES (1, 'eve')", operations: ["insert", "update", "delete"], writes: ["users"] },
  { sql: "INSERT INTO users(id, name) VALUES (1, 'eve') ON CONFLICT(id) DO UPDATE SET name = excluded.name", operations: ["insert", "update"], writes: ["users"] },
  { sql: "INSERT INTO kv VALUES ('a', 2) ON CONFLICT(k) DO UPDATE SET v = 3", operations: ["insert", "update"], writes: ["kv"] },
  { sql: "UPDATE OR REPLACE users SET name = 'bob' WHERE id = 1", operations: ["update", "delete"], writes: ["users"] },
  { sql: "ATTACH 'other.db' AS other", operations: ["attach"] },
  { sql: "attach database ':memory:' as m", operations: ["attach"] },
  { sql: "DETACH other", operations: ["attach"] },
  { sql: "PRAGMA writable_schema=1", operations: ["pragma"] },
  // SQLite says these write (statement.readonly is false): never only a pragma.
  { sql: "pragma journal_mode = off", operations: ["other", "pragma"] },
  { sql: "PRAGMA main.user_version = 7", operations: ["other", "pragma"] },
  { sql: "INSERT INTO users(name) VALUES ('carol')", operations: ["insert"], writes: ["users", "audit", "sqlite_sequence"], exactWrites: true },
  { sql: "DELETE FROM kv", operations: ["delete"], writes: ["kv", "secrets"], exactWrites: true },
  { sql: "CREATE TABLE t(a)", operations: ["create"], writes: ["t"], exactWrites: true },
  { sql: "create temp table scratch(a)", operations: ["create"], writes: ["temp.scratch"], exactWrites: true },
  { sql: "CREATE INDEX i ON secrets(token)", operations: ["create"], writes: ["secrets"], reads: ["secrets"] },
  { sql: "CREATE TRIGGER t2 AFTER DELETE ON users BEGIN DELETE FROM secrets; END", operations: ["create"], writes: ["users"] },
  { sql: "ALTER TABLE users ADD COLUMN age INTEGER", operations: ["alter"], writes: ["users"], exactWrites: true },
  { sql: "ALTER TABLE users RENAME TO people", operations: ["alter"], writes: ["users", "people"], exactWrites: true },
  { sql: "DROP INDEX users_email", operations: ["drop"], writes: ["users"], exactWrites: true },
  { sql: "DROP TRIGGER users_audit", operations: ["drop"], writes: ["users"], exactWrites: true },
  { sql: "DROP VIEW leak", operations: ["drop"], writes: ["leak"], exactWrites: true },
  { sql: "VACUUM", operations: ["other"] },
  { sql: "VACUUM INTO 'copy.db'", operations: ["other"] },
  { sql: "SELECT load_extension('evil')", operations: ["select", "other"] },
  { sql: "select LOAD_EXTENSION('/tmp/x.so', 'init')", operations: ["select", "other"] },
  { sql: "SELECT * FROM leak", operations: ["select"], reads: ["secrets"] },
  { sql: "SELECT u.name, s.token FROM users u JOIN secrets s ON s.id = u.id", operations: ["select"], reads: ["users", "secrets"] },
  { sql: "SELECT name FROM users WHERE id IN (SELECT id FROM secrets)", operations: ["select"], reads: ["users", "secrets"] },
  { sql: "SELECT * FROM user_names", operations: ["select"], reads: ["users"] },
  { sql: "SeLeCt * FrOm SeCrEtS", operations: ["select"], reads: ["secrets"], canonical: "SELECT * FROM SeCrEtS" },
  { sql: "SELECT * FROM \"secrets\"", operations: ["select"], reads: ["secrets"] },
  { sql: "SELECT 'DROP TABLE users', \"name\" FROM users", operations: ["select"], reads: ["users"], canonical: "SELECT 'DROP TABLE users', \"name\" FROM users" },
  { sql: "BEGIN", operations: ["transaction"] },
  { sql: "COMMIT", operations: ["transaction"] },
  { sql: "SAVEPOINT a", operations: ["transaction"] },
  { sql: "UPDATE users SET email = 'x' RETURNING *", operations: ["update"], writes: ["users"], reads: ["users"] },
  { sql: "EXPLAIN DELETE FROM secrets", operations: ["delete"], writes: ["secrets"] },
  { sql: "", invalid: true },
  { sql: "   -- only a comment", invalid: true },
  { sql: "SELEC 1", invalid: true },
  { sql: "SELECT * FROM nowhere", invalid: true },
];
