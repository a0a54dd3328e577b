// XTLS parties with the real plug-ins, on any XmppLink (the embedded router or a client
// of a real server): an identity and a trust store with the peers pinned, NodeTlsEngine +
// XtlsSecurity, @xtls/ibb's Jingle transport (and, when asked, @xtls/socks5's), and a
// Jingle manager with @xtls/xmlstream's application and a raw-bytes one that pumps bytes
// through the secured stream and hashes what arrives.
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { type Element, type LocalRouter, type RouteEvent, type XmppLink, xml } from "@xtls/core";
import { IbbTransport, InBandBytestreams, type InBandBytestreamsOptions } from "@xtls/ibb";
import {
  type ApplicationFormat,
  type ApplicationHandle,
  type ContentContext,
  createJingleManager,
  type IncomingSession,
  type JingleManager,
  type JingleManagerOptions,
  type JingleSession,
  type TransportMethod,
} from "@xtls/jingle";
import { XtlsSecurity, type XtlsSecurityOptions } from "@xtls/jingle-xtls";
import {
  S5bTransport,
  type S5bTransportOptions,
  Socks5Bytestreams,
  type Socks5BytestreamsOptions,
} from "@xtls/socks5";
import type { MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { type XmlStream, XmlStreamApplication, XmlStreamSession } from "@xtls/xmlstream";
import { type EngineOptions, pinnedEngine } from "./identities.js";
import { onCleanup } from "./support.js";

export { identityOf } from "./identities.js";

export const ROMEO_LINE = "M'lady, I would be pleased to make your acquaintance.";
export const JULIET_LINE = "Art thou not Romeo, and a Montague?";

// --- the raw-bytes application ----------------------------------------------------------

export const NS_RAW = "urn:xtls:test:raw-bytes:0";

export interface Transferred {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * The raw-bytes application. The sender (the initiator) writes `size` octets (a random
 * block repeated, so no big buffer is held) and ends; the receiver hashes until the end
 * of stream and then ends its own direction. `received` resolves with what arrived, or
 * rejects with the error that broke the stream (never a silent short read).
 */
export class RawBytes implements ApplicationHandle {
  readonly namespace = NS_RAW;
  readonly plaintextAllowed = false;
  readonly received: Promise<Transferred>;
  readonly sent: Promise<Transferred>;
  /** The stream `run` was given (the TLS socket when secured). */
  stream: Duplex | undefined;
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
    this.stream = stream;
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
      const block = randomBytes(Math.min(1024 * 1024, Math.max(1, this.#size)));
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
      // The sender writes everything and ends; the receiver ends once it has read the
      // end of stream. (A TLS socket is not half-open: a close_notify received closes
      // our direction too, so the receiver must not end first.)
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

/** Accepts raw-bytes offers as receivers; `offered` lists what it handed out. */
export class RawBytesApplication implements ApplicationFormat {
  readonly namespaces = [NS_RAW] as const;
  readonly plaintextAllowed = false;
  readonly offered: RawBytes[] = [];

  accept(_ctx: ContentContext, _offer: Element): RawBytes {
    const app = new RawBytes();
    this.offered.push(app);
    return app;
  }
}

// --- parties ----------------------------------------------------------------------------

export interface Party {
  readonly link: XmppLink;
  readonly trust: MemoryTrustStore;
  readonly engine: NodeTlsEngine;
  readonly security: XtlsSecurity;
  readonly ibb: InBandBytestreams;
  /** The IBB Jingle transport (XEP-0261). */
  readonly transport: IbbTransport;
  /** With the `socks5` option: the SOCKS5 Bytestreams service and its Jingle transport (XEP-0260). */
  readonly socks5: Socks5Bytestreams | undefined;
  readonly s5b: S5bTransport | undefined;
  /** The raw-bytes application (registered with the `rawBytes` option). */
  readonly raw: RawBytesApplication;
  readonly manager: JingleManager;
}

export interface PartyOptions extends EngineOptions {
  /** Register the XTLS security method at all (false: a client without XTLS). */
  readonly xtls?: boolean;
  /** More options for XtlsSecurity (askPassword, confirmSas, resolve…); the handshake timeout is 10 s unless given. */
  readonly security?: Partial<Omit<XtlsSecurityOptions, "engine">>;
  /** Options of the IBB service. */
  readonly ibb?: InBandBytestreamsOptions;
  /** The block-size the IBB transport offers. */
  readonly blockSize?: number;
  /** Also a SOCKS5 Bytestreams service with these options, and its Jingle transport. */
  readonly socks5?: Socks5BytestreamsOptions;
  readonly s5b?: Partial<S5bTransportOptions>;
  /** The transports registered with the manager; default S5B (when there is one), then IBB. */
  readonly transports?: (p: { transport: IbbTransport; s5b: S5bTransport | undefined }) => TransportMethod[];
  /** The applications (default: the XML stream, XEP-0246); raw bytes come first with `rawBytes`. */
  readonly applications?: readonly ApplicationFormat[];
  /** Also accept raw-bytes sessions ({@link Party.raw}). */
  readonly rawBytes?: boolean;
  /** More options for the Jingle manager; the accept and connect timeouts are 10 s unless given. */
  readonly jingle?: Partial<Omit<JingleManagerOptions, "applications" | "transports" | "security">>;
}

/**
 * An XTLS party on `link`. Its manager is terminated and its services closed by
 * {@link cleanUp} (./support.js).
 */
export async function partyOn(link: XmppLink, options: PartyOptions = {}): Promise<Party> {
  const { trust, engine } = await pinnedEngine(link.jid, options);
  const security = new XtlsSecurity({ handshakeTimeoutMs: 10_000, ...options.security, engine });
  const ibb = new InBandBytestreams(link, options.ibb);
  const transport = new IbbTransport({ ibb, blockSize: options.blockSize });
  const socks5 = options.socks5 ? new Socks5Bytestreams(link, options.socks5) : undefined;
  const s5b = socks5 ? new S5bTransport({ socks5, ...options.s5b }) : undefined;
  const raw = new RawBytesApplication();
  const manager = createJingleManager(link, {
    acceptTimeoutMs: 10_000,
    connectTimeoutMs: 10_000,
    ...options.jingle,
    applications: [
      ...(options.rawBytes ? [raw] : []),
      ...(options.applications ?? [new XmlStreamApplication()]),
    ],
    transports: options.transports
      ? options.transports({ transport, s5b })
      : s5b
        ? [s5b, transport]
        : [transport],
    security: options.xtls === false ? [] : [security],
  });
  onCleanup(async () => {
    await manager.terminateAll();
    for (const stream of socks5?.streams ?? []) stream.on("error", () => {});
    await Promise.allSettled([ibb.close(), socks5?.close()]);
  });
  return { link, trust, engine, security, ibb, transport, socks5, s5b, raw, manager };
}

/**
 * Romeo and Juliet (`jids`) on `router`, made by `make`: with `options.romeo` and
 * `options.juliet`, by default each pinning the other. `wire` is the router's transcript
 * from now on.
 */
export async function pairOnRouter<P, O>(
  router: LocalRouter,
  jids: readonly [romeo: string, juliet: string],
  make: (link: XmppLink, options: O | { readonly pins: readonly string[] }) => Promise<P>,
  options: { readonly romeo?: O; readonly juliet?: O } = {},
): Promise<{ wire: RouteEvent[]; romeo: P; juliet: P }> {
  const [romeoJid, julietJid] = jids;
  const wire: RouteEvent[] = [];
  router.observe((e) => wire.push(e));
  const romeo = await make(router.createLink(romeoJid), options.romeo ?? { pins: [julietJid] });
  const juliet = await make(router.createLink(julietJid), options.juliet ?? { pins: [romeoJid] });
  return { wire, romeo, juliet };
}

/** The responder accepts the next session offered, with the application `app` makes for it. */
export function acceptNext<T extends ApplicationHandle>(
  party: Party,
  app: (incoming: IncomingSession) => T,
): Promise<{ incoming: IncomingSession; app: T }> {
  return new Promise((resolve) => {
    party.manager.once("incoming", (incoming) => {
      const handle = app(incoming);
      void incoming.session.accept({ application: handle }).catch(() => {});
      resolve({ incoming, app: handle });
    });
  });
}

/** The responder takes the next session offered as an XML stream. */
export function acceptEverything(
  party: Party,
): Promise<{ incoming: IncomingSession; app: XmlStreamSession }> {
  return acceptNext(party, () => new XmlStreamSession());
}

export interface Opened {
  readonly session: JingleSession;
  readonly responder: JingleSession;
  readonly romeo: XmlStream;
  readonly juliet: XmlStream;
}

/** Romeo starts an XML stream session over IBB with Juliet (at `to`), who accepts it. */
export async function openXmlStreamSession(
  romeo: Party,
  juliet: Party,
  to = juliet.link.jid,
): Promise<Opened> {
  const incoming = acceptEverything(juliet);
  const app = new XmlStreamSession();
  const session = romeo.manager.initiate(to, {
    application: app,
    transports: [romeo.transport],
    security: romeo.security,
  });
  const [ours, theirs] = await Promise.all([app.stream, incoming.then(({ app }) => app.stream)]);
  return { session, responder: (await incoming).incoming.session, romeo: ours, juliet: theirs };
}

/**
 * Romeo sends `size` raw octets to Juliet (who has `rawBytes`) in a Jingle session with
 * XTLS, over `transports` (default: his S5B if any, then IBB). Resolves with both
 * sessions and apps.
 */
export async function transfer(
  romeo: Party,
  juliet: Party,
  size: number,
  transports: TransportMethod[] = romeo.s5b ? [romeo.s5b, romeo.transport] : [romeo.transport],
) {
  const incoming = acceptNext(juliet, (i) =>
    juliet.raw.accept(undefined as unknown as ContentContext, i.description),
  );
  const app = new RawBytes(size);
  const session = romeo.manager.initiate(juliet.link.jid, {
    application: app,
    transports,
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
