/** Node's DNS for the address guard: the operating system's resolver, or given DNS servers. */
import { promises as dns } from "node:dns";
import { UsageError } from "../../../errors.js";
import type { ResolvedAddress, Resolver } from "../../../capabilities/net-guard.js";

/**
 * A resolver that asks the given DNS servers (`"1.1.1.1"`, `"[2606:4700::1111]:53"`,
 * `"127.0.0.1:5353"`) for A and AAAA records, instead of the operating system's resolver
 * (getaddrinfo, /etc/hosts): for a host that pins its DNS. Every answer is checked as usual.
 *
 * @example new KernelSpace({ resolver: dnsResolver(["10.0.0.2"]) })
 * @throws UsageError for a server that is not an IP address with an optional port.
 */
export function dnsResolver(servers: string[], options: { timeoutMs?: number; tries?: number } = {}): Resolver {
  if (!Array.isArray(servers) || servers.length === 0) throw new UsageError("dns: give at least one DNS server");
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  try {
    resolver.setServers(servers);
  } catch {
    throw new UsageError(`dns: expected DNS server addresses like 1.1.1.1 or 127.0.0.1:5353, got ${JSON.stringify(servers)}`);
  }
  return async (host) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
    const answers: ResolvedAddress[] = [];
    if (v4.status === "fulfilled") for (const address of v4.value) answers.push({ address, family: 4 });
    if (v6.status === "fulfilled") for (const address of v6.value) answers.push({ address, family: 6 });
    if (answers.length === 0) throw new Error(`no address for ${host}`);
    return answers;
  };
}

/** The default resolver: the operating system's, every answer. */
export const systemResolver: Resolver = async (host) => {
  const answers = await dns.lookup(host, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};
