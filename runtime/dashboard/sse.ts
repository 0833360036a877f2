/**
 * Server-Sent Events: every open stream gets every event the dashboard publishes (a snapshot of
 * the current state first, so a page that connects late or reconnects is whole at once), a
 * comment line every 15 s to keep proxies from closing it, and its end when the dashboard closes.
 */
import type { ServerResponse } from "node:http";
import { BASE_HEADERS } from "./http.js";

const HEARTBEAT_MS = 15_000;

/** The open streams of one dashboard. */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor() {
    this.heartbeat = setInterval(() => this.write(": keep-alive\n\n"), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** How many streams are open. */
  get size(): number {
    return this.clients.size;
  }

  /** Opens a stream on `res` and sends it `initial` (name and data of each event) at once. */
  open(res: ServerResponse, initial: Array<[string, unknown]>): void {
    if (this.closed) return void res.writeHead(503, BASE_HEADERS).end();
    res.writeHead(200, { ...BASE_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    res.write("retry: 1000\n\n");
    for (const [name, data] of initial) res.write(frame(name, data));
    this.clients.add(res);
    res.on("close", () => this.clients.delete(res));
  }

  /** Sends an event to every open stream. */
  publish(name: string, data: unknown): void {
    if (this.clients.size > 0) this.write(frame(name, data));
  }

  /** Ends every stream; later ones are refused. */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private write(text: string): void {
    for (const res of this.clients) res.write(text);
  }
}

/** One event: JSON has no raw line breaks, so it is always one `data:` line. */
function frame(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
