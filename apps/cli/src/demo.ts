/**
 * `xtls demo`: Romeo and Juliet open an end-to-end encrypted tunnel and talk through it.
 *
 * - `--mode jingle` (default), the draft's flow (draft-meyer-xmpp-e2e-encryption-02 §3–4):
 *   a Jingle session with an XML stream application, an IBB transport and the XTLS
 *   security precondition; TLS 1.3 runs as the first bytes over IBB; then an end-to-end
 *   XML stream carries message, presence and IQ stanzas both ways.
 * - `--mode q`, the IQ-based tunnel of the XTLS ProtoXEP (`urn:xmpp:tmp:xtls`).
 *
 * On the embedded router by default; through a real server with `--server`.
 */
import type { Writable } from "node:stream";
import {
  type Element,
  fromXmppClient,
  LocalRouter,
  NS,
  queryDiscoInfo,
  type XmppLink,
  xml,
} from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import { type IqTunnel, IqTunnelService } from "@xtls/iq-tunnel";
import {
  createJingleManager,
  type JingleSession,
  type SessionPhase,
  type TransportMethod,
} from "@xtls/jingle";
import { supportsXtls, type XtlsChannel, XtlsSecurity } from "@xtls/jingle-xtls";
import { S5bTransport, Socks5Bytestreams } from "@xtls/socks5";
import {
  createIdentity,
  formatFingerprint,
  type Identity,
  MemoryTrustStore,
  NodeTlsEngine,
  type SecureChannel,
} from "@xtls/tls";
import { type XmlStream, XmlStreamApplication, XmlStreamSession } from "@xtls/xmlstream";
import { describeStanza, shortFingerprint, who } from "./describe.js";
import type { Style } from "./style.js";
import { Transcript } from "./transcript.js";

/** Mode Q's lines: the seed's own (seed 001). */
export const SEED_LINES =
  "I take thee at thy word:\nCall me but love, and I'll be new baptized;\nHenceforth I never will be Romeo.";
export const REPLY_LINES = "What man art thou that thus bescreen'd in night\nSo stumblest on my counsel?";
/** The draft's lines (seed 004 §4). */
export const DRAFT_LINE = "M'lady, I would be pleased to make your acquaintance.";
export const DRAFT_REPLY = "Art thou not Romeo, and a Montague?";

export type DemoMode = "jingle" | "q";
/** The Jingle transport of `--mode jingle`: IBB, or SOCKS5 first with IBB as the fallback. */
export type DemoTransport = "ibb" | "s5b";

export interface Account {
  readonly jid: string;
  readonly password: string;
}

export interface DemoOptions {
  readonly out: Writable & { columns?: number };
  readonly style: Style;
  readonly width?: number;
  /** Default `jingle`. */
  readonly mode?: DemoMode;
  /** Default `ibb`. */
  readonly transport?: DemoTransport;
  /** A real server (`xmpp://host:port`); the embedded router when absent. */
  readonly server?: { readonly service: string; readonly romeo: Account; readonly juliet: Account };
}

export interface DemoResult {
  readonly mode: DemoMode;
  readonly protocol: string;
  readonly cipher: string;
  readonly fingerprints: { readonly romeo: string; readonly juliet: string };
  /** The Jingle session's phases, as Romeo saw them (Jingle mode). */
  readonly phases: readonly string[];
  readonly wireStanzas: number;
  /** IQs that carried TLS records (IBB `<data/>`, or Mode Q `<data/>`). */
  readonly dataIqs: number;
  readonly ciphertextBytes: number;
  readonly plaintextLeaks: number;
  readonly received: { readonly romeo: readonly string[]; readonly juliet: readonly string[] };
  readonly ms: number;
}

interface Side {
  readonly name: "romeo" | "juliet";
  readonly link: XmppLink;
  readonly identity: Identity;
  readonly trust: MemoryTrustStore;
  readonly engine: NodeTlsEngine;
}

interface Story {
  readonly protocol: string;
  readonly cipher: string;
  readonly phases: readonly string[];
  readonly received: { readonly romeo: readonly string[]; readonly juliet: readonly string[] };
  /** Words that must never appear on the wire. */
  readonly secrets: readonly string[];
  readonly cleanup: () => Promise<void>;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const mode = options.mode ?? "jingle";
  const { style } = options;
  const t = new Transcript({ out: options.out, style, width: options.width });
  const wire: string[] = [];
  let dataIqs = 0;
  let ciphertextBytes = 0;
  const onWire = (from: string | undefined, to: string | undefined, stanza: Element, raw: string) => {
    wire.push(raw);
    const data = stanza.getChild("data", NS.XTLS_IQ) ?? stanza.getChild("data", NS.IBB);
    if (data && stanza.name === "iq") {
      dataIqs++;
      ciphertextBytes += Buffer.from(data.getText().trim(), "base64").length;
    }
    const arrow = `${who(from)} → ${who(to)}`;
    const color = who(from) === "romeo" ? style.cyan : who(from) === "juliet" ? style.magenta : style.dim;
    const text = `${color(arrow.padEnd(17))} ${describeStanza(stanza)}`;
    t.wire(stanza.attrs.type === "result" && stanza.getChildElements().length === 0 ? style.dim(text) : text);
  };

  t.line(
    style.bold(
      mode === "jingle"
        ? `XTLS demo — Jingle + XTLS over ${options.transport === "s5b" ? "SOCKS5 bytestreams (IBB as fallback)" : "in-band bytestreams"}, carrying an end-to-end XML stream (draft-meyer-xmpp-e2e-encryption-02)`
        : "XTLS demo — Mode Q: the IQ-based tunnel of the XTLS ProtoXEP (urn:xmpp:tmp:xtls)",
    ),
  );
  t.line(
    options.server
      ? `Network: ${options.server.service} (a real XMPP server), as ${options.server.romeo.jid} and ${options.server.juliet.jid}`
      : "Network: the embedded in-process router — no server needed (try --server xmpp://127.0.0.1:15222).",
  );

  const { romeo, juliet, dispose } = options.server
    ? await serverSides(options.server, onWire)
    : localSides(onWire);
  try {
    await romeo.trust.pin(juliet.identity.jid, juliet.identity.fingerprint, { method: "manual" });
    await juliet.trust.pin(romeo.identity.jid, romeo.identity.fingerprint, { method: "manual" });
    t.heading("Identities: self-signed ECDSA P-256 certificates naming their owner's JID (XmppAddr)");
    t.line(`  ${romeo.identity.jid.padEnd(22)} SHA-256 ${formatFingerprint(romeo.identity.fingerprint)}`);
    t.line(`  ${juliet.identity.jid.padEnd(22)} SHA-256 ${formatFingerprint(juliet.identity.fingerprint)}`);
    t.line(style.dim("  Each pins the other's fingerprint, as if compared out of band beforehand."));
    t.line();
    t.rule("what the network carried", "what Romeo and Juliet saw");

    const story =
      mode === "jingle"
        ? await jingleStory(t, style, romeo, juliet, options.transport ?? "ibb")
        : await modeQStory(t, style, romeo, juliet);
    await story.cleanup();

    const leaks = wire.filter((w) => story.secrets.some((s) => w.includes(s))).length;
    const ms = performance.now() - t0;
    t.heading("Summary");
    t.line(`  TLS            ${story.protocol}, ${story.cipher}, mutual certificate authentication`);
    t.line(`  Romeo          SHA-256 ${formatFingerprint(romeo.identity.fingerprint)}`);
    t.line(`  Juliet         SHA-256 ${formatFingerprint(juliet.identity.fingerprint)}`);
    const carrier = mode === "jingle" ? "IBB <data/> IQs" : "<data/> IQs";
    t.line(
      `  On the wire    ${wire.length} stanzas; ` +
        (dataIqs === 0 && options.transport === "s5b"
          ? "the TLS records went over a SOCKS5 connection, not through XMPP; "
          : `${dataIqs} ${carrier} carried ${ciphertextBytes} bytes of TLS records as Base64; `) +
        `the words of the play appear ${leaks === 0 ? style.green("0 times") : style.red(`${leaks} times`)}`,
    );
    t.line(`  Time           ${ms.toFixed(0)} ms`);
    return {
      mode,
      protocol: story.protocol,
      cipher: story.cipher,
      fingerprints: { romeo: romeo.identity.fingerprint, juliet: juliet.identity.fingerprint },
      phases: story.phases,
      wireStanzas: wire.length,
      dataIqs,
      ciphertextBytes,
      plaintextLeaks: leaks,
      received: story.received,
      ms,
    };
  } finally {
    await dispose();
  }
}

// --- the draft's flow: Jingle + XTLS + IBB + XML stream -----------------------------

async function jingleStory(
  t: Transcript,
  style: Style,
  romeo: Side,
  juliet: Side,
  transport: DemoTransport,
): Promise<Story> {
  const party = (side: Side) => {
    const ibb = new InBandBytestreams(side.link);
    const socks5 = transport === "s5b" ? new Socks5Bytestreams(side.link) : undefined;
    const transports: TransportMethod[] = [
      ...(socks5 ? [new S5bTransport({ socks5 })] : []),
      new IbbTransport({ ibb }),
    ];
    const security = new XtlsSecurity({ engine: side.engine });
    const manager = createJingleManager(side.link, {
      applications: [new XmlStreamApplication()],
      transports,
      security: [security],
    });
    return { ibb, socks5, transports, security, manager };
  };
  const r = party(romeo);
  const j = party(juliet);
  const say = (who: Side, text: string) => t.peer(`${style.bold(who.name)}: ${text}`);

  const info = await queryDiscoInfo(romeo.link, juliet.link.jid);
  say(
    romeo,
    `${juliet.link.jid} advertises ${
      supportsXtls(info.features) && info.features.includes(NS.JINGLE_IBB)
        ? style.green("Jingle, XTLS (urn:xmpp:jingle:security:xtls:0), IBB and XML streams")
        : style.red("no XTLS")
    }`,
  );

  const followPhases = (side: Side, session: JingleSession, seen: string[]) => {
    const what: Record<SessionPhase, string> = {
      negotiating: "negotiating",
      connecting: transport === "s5b" ? "connecting the SOCKS5 candidates" : "opening the in-band bytestream",
      securing:
        transport === "s5b"
          ? "TLS 1.3 handshake — the first bytes on SOCKS5"
          : "TLS 1.3 handshake — the first bytes on IBB",
      established: "transport reported open — only now, after both certificates were verified",
      ended: "session ended",
    };
    session.on("phase", (phase) => {
      seen.push(phase);
      say(side, what[phase]);
    });
  };

  const romeoPhases: string[] = [];
  const julietApp = new Promise<{ session: JingleSession; app: XmlStreamSession }>((resolve, reject) => {
    j.manager.once("incoming", (incoming) => {
      const offered = incoming.session.offer?.contents[0]?.security;
      const fp = offered?.getChildText("fingerprint") ?? "";
      say(
        juliet,
        `session offered by ${incoming.peer}: ${incoming.description.getNS()?.replace("urn:xmpp:jingle:apps:", "")} ` +
          `with the XTLS precondition; his fingerprint ${shortFingerprint(fp)} ${style.green("is pinned")} → accept with hers`,
      );
      const app = new XmlStreamSession();
      followPhases(juliet, incoming.session, []);
      incoming.session
        .accept({ application: app })
        .then(() => resolve({ session: incoming.session, app }), reject);
    });
  });

  const app = new XmlStreamSession();
  say(
    romeo,
    `session-initiate to ${juliet.link.jid}: xmlstream over IBB, XTLS <security/> with his fingerprint`,
  );
  const session = r.manager.initiate(juliet.link.jid, {
    application: app,
    transports: r.transports,
    security: r.security,
  });
  followPhases(romeo, session, romeoPhases);
  const theirs = await julietApp;
  const [ours, hers] = await Promise.all([app.stream, theirs.app.stream]);
  const channel = session.secured as XtlsChannel;
  const herChannel = theirs.session.secured as XtlsChannel;
  say(
    romeo,
    `TLS client — ${channel.protocol}, ${channel.cipher}; ${juliet.identity.jid}'s certificate ` +
      `${shortFingerprint(channel.peer.fingerprint)} ${style.green("matches the pinned fingerprint")}`,
  );
  say(
    juliet,
    `TLS server (client certificate required); ${romeo.identity.jid}'s certificate ` +
      `${shortFingerprint(herChannel.peer.fingerprint)} ${style.green("matches the pinned fingerprint")}`,
  );
  say(romeo, `end-to-end XML stream open (XEP-0246), stream id ${ours.id ?? "?"}`);

  const atJuliet: string[] = [];
  const atRomeo: string[] = [];
  const julietGot = nextStanza(hers);
  await ours.send(xml("message", { type: "chat" }, xml("body", {}, DRAFT_LINE)));
  const m1 = await julietGot;
  atJuliet.push(m1.getChildText("body") ?? "");
  t.peer(received("juliet", m1, style));

  const romeoGot = nextStanza(ours);
  await hers.send(xml("message", { type: "chat" }, xml("body", {}, DRAFT_REPLY)));
  const m2 = await romeoGot;
  atRomeo.push(m2.getChildText("body") ?? "");
  t.peer(received("romeo", m2, style));

  const presence = nextStanza(ours);
  await hers.send(xml("presence", {}, xml("show", {}, "chat"), xml("status", {}, "on the balcony")));
  const p = await presence;
  say(romeo, `⇐ <presence> from ${p.attrs.from}: ${p.getChildText("show")} — “${p.getChildText("status")}”`);

  hers.handle("get", "jabber:iq:version", "query", () =>
    xml("query", { xmlns: "jabber:iq:version" }, xml("name", {}, "xtls demo"), xml("version", {}, "0.1")),
  );
  const version = (
    await ours.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:version" })))
  ).getChild("query", "jabber:iq:version");
  say(
    romeo,
    `⇐ iq result inside the stream (XEP-0092): ${version?.getChildText("name")} ${version?.getChildText("version")}`,
  );

  await ours.close();
  say(romeo, "</stream:stream> sent and received; TLS close_notify; then session-terminate <success/>");
  await Promise.all([session.done, theirs.session.done]);
  return {
    protocol: channel.protocol,
    cipher: channel.cipher,
    phases: romeoPhases,
    received: { romeo: atRomeo, juliet: atJuliet },
    secrets: ["acquaintance", "Art thou not", "on the balcony", "xtls demo"],
    cleanup: async () => {
      await Promise.allSettled([r.ibb.close(), j.ibb.close(), r.socks5?.close(), j.socks5?.close()]);
    },
  };
}

// --- Mode Q -----------------------------------------------------------------------------

async function modeQStory(t: Transcript, style: Style, romeo: Side, juliet: Side): Promise<Story> {
  const romeoService = new IqTunnelService(romeo.link, { engine: romeo.engine });
  const julietService = new IqTunnelService(juliet.link, { engine: juliet.engine });
  const info = await queryDiscoInfo(romeo.link, juliet.link.jid);
  t.peer(
    `${style.bold("romeo")}: ${juliet.link.jid} advertises ${info.features.includes(NS.XTLS_IQ) ? style.green("urn:xmpp:tmp:xtls") : style.red("no XTLS")}`,
  );

  const incoming = new Promise<IqTunnel>((resolve, reject) => {
    julietService.once("tunnel", resolve);
    julietService.once("failed", ({ error }) => reject(error));
  });
  const ours = await romeoService.open(juliet.link.jid);
  const theirs = await incoming;
  const channel = ours.channel as SecureChannel;
  t.peer(
    `${style.bold("romeo")}: tunnel open as TLS client — ${channel.protocol}, ${channel.cipher}\n` +
      `  ${juliet.identity.jid}'s certificate ${shortFingerprint(ours.peer!.fingerprint)} ${style.green("matches the pinned fingerprint")}`,
  );
  t.peer(
    `${style.bold("juliet")}: tunnel open as TLS server (client certificate required)\n` +
      `  ${romeo.identity.jid}'s certificate ${shortFingerprint(theirs.peer!.fingerprint)} ${style.green("matches the pinned fingerprint")}`,
  );

  const atJuliet: string[] = [];
  const atRomeo: string[] = [];
  const julietGot = nextStanza(theirs);
  theirs.handle("get", "jabber:iq:version", "query", () =>
    xml("query", { xmlns: "jabber:iq:version" }, xml("name", {}, "xtls demo"), xml("version", {}, "0.1")),
  );
  await ours.send(
    xml(
      "message",
      { type: "chat", from: romeo.link.jid, to: juliet.link.jid },
      xml("thread", {}, "act2scene2chat1"),
      xml("body", {}, SEED_LINES),
      xml("active", { xmlns: NS.CHATSTATES }),
    ),
  );
  const m1 = await julietGot;
  atJuliet.push(m1.getChildText("body") ?? "");
  t.peer(received("juliet", m1, style));

  const romeoGot = nextStanza(ours);
  await theirs.send(
    xml("message", { type: "chat" }, xml("thread", {}, "act2scene2chat1"), xml("body", {}, REPLY_LINES)),
  );
  const m2 = await romeoGot;
  atRomeo.push(m2.getChildText("body") ?? "");
  t.peer(received("romeo", m2, style));

  const version = (
    await ours.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:version" })))
  ).getChild("query", "jabber:iq:version");
  t.peer(
    `${style.bold("romeo")} ⇐ iq result through the tunnel (XEP-0092): ${version?.getChildText("name")} ${version?.getChildText("version")}`,
  );

  const julietClosed = new Promise<Error | undefined>((resolve) => theirs.once("close", resolve));
  await ours.close();
  const julietError = await julietClosed;
  t.peer(`${style.bold("romeo")}: tunnel closed (TLS close_notify both ways, then <close/>)`);
  t.peer(
    `${style.bold("juliet")}: ${julietError ? style.red(`tunnel failed: ${julietError.message}`) : "tunnel closed cleanly"}`,
  );
  if (julietError) throw julietError;
  return {
    protocol: channel.protocol,
    cipher: channel.cipher,
    phases: [],
    received: { romeo: atRomeo, juliet: atJuliet },
    secrets: ["baptized", "bescreen", "xtls demo"],
    cleanup: async () => {
      await Promise.allSettled([romeoService.close(), julietService.close()]);
    },
  };
}

// --- shared ---------------------------------------------------------------------------

function received(name: string, stanza: Element, style: Style): string {
  const thread = stanza.getChildText("thread");
  const body = (stanza.getChildText("body") ?? "").split("\n").map((l) => `  “${l}”`);
  return [
    `${style.bold(name)} ⇐ <message type='${stanza.attrs.type}'> from ${stanza.attrs.from}${thread ? ` (thread ${thread})` : ""}`,
    ...body.map((l) => style.green(l)),
  ].join("\n");
}

function nextStanza(source: IqTunnel | XmlStream): Promise<Element> {
  return new Promise((resolve) => (source as IqTunnel).once("stanza", resolve));
}

function side(name: Side["name"], link: XmppLink): Side {
  const identity = createIdentity(link.jid);
  const trust = new MemoryTrustStore();
  return { name, link, identity, trust, engine: new NodeTlsEngine({ identity, trustStore: trust }) };
}

type OnWire = (from: string | undefined, to: string | undefined, stanza: Element, raw: string) => void;

function localSides(onWire: OnWire) {
  const router = new LocalRouter();
  router.observe((e) => {
    if (e.outcome !== "dropped") onWire(e.from, e.to, e.stanza, e.wire);
  });
  const romeo = side("romeo", router.createLink("romeo@montague.lit/orchard"));
  const juliet = side("juliet", router.createLink("juliet@capulet.lit/balcony"));
  return { romeo, juliet, dispose: async () => router.close() };
}

/** Two accounts on a real server, for the story (which brings its own identities). */
export async function serverLinks(server: NonNullable<DemoOptions["server"]>) {
  const listeners: Array<(stanza: Element) => void> = [];
  const sides = await serverSides(server, (_from, _to, stanza) => {
    for (const l of listeners) l(stanza);
  });
  return {
    romeo: sides.romeo.link,
    juliet: sides.juliet.link,
    observe: (listener: (stanza: Element) => void) => listeners.push(listener),
    dispose: sides.dispose,
  };
}

async function serverSides(server: NonNullable<DemoOptions["server"]>, onWire: OnWire) {
  // @ts-expect-error -- @xmpp/client ships no type declarations; the shape used is XmppClient below.
  const { client } = (await import("@xmpp/client")) as unknown as {
    client: (options: Record<string, unknown>) => XmppClient;
  };
  const connect = async (account: Account) => {
    const [local, domainAndResource] = account.jid.split("@") as [string, string];
    const [domain, resource] = domainAndResource.split("/") as [string, string | undefined];
    const c = client({
      service: server.service,
      domain,
      username: local,
      password: account.password,
      resource: resource ?? "xtls-demo",
    });
    c.reconnect.stop();
    c.on("error", () => {});
    await c.start(); // the links made below hold their stanzas until XEP-0198 settles
    return c;
  };
  const [rc, jc] = await Promise.all([connect(server.romeo), connect(server.juliet)]);
  // What Romeo's connection carried, both ways.
  const isStanza = (el: Element) => el.name === "iq" || el.name === "message" || el.name === "presence";
  rc.on("send", (el: Element) => isStanza(el) && onWire(rc.jid?.toString(), el.attrs.to, el, el.toString()));
  rc.on(
    "element",
    (el: Element) => isStanza(el) && onWire(el.attrs.from, rc.jid?.toString(), el, el.toString()),
  );
  const romeo = side("romeo", fromXmppClient(rc));
  const juliet = side("juliet", fromXmppClient(jc));
  return {
    romeo,
    juliet,
    dispose: async () => {
      await Promise.allSettled([rc.stop(), jc.stop()]);
    },
  };
}

interface XmppClient {
  jid?: { toString(): string } | null;
  reconnect: { stop(): void };
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<unknown>;
  middleware: { use(fn: (ctx: { stanza: Element }, next: () => Promise<unknown>) => unknown): unknown };
  on(event: string, listener: (...args: never[]) => void): unknown;
}
