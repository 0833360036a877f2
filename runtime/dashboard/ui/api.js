// The server's API: reads are GETs (the session cookie authenticates them); every change is a
// POST with the token in the x-agent-os-token header, which only this page can send.

const TOKEN = document.querySelector('meta[name="agent-os-token"]')?.content ?? "";

/** An answer the server refused, with its message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function answer(res) {
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  return body;
}

/** GET /api/... with query parameters (empty ones left out). */
export async function get(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const qs = query.toString();
  return answer(await fetch(path + (qs ? `?${qs}` : ""), { credentials: "same-origin" }));
}

/** POST /api/... with a JSON body and the token header. */
export async function post(path, body = {}) {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-agent-os-token": TOKEN },
    body: JSON.stringify(body),
  });
  return answer(res);
}

let infoPromise;

/** What the server is (mode, log, policy, effects, which views can act): asked once. */
export function info() {
  infoPromise ??= get("/api/info");
  return infoPromise;
}

const listeners = new Map();
let source;
let lastOf = new Map();

/**
 * Listens to a live event ("processes", "runs", "log", "verify", "info", "problem", "approvals").
 * The newest value of each event is replayed to a new listener at once. Returns the way to stop.
 */
export function on(name, fn) {
  if (!listeners.has(name)) listeners.set(name, new Set());
  listeners.get(name).add(fn);
  if (lastOf.has(name)) queueMicrotask(() => listeners.get(name)?.has(fn) && fn(lastOf.get(name)));
  return () => listeners.get(name)?.delete(fn);
}

/** Opens the live stream once; `onState` hears "live" and "reconnecting". */
export function connect(onState) {
  if (source) return;
  source = new EventSource("/api/stream");
  source.onopen = () => onState("live");
  source.onerror = () => onState("reconnecting");
  for (const name of ["info", "processes", "runs", "log", "verify", "problem", "approvals"]) {
    source.addEventListener(name, (event) => {
      const data = JSON.parse(event.data);
      lastOf.set(name, data);
      for (const fn of listeners.get(name) ?? []) fn(data);
    });
  }
}
