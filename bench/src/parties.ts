/**
 * Benchmark parties: the real plug-ins (IBB transport, XTLS security, a raw-bytes
 * application) on any XmppLink, and helpers to move bytes through what they open.
 */
import { randomBytes } from "node:crypto";
import type { Duplex, Readable, Writable } from "node:stream";
import { type Element, type XmppLink, xml } from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import {
  type ApplicationFormat,
  type ApplicationHandle,
  createJingleManager,
  type JingleManager,
  type JingleSession,
} from "@xtls/jingle";
import { XtlsSecurity } from "@xtls/jingle-xtls";
import { S5bTransport, Socks5Bytestreams, type Socks5BytestreamsOptions } from "@xtls/socks5";
import { createIdentity, type Identity, MemoryTrustStore, NodeTlsEngine, type SessionCache } from "@xtls/tls";
import { XmlStreamApplication } from "@xtls/xmlstream";

export const NS_RAW = "urn:xtls:bench:raw:0";

const identities = new Map<string, Identity>();
export function identityOf(jid: string): Identity {
  const bare = jid.split("/")[0]!;
  let id = identities.get(bare);
  if (!id) {
    id = createIdentity(bare);
    identities.set(bare, id);
  }
  return id;
}

/** An application that hands the secured byte stream to the benchmark and ends when told. */
export class RawSession implements ApplicationHandle {
  readonly namespace = NS_RAW;
  readonly plaintextAllowed = false;
  readonly stream: Promise<Duplex>;
  #resolve!: (d: Duplex) => void;
  #reject!: (e: Error) => void;
  #finish!: () => void;
  readonly #finished = new Promise<void>((resolve) => {
    this.#finish = resolve;
  });

  constructor() {
    this.stream = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.stream.catch(() => {});
  }

  description(): Element {
    return xml("description", { xmlns: NS_RAW });
  }

  async run(stream: Duplex): Promise<void> {
    this.#resolve(stream);
    await this.#finished;
  }

  /** Lets the session complete (close_notify, then session-terminate success). */
  finish(): void {
    this.#finish();
  }

  ended(error: Error | undefined): void {
    this.#reject(error ?? new Error("the session ended"));
    this.#finish();
  }
}

export class RawFormat implements ApplicationFormat {
  readonly namespaces = [NS_RAW] as const;
  readonly plaintextAllowed = false;
  accept(): RawSession {
    return new RawSession();
  }
}

export interface Party {
  readonly link: XmppLink;
  readonly ibb: InBandBytestreams;
  readonly transport: IbbTransport;
  readonly security: XtlsSecurity;
  readonly manager: JingleManager;
  readonly engine: NodeTlsEngine;
  readonly socks5?: Socks5Bytestreams;
  readonly s5b?: S5bTransport;
}

export interface PartyOptions {
  readonly pins: readonly string[];
  readonly window?: number;
  readonly blockSize?: number;
  /** Resumption tickets; false disables resumption. */
  readonly sessionCache?: SessionCache | false;
  /** Enable the srp method with this one-time password. */
  readonly password?: string;
  /** Add a SOCKS5 transport (preferred) with these service options. */
  readonly socks5?: Socks5BytestreamsOptions & { readonly direct?: boolean; readonly nativeSocket?: boolean };
}

export async function party(link: XmppLink, options: PartyOptions): Promise<Party> {
  const trust = new MemoryTrustStore();
  for (const jid of options.pins) await trust.pin(jid, identityOf(jid).fingerprint, { method: "manual" });
  const engine = new NodeTlsEngine({
    identity: identityOf(link.jid),
    trustStore: trust,
    sessionCache: options.sessionCache ?? false,
  });
  const password = options.password;
  const security = new XtlsSecurity({ engine, ...(password ? { askPassword: async () => password } : {}) });
  // Plain IBB runs open unsolicited bytestreams to the same party: take them all.
  const ibb = new InBandBytestreams(link, { window: options.window, accept: () => true });
  const transport = new IbbTransport({ ibb, blockSize: options.blockSize, window: options.window });
  const socks5 = options.socks5 ? new Socks5Bytestreams(link, options.socks5) : undefined;
  const s5b = socks5
    ? new S5bTransport({ socks5, direct: options.socks5?.direct, nativeSocket: options.socks5?.nativeSocket })
    : undefined;
  const manager = createJingleManager(link, {
    applications: [new RawFormat(), new XmlStreamApplication()],
    transports: s5b ? [s5b, transport] : [transport],
    security: [security],
    // The benchmark offers many sessions at once from one account on purpose; the flood
    // limits (8 pending per account by default) would measure back-off, not setup cost.
    maxPendingPerPeer: 100_000,
    maxPending: 100_000,
  });
  return { link, ibb, transport, security, manager, engine, socks5, s5b };
}

/** The responder accepts every raw session; resolves each with its handle. */
export function acceptRaw(
  p: Party,
  onSession: (s: { session: JingleSession; app: RawSession }) => void,
): void {
  p.manager.on("incoming", (incoming) => {
    const app = new RawSession();
    onSession({ session: incoming.session, app });
    void incoming.session.accept({ application: app }).catch(() => {});
  });
}

export function startRaw(from: Party, to: string): { session: JingleSession; app: RawSession } {
  const app = new RawSession();
  const session = from.manager.initiate(to, {
    application: app,
    transports: [from.transport],
    security: from.security,
  });
  return { session, app };
}

export function payload(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Writes `data` in 64 KiB chunks, honouring backpressure. */
export async function writeAll(w: Writable, data: Buffer): Promise<void> {
  const chunk = 64 * 1024;
  for (let at = 0; at < data.length; at += chunk) {
    if (!w.write(data.subarray(at, at + chunk))) await new Promise<void>((r) => w.once("drain", r));
  }
}

/** Resolves when `total` bytes were read from `r` (reading on, without keeping them). */
export function readBytes(r: Readable, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (chunk: Buffer) => {
      got += chunk.length;
      if (got >= total) {
        r.off("data", onData);
        r.off("error", reject);
        resolve();
      }
    };
    r.on("data", onData);
    r.once("error", reject);
  });
}
