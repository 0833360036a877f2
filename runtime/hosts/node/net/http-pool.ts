/**
 * The connections of one run's http capability, kept alive between its requests.
 *
 * A connection belongs to one origin and one checked address (see net-guard.ts): the
 * dispatcher's `lookup` answers with that address only, so a request reuses a connection only
 * when the address guard resolved its host to the very address the connection was opened to.
 * Each request is still decided and checked hop by hop before it is sent; reuse only saves the
 * TCP (and TLS) handshake. The pool holds a few origins at most, and everything is closed when
 * the run ends.
 */
import type { LookupFunction } from "node:net";
import { Agent } from "undici";
import type { ResolvedAddress } from "../../../capabilities/net-guard.js";

/** Origins (with their address) a run keeps connections to; the least recently used goes first. */
const MAX_ORIGINS = 8;

export class ConnectionPool {
  private readonly agents = new Map<string, Agent>();
  private closed = false;

  /** @param connectTimeout ms to open a connection (the run's httpTimeout) */
  constructor(private readonly connectTimeout: number) {}

  /** The dispatcher for `url`'s origin at `address` (opened on first use). */
  dispatcher(url: URL, address: ResolvedAddress): Agent {
    const key = `${url.protocol}//${url.host} ${address.family} ${address.address}`;
    const known = this.agents.get(key);
    if (known && !this.closed) {
      this.agents.delete(key); // (re-inserted last: the map's order is the recency)
      this.agents.set(key, known);
      return known;
    }
    const lookup: LookupFunction = (_host, opts, callback) => {
      if (opts.all) callback(null, [{ address: address.address, family: address.family }]);
      else callback(null, address.address, address.family);
    };
    const agent = new Agent({ connect: { lookup, timeout: this.connectTimeout }, connections: 1 });
    if (this.closed) {
      // (a request after the run's end gets a connection that is closed once it is done)
      queueMicrotask(() => void agent.close().catch(() => undefined));
      return agent;
    }
    this.agents.set(key, agent);
    if (this.agents.size > MAX_ORIGINS) {
      const [oldest, old] = this.agents.entries().next().value as [string, Agent];
      this.agents.delete(oldest);
      void old.close().catch(() => undefined);
    }
    return agent;
  }

  /** Closes every connection (the run is over). */
  close(): void {
    this.closed = true;
    for (const agent of this.agents.values()) void agent.destroy().catch(() => undefined);
    this.agents.clear();
  }
}
