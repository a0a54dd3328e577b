// Jingle parties with the real plug-ins: @xtls/socks5's S5B transport (IBB from @xtls/ibb
// as the fallback), XtlsSecurity over @xtls/tls, and a small raw-bytes application that
// pumps bytes through the secured stream and hashes what arrives.
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { type Element, type RouteEvent, type XmppLink, xml } from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import {
  type ApplicationFormat,
  type ApplicationHandle,
  type ContentContext,
  createJingleManager,
  type JingleManager,
  type JingleSession,
  type TransportMethod,
} from "@xtls/jingle";
import { XtlsSecurity } from "@xtls/jingle-xtls";
import { createIdentity, type Identity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { XmlStreamApplication } from "@xtls/xmlstream";
import {
  S5bTransport,
  type S5bTransportOptions,
  type Socks5Bytestreams,
  type Socks5BytestreamsOptions,
} from "../src/index.js";
import { onCleanup, socks5 } from "./helpers.js";

export const NS_RAW = "urn:xtls:test:raw-bytes:0";

const identities = new Map<string, Identity>();

/** One identity per bare JID (key generation is the slow part). */
export function identityOf(jid: string): Identity {
  const bare = jid.split("/")[0]!;
  let id = identities.get(bare);
  if (!id) {
    id = createIdentity(bare);
    identities.set(bare, id);
  }
  return id;
}

export interface Transferred {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * The raw-bytes application. The sender (the initiator) writes `size` octets (a random
 * block repeated, so no big buffer is held) and ends; the receiver hashes until the end
 * of stream and then ends its own direction. `received` resolves with what arrived, or rejects with
 * the error that broke the stream (never a silent short read).
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

export interface Party {
  readonly link: XmppLink;
  readonly socks5: Socks5Bytestreams;
  readonly s5b: S5bTransport;
  readonly ibb: InBandBytestreams;
  readonly ibbTransport: IbbTransport;
  readonly security: XtlsSecurity;
  readonly manager: JingleManager;
  readonly app: RawBytesApplication;
}

export interface PartyOptions {
  /** JIDs whose certificates this party has pinned. */
  readonly pins?: readonly string[];
  readonly socks5?: Socks5BytestreamsOptions;
  readonly s5b?: Partial<S5bTransportOptions>;
  /** Register IBB for the fallback (default true). */
  readonly ibb?: boolean;
  /** Transports registered for incoming sessions; default S5B (+ IBB). */
  readonly transports?: (p: { s5b: S5bTransport; ibbTransport: IbbTransport }) => TransportMethod[];
  readonly connectTimeoutMs?: number;
}

export async function partyOn(link: XmppLink, options: PartyOptions = {}): Promise<Party> {
  const trust = new MemoryTrustStore();
  for (const jid of options.pins ?? [])
    await trust.pin(jid, identityOf(jid).fingerprint, { method: "manual" });
  const engine = new NodeTlsEngine({ identity: identityOf(link.jid), trustStore: trust });
  const security = new XtlsSecurity({ engine, handshakeTimeoutMs: 10_000 });
  const service = socks5(link, options.socks5);
  const s5b = new S5bTransport({ socks5: service, ...options.s5b });
  const ibb = new InBandBytestreams(link, { window: 16 });
  onCleanup(() => ibb.close());
  const ibbTransport = new IbbTransport({ ibb, blockSize: 16384 });
  const app = new RawBytesApplication();
  const transports = options.transports
    ? options.transports({ s5b, ibbTransport })
    : options.ibb === false
      ? [s5b]
      : [s5b, ibbTransport];
  const manager = createJingleManager(link, {
    applications: [app, new XmlStreamApplication()],
    transports,
    security: [security],
    acceptTimeoutMs: 20_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
    replaceTimeoutMs: 20_000,
  });
  onCleanup(() => manager.terminateAll());
  return { link, socks5: service, s5b, ibb, ibbTransport, security, manager, app };
}

/** The responder accepts the next session offered; resolves with its session and app. */
export function acceptNext(party: Party): Promise<{ session: JingleSession; app: RawBytes }> {
  return new Promise((resolve) => {
    party.manager.once("incoming", (incoming) => {
      const app = party.app.accept(undefined as unknown as ContentContext, incoming.description);
      void incoming.session.accept({ application: app }).catch(() => {});
      resolve({ session: incoming.session, app });
    });
  });
}

/**
 * Romeo sends `size` octets to Juliet in a Jingle session with XTLS, over `transports`
 * (default: his S5B, then IBB). Resolves with both sessions and apps.
 */
export async function transfer(
  romeo: Party,
  juliet: Party,
  size: number,
  transports: TransportMethod[] = [romeo.s5b, romeo.ibbTransport],
) {
  const incoming = acceptNext(juliet);
  const app = new RawBytes(size);
  const session = romeo.manager.initiate(juliet.link.jid, {
    application: app,
    transports,
    security: romeo.security,
  });
  const responder = await incoming;
  return { session, app, responder: responder.session, theirApp: responder.app };
}

/** The Jingle actions and S5B transport-info payloads on the wire, in order ("R:" Romeo, "J:" Juliet). */
export function trace(events: readonly RouteEvent[], names: Record<string, string>): string[] {
  const out: string[] = [];
  for (const e of events) {
    const who = names[e.from] ?? e.from;
    const jingle = e.stanza.getChild("jingle", "urn:xmpp:jingle:1");
    if (jingle && e.stanza.attrs.type === "set") {
      const reason = jingle.getChild("reason")?.getChildElements()[0]?.name;
      const transport = jingle.getChild("content")?.getChild("transport");
      const info =
        jingle.attrs.action === "transport-info" ? transport?.getChildElements()[0]?.name : undefined;
      const ns = transport?.attrs.xmlns?.split(":").slice(-2, -1)[0];
      const detail =
        info ??
        ([
          "session-initiate",
          "session-accept",
          "transport-replace",
          "transport-accept",
          "transport-reject",
        ].includes(jingle.attrs.action ?? "")
          ? ns
          : undefined);
      out.push(`${who}:${jingle.attrs.action}${detail ? `[${detail}]` : ""}${reason ? `(${reason})` : ""}`);
    }
    if (
      e.stanza.attrs.type === "set" &&
      e.stanza.getChild("query", "http://jabber.org/protocol/bytestreams")?.getChild("activate")
    )
      out.push(`${who}:activate`);
  }
  return out;
}
