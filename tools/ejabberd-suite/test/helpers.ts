// Helpers for the ejabberd suite: connections to the test ejabberd, and XTLS parties with
// the real plug-ins (copied and trimmed from packages/jingle-xtls/test/helpers.ts and
// packages/socks5/test/jingle-helpers.ts: test files are not imported across packages).
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { type Element, streamManagementSettled, type XmppLink, xml } from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import {
  type ApplicationFormat,
  type ApplicationHandle,
  type ContentContext,
  createJingleManager,
  type IncomingSession,
  type JingleManager,
  type JingleSession,
  type TransportMethod,
} from "@xtls/jingle";
import { XtlsSecurity, type XtlsSecurityOptions } from "@xtls/jingle-xtls";
import { S5bTransport, Socks5Bytestreams, type Socks5BytestreamsOptions } from "@xtls/socks5";
import { connectEjabberdClient, type XmppClient } from "@xtls/test-servers";
import { createIdentity, type Identity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { type XmlStream, XmlStreamApplication, XmlStreamSession } from "@xtls/xmlstream";

export const MiB = 1024 * 1024;
export const ROMEO_LINE = "M'lady, I would be pleased to make your acquaintance.";
export const JULIET_LINE = "Art thou not Romeo, and a Montague?";

const cleanups: Array<() => unknown> = [];

/** Runs (and forgets) everything registered with {@link onCleanup}, newest first. */
export async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => {});
}

export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/**
 * A started @xmpp/client connection to the test ejabberd, stream management settled
 * (`streamManagementSettled`: traffic before `<enabled/>` leaves xmpp.js's `h` too low),
 * stopped by {@link cleanUp}.
 */
export async function connect(
  username: string,
  domain: string,
  extra: Record<string, unknown> = {},
): Promise<XmppClient> {
  const client = await connectEjabberdClient({ username, domain, ...extra });
  await streamManagementSettled(client);
  onCleanup(() => client.stop());
  return client;
}

/** True once `client` dropped (ejabberd closed the stream, or the socket broke). */
export function watchDrops(client: XmppClient): { readonly dropped: boolean; readonly errors: string[] } {
  const state = { dropped: false, errors: [] as string[] };
  client.on("disconnect", () => {
    state.dropped = true;
  });
  client.on("error", (e: { condition?: string; text?: string; message?: string }) =>
    state.errors.push(`${e.condition ?? ""} ${e.text ?? e.message ?? ""}`.trim()),
  );
  return state;
}

export const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await tick(2);
  }
}

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

/**
 * Everything the stream delivers until its readable side ends. (Not `for await`: a
 * Readable's async iterator destroys the whole Duplex once the readable side ends.)
 */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
    stream.once("close", () => {
      if (!stream.readableEnded) reject(new Error("the stream closed before its readable side ended"));
    });
    stream.resume();
  });
}

/** Exactly `n` bytes (then stops reading), or rejects if the stream ends first. */
export function readExactly(stream: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) {
        stream.off("data", onData);
        stream.pause();
        resolve(Buffer.concat(chunks).subarray(0, n));
      }
    };
    stream.on("data", onData);
    stream.once("error", reject);
    stream.once("end", () => {
      if (got < n) reject(new Error(`the stream ended after ${got} of ${n} bytes`));
    });
    stream.resume();
  });
}

/** Writes `data` in slices, honouring backpressure (does not end). */
export async function writeAll(stream: Duplex, data: Buffer, slice = 64 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += slice) {
    if (!stream.write(data.subarray(offset, offset + slice))) await once(stream, "drain");
  }
}

// --- XTLS parties ----------------------------------------------------------------------

const identities = new Map<string, Identity>();

/** One long-lived identity per bare JID (key generation is the slow part). */
export function identityOf(jid: string): Identity {
  const bare = jid.split("/")[0]!;
  let id = identities.get(bare);
  if (!id) {
    id = createIdentity(bare);
    identities.set(bare, id);
  }
  return id;
}

export const NS_RAW = "urn:xtls:test:raw-bytes:0";

export interface Transferred {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * A raw-bytes Jingle application: the initiator writes `size` octets (a random block
 * repeated) and ends; the receiver hashes until the end of stream, then ends its side.
 */
export class RawBytes implements ApplicationHandle {
  readonly namespace = NS_RAW;
  readonly plaintextAllowed = false;
  readonly received: Promise<Transferred>;
  readonly sent: Promise<Transferred>;
  readonly #size: number;
  #resolveReceived!: (t: Transferred) => void;
  #rejectReceived!: (e: Error) => void;
  #resolveSent!: (t: Transferred) => void;
  #rejectSent!: (e: Error) => void;

  constructor(size = 0) {
    this.#size = size;
    this.received = new Promise((resolve, reject) => {
      this.#resolveReceived = resolve;
      this.#rejectReceived = reject;
    });
    this.sent = new Promise((resolve, reject) => {
      this.#resolveSent = resolve;
      this.#rejectSent = reject;
    });
    this.received.catch(() => {});
    this.sent.catch(() => {});
  }

  description(): Element {
    return xml("description", { xmlns: NS_RAW });
  }

  async run(stream: Duplex): Promise<void> {
    const failed = new Promise<never>((_, reject) => stream.once("error", reject));
    failed.catch(() => {});
    const receiving = new Promise<Transferred>((resolve, reject) => {
      const hash = createHash("sha256");
      let bytes = 0;
      stream.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      stream.once("end", () => resolve({ bytes, sha256: hash.digest("hex") }));
      stream.once("error", reject);
      stream.once("close", () => reject(new Error("the stream closed before its end")));
    });
    receiving.then(this.#resolveReceived, this.#rejectReceived);
    const sending = (async (): Promise<Transferred> => {
      const hash = createHash("sha256");
      const block = randomBytes(Math.min(MiB, Math.max(1, this.#size)));
      let left = this.#size;
      while (left > 0) {
        const chunk = left >= block.length ? block : block.subarray(0, left);
        hash.update(chunk);
        left -= chunk.length;
        if (!stream.write(chunk)) await Promise.race([once(stream, "drain"), failed]);
      }
      return { bytes: this.#size, sha256: hash.digest("hex") };
    })();
    sending.then(this.#resolveSent, this.#rejectSent);
    try {
      // A TLS socket is not half-open: the sender ends first, the receiver after the end.
      await sending;
      if (this.#size > 0 && !stream.writableEnded) stream.end();
      await Promise.race([receiving, failed]);
      if (!stream.writableEnded) stream.end();
    } catch (error) {
      stream.destroy();
      throw error;
    }
  }

  ended(error: Error | undefined): void {
    if (error) {
      this.#rejectReceived(error);
      this.#rejectSent(error);
    }
  }
}

export class RawBytesApplication implements ApplicationFormat {
  readonly namespaces = [NS_RAW] as const;
  readonly plaintextAllowed = false;

  accept(_ctx: ContentContext, _offer: Element): RawBytes {
    return new RawBytes();
  }
}

export interface Party {
  readonly link: XmppLink;
  readonly ibb: InBandBytestreams;
  readonly trust: MemoryTrustStore;
  readonly security: XtlsSecurity;
  readonly transport: IbbTransport;
  readonly socks5: Socks5Bytestreams | undefined;
  readonly s5b: S5bTransport | undefined;
  readonly manager: JingleManager;
}

export interface PartyOptions {
  /** JIDs whose real certificates this party has pinned (verified out of band). */
  readonly pins?: readonly string[];
  /** More options for XtlsSecurity (askPassword, confirmSas…). */
  readonly security?: Partial<Omit<XtlsSecurityOptions, "engine">>;
  /** Use this trust store (e.g. shared with a later party) instead of a fresh one. */
  readonly trust?: MemoryTrustStore;
  /** Also offer SOCKS5 bytestreams (XEP-0260) with these options, before IBB. */
  readonly socks5?: Socks5BytestreamsOptions;
}

export async function partyOn(link: XmppLink, options: PartyOptions = {}): Promise<Party> {
  const trust = options.trust ?? new MemoryTrustStore();
  for (const jid of options.pins ?? [])
    await trust.pin(jid, identityOf(jid).fingerprint, { method: "manual" });
  const engine = new NodeTlsEngine({ identity: identityOf(link.jid), trustStore: trust });
  const security = new XtlsSecurity({ handshakeTimeoutMs: 10_000, ...options.security, engine });
  const ibb = new InBandBytestreams(link);
  const transport = new IbbTransport({ ibb });
  const socks5 = options.socks5 ? new Socks5Bytestreams(link, options.socks5) : undefined;
  const s5b = socks5 ? new S5bTransport({ socks5 }) : undefined;
  const transports: TransportMethod[] = s5b ? [s5b, transport] : [transport];
  const manager = createJingleManager(link, {
    applications: [new XmlStreamApplication(), new RawBytesApplication()],
    transports,
    security: [security],
    acceptTimeoutMs: 10_000,
    connectTimeoutMs: 10_000,
  });
  onCleanup(async () => {
    await manager.terminateAll();
    await Promise.allSettled([ibb.close(), socks5?.close()]);
  });
  return { link, ibb, trust, security, transport, socks5, s5b, manager };
}

export interface Opened {
  readonly session: JingleSession;
  readonly responder: JingleSession;
  readonly romeo: XmlStream;
  readonly juliet: XmlStream;
}

function acceptNext<T>(party: Party, app: (incoming: IncomingSession) => T & ApplicationHandle) {
  return new Promise<{ incoming: IncomingSession; app: T }>((resolve) => {
    party.manager.once("incoming", (incoming) => {
      const handle = app(incoming);
      void incoming.session.accept({ application: handle }).catch(() => {});
      resolve({ incoming, app: handle });
    });
  });
}

/** Romeo starts an XML stream session with Juliet over IBB, who accepts it. */
export async function openXmlStreamSession(romeo: Party, juliet: Party): Promise<Opened> {
  const incoming = acceptNext(juliet, () => new XmlStreamSession());
  const app = new XmlStreamSession();
  const session = romeo.manager.initiate(juliet.link.jid, {
    application: app,
    transports: [romeo.transport],
    security: romeo.security,
  });
  const [ours, theirs] = await Promise.all([app.stream, incoming.then(({ app }) => app.stream)]);
  return { session, responder: (await incoming).incoming.session, romeo: ours, juliet: theirs };
}

/** Romeo sends `size` raw octets to Juliet in a Jingle session with XTLS over his S5B transport. */
export async function rawTransfer(romeo: Party, juliet: Party, size: number) {
  const incoming = acceptNext(juliet, () => new RawBytes());
  const app = new RawBytes(size);
  const session = romeo.manager.initiate(juliet.link.jid, {
    application: app,
    transports: [romeo.s5b!],
    security: romeo.security,
  });
  const responder = await incoming;
  return { session, app, responder: responder.incoming.session, theirApp: responder.app };
}

/** Collects the message/presence stanzas a stream delivers. */
export function inbox(stream: XmlStream): Element[] {
  const got: Element[] = [];
  stream.on("stanza", (s) => got.push(s));
  return got;
}
