/**
 * Which addresses we connect to when a peer (or a proxy it names) says "connect here".
 *
 * The threat: a streamhost or Jingle candidate is an address the *other side* chose —
 * a peer, or a compromised server rewriting the offer. Connecting to it makes our host
 * open a TCP connection and speak SOCKS5 wherever they like: request forgery against
 * services only our host can reach (a router's admin page, a metadata service at
 * 169.254.169.254, a multicast group) and a port scan from our host, read back from
 * whether we answer `candidate-used` or `candidate-error`. So every connection the
 * service makes is checked first, after resolving a host name (and then made to the
 * address that was checked, so DNS cannot answer differently the second time).
 *
 * Address classes (IPv4 and IPv6; an IPv4-mapped IPv6 address counts as its IPv4):
 *
 * | class         | addresses                                                          | default |
 * | ------------- | ------------------------------------------------------------------ | ------- |
 * | `loopback`    | 127.0.0.0/8, ::1                                                   | allowed |
 * | `private`     | 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7 (ULA)     | allowed |
 * | `global`      | every other unicast address                                        | allowed |
 * | never allowed | 0.0.0.0/8 and :: (unspecified), 169.254/16 and fe80::/10           |         |
 * |               | (link-local), 224/4 and ff00::/8 (multicast), 240/4 and            |         |
 * |               | 255.255.255.255 (reserved, broadcast)                              |         |
 *
 * Loopback is allowed by default because our own direct streamhost listens on loopback
 * by default (two clients on one host, and the tests) and a server's proxy65 may be on
 * the same host; private because XEP-0260 direct candidates are LAN addresses on most
 * networks. Narrow with `candidatePolicy: { allow: ["global"] }` (e.g. a client on a
 * host with sensitive local services), widen nothing beyond these three.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { XtlsError } from "@xtls/core";

/** An address class a {@link CandidatePolicy} may allow. */
export type AllowableAddressClass = "loopback" | "private" | "global";
/** What {@link classifyAddress} answers. */
export type AddressClass = AllowableAddressClass | "unspecified" | "link-local" | "multicast" | "reserved";

/** Which addresses the SOCKS5 service connects to (streamhosts, Jingle candidates, proxies). */
export interface CandidatePolicy {
  /** The address classes allowed. Default: loopback, private, global. */
  readonly allow: readonly AllowableAddressClass[];
}

export const DEFAULT_CANDIDATE_POLICY: CandidatePolicy = Object.freeze({
  allow: Object.freeze(["loopback", "private", "global"] as const),
});

/** A streamhost address the policy does not allow: no connection was attempted. */
export class S5bAddressRefusedError extends XtlsError {
  readonly host: string;
  readonly address: string | undefined;
  readonly addressClass: AddressClass | undefined;

  constructor(
    host: string,
    port: number,
    address: string | undefined,
    addressClass: AddressClass | undefined,
    why: string,
  ) {
    super("s5b-address-refused", `did not connect to the SOCKS5 streamhost ${host}:${port}: ${why}`);
    this.host = host;
    this.address = address;
    this.addressClass = addressClass;
  }
}

function ipv4Class(a: number, b: number, c: number, d: number): AddressClass {
  if (a === 0) return "unspecified"; // "this network" (0/8); 0.0.0.0 reaches loopback on Linux
  if (a === 127) return "loopback";
  if (a === 169 && b === 254) return "link-local";
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved"; // 240/4 and 255.255.255.255
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 100 && b >= 64 && b <= 127) return "private"; // CGNAT, RFC 6598
  void c;
  void d;
  return "global";
}

function parseIpv6(ip: string): number[] | undefined {
  // Expand "::" and an embedded dotted IPv4 tail into 8 groups of 16 bits.
  let s = ip.split("%")[0]!.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [, a, b, c, d] = v4.map(Number) as [number, number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = s.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  if (groups.length !== 8) return undefined;
  return groups.map((g) => Number.parseInt(g, 16));
}

/** The class of an IP address (IPv4 or IPv6 literal); `reserved` for what cannot be parsed. */
export function classifyAddress(ip: string): AddressClass {
  if (isIP(ip) === 4) {
    const [a, b, c, d] = ip.split(".").map(Number) as [number, number, number, number];
    return ipv4Class(a, b, c, d);
  }
  if (isIP(ip) !== 6) return "reserved";
  const g = parseIpv6(ip);
  if (!g) return "reserved";
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms count as their IPv4 address.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || (g[5] === 0 && g[6] !== 0))) {
    return ipv4Class(g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff);
  }
  if (g.every((x) => x === 0)) return "unspecified";
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "loopback";
  if ((g[0]! & 0xff00) === 0xff00) return "multicast";
  if ((g[0]! & 0xffc0) === 0xfe80) return "link-local";
  if ((g[0]! & 0xfe00) === 0xfc00) return "private";
  return "global";
}

/**
 * Resolves `host` and checks it against `policy`. Resolves with the one address to
 * connect to (the first allowed one); rejects with {@link S5bAddressRefusedError} when a
 * name resolves to an address the policy forbids (all its addresses are checked: a name
 * that also points inward is refused) or to nothing.
 */
export async function allowedAddress(
  host: string,
  port: number,
  policy: CandidatePolicy = DEFAULT_CANDIDATE_POLICY,
): Promise<string> {
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch (error) {
      throw new S5bAddressRefusedError(
        host,
        port,
        undefined,
        undefined,
        `cannot resolve it (${(error as Error).message})`,
      );
    }
  }
  if (addresses.length === 0)
    throw new S5bAddressRefusedError(host, port, undefined, undefined, "it resolves to no address");
  for (const address of addresses) {
    const cls = classifyAddress(address);
    if (!(policy.allow as readonly string[]).includes(cls)) {
      throw new S5bAddressRefusedError(
        host,
        port,
        address,
        cls,
        `${address} is a ${cls} address, which the candidate policy does not allow (allowed: ${policy.allow.join(", ") || "none"})`,
      );
    }
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new S5bAddressRefusedError(host, port, addresses[0], undefined, "not a valid port");
  }
  return addresses[0]!;
}
