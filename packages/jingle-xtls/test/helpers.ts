// Two (or more) XTLS parties, each with the real plug-ins: @xtls/ibb's Jingle transport,
// XtlsSecurity over @xtls/tls, and @xtls/xmlstream's Jingle application.
import type { Element, RouteEvent, XmppLink } from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import {
  createJingleManager,
  type IncomingSession,
  type JingleManager,
  type JingleSession,
} from "@xtls/jingle";
import {
  createIdentity,
  type Identity,
  MemoryTrustStore,
  NodeTlsEngine,
  type NodeTlsEngineOptions,
} from "@xtls/tls";
import { type XmlStream, XmlStreamApplication, XmlStreamSession } from "@xtls/xmlstream";
import { XtlsSecurity, type XtlsSecurityOptions } from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";
export const MALLORY = "mallory@montague.lit/arras";

export const ROMEO_LINE = "M'lady, I would be pleased to make your acquaintance.";
export const JULIET_LINE = "Art thou not Romeo, and a Montague?";

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

export interface Party {
  readonly link: XmppLink;
  readonly ibb: InBandBytestreams;
  readonly trust: MemoryTrustStore;
  readonly engine: NodeTlsEngine;
  readonly security: XtlsSecurity;
  readonly transport: IbbTransport;
  readonly manager: JingleManager;
}

export interface PartyOptions {
  /** JIDs whose real certificates this party has pinned (verified out of band). */
  readonly pins?: readonly string[];
  /** Whose certificate this party presents (default: its own JID's). */
  readonly identity?: Identity;
  /** Register the XTLS security method at all (false: a client without XTLS). */
  readonly xtls?: boolean;
  readonly blockSize?: number;
  /** More options for XtlsSecurity (askPassword, confirmSas, resolve…). */
  readonly security?: Partial<Omit<XtlsSecurityOptions, "engine">>;
  /** More options for the TLS engine (tofu, ca, attemptLimiter…). */
  readonly engine?: Partial<Omit<NodeTlsEngineOptions, "identity" | "trustStore">>;
  /** Use this trust store (e.g. shared with a later party) instead of a fresh one. */
  readonly trust?: MemoryTrustStore;
}

export async function partyOn(link: XmppLink, options: PartyOptions = {}): Promise<Party> {
  const trust = options.trust ?? new MemoryTrustStore();
  for (const jid of options.pins ?? [])
    await trust.pin(jid, identityOf(jid).fingerprint, { method: "manual" });
  const engine = new NodeTlsEngine({
    ...options.engine,
    identity: options.identity ?? identityOf(link.jid),
    trustStore: trust,
  });
  const security = new XtlsSecurity({ handshakeTimeoutMs: 10_000, ...options.security, engine });
  const ibb = new InBandBytestreams(link);
  const transport = new IbbTransport({ ibb, blockSize: options.blockSize });
  const manager = createJingleManager(link, {
    applications: [new XmlStreamApplication()],
    transports: [transport],
    security: options.xtls === false ? [] : [security],
    acceptTimeoutMs: 10_000,
    connectTimeoutMs: 10_000,
  });
  return { link, ibb, trust, engine, security, transport, manager };
}

export interface Opened {
  readonly session: JingleSession;
  readonly responder: JingleSession;
  readonly romeo: XmlStream;
  readonly juliet: XmlStream;
}

/** The responder takes every xmlstream session offered. */
export function acceptEverything(
  party: Party,
): Promise<{ incoming: IncomingSession; app: XmlStreamSession }> {
  return new Promise((resolve) => {
    party.manager.once("incoming", (incoming) => {
      const app = new XmlStreamSession();
      void incoming.session.accept({ application: app }).catch(() => {});
      resolve({ incoming, app });
    });
  });
}

/** Romeo starts an XML stream session with Juliet, who accepts it. */
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

/** Collects the message/presence stanzas a stream delivers. */
export function inbox(stream: XmlStream): Element[] {
  const got: Element[] = [];
  stream.on("stanza", (s) => got.push(s));
  return got;
}

export const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await tick(2);
  }
}

/** The Jingle actions and IBB elements on the wire, in order ("R:" from Romeo, "J:" from Juliet). */
export function trace(events: readonly RouteEvent[], names: Record<string, string>): string[] {
  const out: string[] = [];
  for (const e of events) {
    const who = names[e.from] ?? e.from;
    const jingle = e.stanza.getChild("jingle", "urn:xmpp:jingle:1");
    if (jingle && e.stanza.attrs.type === "set") {
      const reason = jingle.getChild("reason")?.getChildElements()[0]?.name;
      out.push(`${who}:${jingle.attrs.action}${reason ? `(${reason})` : ""}`);
      continue;
    }
    for (const name of ["open", "close"]) {
      if (e.stanza.attrs.type === "set" && e.stanza.getChild(name, "http://jabber.org/protocol/ibb"))
        out.push(`${who}:ibb-${name}`);
    }
    if (e.stanza.attrs.type === "set" && e.stanza.getChild("data", "http://jabber.org/protocol/ibb")) {
      if (out.at(-1) !== `${who}:ibb-data…`) out.push(`${who}:ibb-data…`);
    }
  }
  return out;
}
