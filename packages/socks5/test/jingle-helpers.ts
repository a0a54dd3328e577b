// Jingle parties with the real plug-ins for this package's tests: the XTLS parties of
// @xtls/testkit with @xtls/socks5's S5B transport (IBB from @xtls/ibb as the fallback)
// and its raw-bytes application, with the defaults these tests were written for.
import type { XmppLink } from "@xtls/core";
import {
  type Party as XtlsParty,
  type PartyOptions as XtlsPartyOptions,
  partyOn as xtlsPartyOn,
} from "@xtls/testkit/parties";
import type {
  S5bTransport,
  S5bTransportOptions,
  Socks5Bytestreams,
  Socks5BytestreamsOptions,
} from "../src/index.js";

export { transfer } from "@xtls/testkit/parties";

export interface Party extends XtlsParty {
  readonly socks5: Socks5Bytestreams;
  readonly s5b: S5bTransport;
}

export interface PartyOptions {
  /** JIDs whose certificates this party has pinned. */
  readonly pins?: readonly string[];
  /** Options of the SOCKS5 Bytestreams service (proxies are off unless given). */
  readonly socks5?: Socks5BytestreamsOptions;
  readonly s5b?: Partial<S5bTransportOptions>;
  /** Register IBB for the fallback (default true). */
  readonly ibb?: boolean;
  /** Transports registered for incoming sessions; default S5B (+ IBB). */
  readonly transports?: XtlsPartyOptions["transports"];
  readonly connectTimeoutMs?: number;
}

/**
 * A party with S5B (then IBB) and the raw-bytes application: an IBB window of 16 and
 * blocks of 16 KiB, 20 s Jingle timeouts; closed by `cleanUp()`.
 */
export async function partyOn(link: XmppLink, options: PartyOptions = {}): Promise<Party> {
  const party = await xtlsPartyOn(link, {
    pins: options.pins,
    socks5: { proxies: false, ...options.socks5 },
    s5b: options.s5b,
    ibb: { window: 16 },
    blockSize: 16384,
    rawBytes: true,
    transports: options.transports ?? (options.ibb === false ? ({ s5b }) => [s5b!] : undefined),
    jingle: {
      acceptTimeoutMs: 20_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
      replaceTimeoutMs: 20_000,
    },
  });
  return party as Party;
}
