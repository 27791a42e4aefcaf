/**
 * Server-side request forgery guard for http.request: a destination is resolved here
 * (not by the HTTP client), every resolved address is checked, and the connection is
 * then made to exactly those addresses, so a DNS answer cannot change between the
 * check and the connect (rebinding).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** The destination is not allowed; never retried (the answer would be the same). */
export class HttpDestinationRefused extends Error {
  override readonly name = 'HttpDestinationRefused';
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

const RANGES: ReadonlyArray<readonly [cidr: string, family: 'ipv4' | 'ipv6', label: string]> = [
  ['0.0.0.0/8', 'ipv4', 'unspecified'],
  ['10.0.0.0/8', 'ipv4', 'private'],
  ['100.64.0.0/10', 'ipv4', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'ipv4', 'loopback'],
  ['169.254.0.0/16', 'ipv4', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'ipv4', 'private'],
  ['192.0.0.0/24', 'ipv4', 'IETF reserved'],
  ['192.0.2.0/24', 'ipv4', 'documentation'],
  ['192.88.99.0/24', 'ipv4', '6to4 relay'],
  ['192.168.0.0/16', 'ipv4', 'private'],
  ['198.18.0.0/15', 'ipv4', 'benchmarking'],
  ['198.51.100.0/24', 'ipv4', 'documentation'],
  ['203.0.113.0/24', 'ipv4', 'documentation'],
  ['224.0.0.0/4', 'ipv4', 'multicast'],
  ['240.0.0.0/4', 'ipv4', 'reserved/broadcast'],
  // ::/96 holds :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible form.
  ['::/96', 'ipv6', 'unspecified/loopback'],
  ['64:ff9b:1::/48', 'ipv6', 'local NAT64'],
  ['100::/64', 'ipv6', 'discard'],
  ['2001:db8::/32', 'ipv6', 'documentation'],
  ['fc00::/7', 'ipv6', 'unique local (private)'],
  ['fe80::/10', 'ipv6', 'link-local'],
  ['fec0::/10', 'ipv6', 'site-local'],
  ['ff00::/8', 'ipv6', 'multicast'],
];

const blocks = RANGES.map(([cidr, family, label]) => {
  const [net, bits] = cidr.split('/') as [string, string];
  const list = new BlockList();
  list.addSubnet(net, Number(bits), family);
  return { list, family, label };
});

/** The eight 16-bit groups of an IPv6 address (with or without an embedded dotted quad). */
function ipv6Groups(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const o = dotted.split('.').map(Number);
    text = `${text.slice(0, -dotted.length)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

const v4Of = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;

/** The IPv4 address an IPv6 one carries (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). */
function embeddedV4(g: number[]): string | undefined {
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return v4Of(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4Of(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4Of(g[1]!, g[2]!);
  return undefined;
}

/** Why an address must not be reached, or undefined when it is a public unicast address. */
export function disallowedReason(ip: string): string | undefined {
  const version = isIP(ip);
  if (version === 0) return 'not an IP address';
  if (version === 6) {
    const groups = ipv6Groups(ip);
    if (!groups) return 'unparseable IPv6 address';
    const v4 = embeddedV4(groups);
    if (v4) {
      const inner = disallowedReason(v4);
      return inner ? `${inner} (IPv4 ${v4} inside IPv6)` : undefined;
    }
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  return blocks.find((b) => b.family === family && b.list.check(ip, family))?.label;
}

/** Exact host names (case-insensitive) or `*.suffix` wildcards. */
export function hostAllowed(host: string, allowHosts: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowHosts.some((entry) => {
    const e = entry.toLowerCase();
    return e.startsWith('*.') ? h.endsWith(e.slice(1)) : h === e;
  });
}

/** The host of a URL as DNS and isIP know it (IPv6 literals lose their brackets). */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Resolves the URL's host and returns the addresses to connect to. Refuses when any
 * address is not public, unless the tenant's allow-list names the host.
 */
export async function vetDestination(
  url: URL,
  allowHosts: readonly string[],
  resolve: Resolver = systemResolver,
): Promise<ResolvedAddress[]> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpDestinationRefused(`only http and https URLs are allowed, not ${url.protocol}`);
  }
  const host = hostOf(url);
  const literal = isIP(host);
  const addresses: ResolvedAddress[] = literal ? [{ address: host, family: literal === 6 ? 6 : 4 }] : await resolve(host);
  if (addresses.length === 0) throw new HttpDestinationRefused(`${host} resolved to no address`);
  if (hostAllowed(host, allowHosts)) return addresses;
  for (const a of addresses) {
    const reason = disallowedReason(a.address);
    if (reason) {
      throw new HttpDestinationRefused(
        `refused to reach ${host} (${a.address}: ${reason}); a tenant may allow it by adding '${host}' to its http allow-list`,
      );
    }
  }
  return addresses;
}

/** A `lookup` for the socket that answers only with the vetted addresses. */
export function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    const list = [...(wanted.length > 0 ? wanted : addresses)];
    if (options.all) {
      (callback as unknown as (err: null, all: ResolvedAddress[]) => void)(null, list);
      return;
    }
    callback(null, list[0]!.address, list[0]!.family);
  };
}
