/** Policies and requests that the portable tests compile and decide on both sides (Node, Web-only). */

/** A policy extending a built-in, with a rate limit and text outside ASCII. */
export const INLINE = `name: team
extends: [standard]
rules:
  - id: team-api
    action: http.fetch
    resource: "https://api.example.com/**"
    methods: [GET]
    rate: 2/minute
    effect: allow
  - id: team-secrets
    action: fs.read
    resource: "/workspace/secrets/**"
    effect: deny
    reason: "secrets stay out — ✓"
`;

/** Every kind of field (no extends, so that editing a built-in does not change it) and text outside ASCII. */
export const RICH = `version: 1
name: pinned-hash
description: "Every kind of field, and text outside ASCII: é, —, ✓, 例"
default: deny
limits:
  fuel: 500000000
  memory: 64MiB
  wallTime: 30s
  httpBody: 512KiB
verification:
  models:
    - provider: openai
      model: gpt-4o-mini
      baseUrl: http://127.0.0.1:11434/v1
  threshold: 0.5
  timeout: 10s
rules:
  - id: no-prod
    action: fs.write
    resource: "/prod/**"
    effect: deny
    reason: "production is read-only — ✓ déjà vu 例"
  - action: sql.query
    database: main
    operations: [select]
    tables: ["orders", "customers_*"]
    effect: allow
  - action: sql.query
    pattern: "DROP|DELETE"
    effect: deny
  - action: http.fetch
    resource: "https://api.example.com/**"
    methods: [GET]
    rate: 60/minute
    effect: allow
  - id: verify-writes
    action: fs.write
    resource: "/workspace/**"
    effect: verify
    verify:
      threshold: 1
  - id: issues
    action: tool.call
    resource: "github/create_issue"
    args: { "/repo": "myorg/*", "/title": { pattern: "^(fix|feat):" } }
    effect: allow
secrets:
  - name: github
    env: GITHUB_TOKEN
    origins: ["https://api.github.com"]
    header: Authorization
    format: "Bearer {value}"
`;

/** RICH's hash as the loader computed it before the split (createHash from node:crypto). */
export const RICH_HASH = "c61418887b5319ddf55194672ec76f029500497d442fce9bba606d2f7c31a1fd";

export type RequestSpec = [action: string, resource: string, extra?: { method?: string; sql?: string }];

/** Requests decided under INLINE (and standard): the comments say what each exercises. */
export const REQUESTS: RequestSpec[] = [
  ["fs.read", "/workspace/notes.txt"],
  ["fs.write", "/workspace/out/report.md"],
  ["fs.remove", "/workspace/tmp/x"],
  ["fs.write", "/etc/passwd"],
  ["fs.write", "/workspace/../prod/db"], // not canonical: canonicalPath runs
  ["fs.read", "/workspace/secrets/key"],
  ["http.fetch", "http://169.254.169.254/latest/meta-data", { method: "GET" }],
  ["http.fetch", "HTTPS://API.example.com:443/v1/../items", { method: "get" }], // canonicalUrl runs
  ["http.fetch", "https://api.example.com/items", { method: "GET" }],
  ["http.fetch", "https://api.example.com/items", { method: "GET" }], // third in the minute: rate-limited under INLINE
  ["http.fetch", "https://example.com/", { method: "GET" }],
  ["sql.query", "main", { sql: "SELECT * FROM orders" }],
  ["sql.query", "main", { sql: "DROP TABLE orders" }],
  ["log.write", "info"],
  ["process.checkpoint", "step-1"],
];
