/**
 * `xtls demo`: Romeo and Juliet open an XTLS tunnel (Mode Q) and exchange the seed's
 * lines as end-to-end encrypted stanzas. On the embedded router by default; through a
 * real server with `--server`.
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
import { type IqTunnel, IqTunnelService } from "@xtls/iq-tunnel";
import { createIdentity, formatFingerprint, type Identity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { describeStanza, who } from "./describe.js";
import type { Style } from "./style.js";
import { Transcript } from "./transcript.js";

export const SEED_LINES =
  "I take thee at thy word:\nCall me but love, and I'll be new baptized;\nHenceforth I never will be Romeo.";
export const REPLY_LINES = "What man art thou that thus bescreen'd in night\nSo stumblest on my counsel?";

export interface Account {
  readonly jid: string;
  readonly password: string;
}

export interface DemoOptions {
  readonly out: Writable & { columns?: number };
  readonly style: Style;
  readonly width?: number;
  /** A real server (`xmpp://host:port`); the embedded router when absent. */
  readonly server?: { readonly service: string; readonly romeo: Account; readonly juliet: Account };
}

export interface DemoResult {
  readonly protocol: string;
  readonly cipher: string;
  readonly fingerprints: { readonly romeo: string; readonly juliet: string };
  readonly wireStanzas: number;
  readonly dataIqs: number;
  readonly ciphertextBytes: number;
  readonly plaintextLeaks: number;
  readonly received: { readonly romeo: readonly string[]; readonly juliet: readonly string[] };
  readonly ms: number;
}

interface Side {
  readonly name: string;
  readonly link: XmppLink;
  readonly identity: Identity;
  readonly trust: MemoryTrustStore;
  readonly service: IqTunnelService;
  close(): Promise<void>;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const { style } = options;
  const t = new Transcript({ out: options.out, style, width: options.width });
  const wire: string[] = [];
  let dataIqs = 0;
  let ciphertextBytes = 0;
  const onWire = (from: string | undefined, to: string | undefined, stanza: Element, raw: string) => {
    wire.push(raw);
    const data = stanza.getChild("data", NS.XTLS_IQ);
    if (data) {
      dataIqs++;
      ciphertextBytes += Buffer.from(data.getText().trim(), "base64").length;
    }
    const arrow = `${who(from)} → ${who(to)}`;
    const color = who(from) === "romeo" ? style.cyan : who(from) === "juliet" ? style.magenta : style.dim;
    const text = `${color(arrow.padEnd(17))} ${describeStanza(stanza)}`;
    t.wire(stanza.attrs.type === "result" && stanza.getChildElements().length === 0 ? style.dim(text) : text);
  };

  t.line(style.bold("XTLS demo — Mode Q: the IQ-based tunnel of the XTLS ProtoXEP (urn:xmpp:tmp:xtls)"));
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

    const info = await queryDiscoInfo(romeo.link, juliet.link.jid);
    t.peer(
      `${style.bold("romeo")}: ${juliet.link.jid} advertises ${info.features.includes(NS.XTLS_IQ) ? style.green("urn:xmpp:tmp:xtls") : style.red("no XTLS")}`,
    );

    const incoming = new Promise<IqTunnel>((resolve, reject) => {
      juliet.service.once("tunnel", resolve);
      juliet.service.once("failed", ({ error }) => reject(error));
    });
    const ours = await romeo.service.open(juliet.link.jid);
    const theirs = await incoming;
    const channel = ours.channel!;
    t.peer(
      `${style.bold("romeo")}: tunnel open as TLS client — ${channel.protocol}, ${channel.cipher}\n` +
        `  ${juliet.identity.jid}'s certificate ${ours.peer!.fingerprint.slice(0, 16)}… ${style.green("matches the pinned fingerprint")}`,
    );
    t.peer(
      `${style.bold("juliet")}: tunnel open as TLS server (client certificate required)\n` +
        `  ${romeo.identity.jid}'s certificate ${theirs.peer!.fingerprint.slice(0, 16)}… ${style.green("matches the pinned fingerprint")}`,
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

    const leaks = wire.filter((w) => w.includes("baptized") || w.includes("bescreen")).length;
    const ms = performance.now() - t0;
    t.heading("Summary");
    t.line(`  TLS            ${channel.protocol}, ${channel.cipher}, mutual certificate authentication`);
    t.line(`  Romeo          SHA-256 ${formatFingerprint(romeo.identity.fingerprint)}`);
    t.line(`  Juliet         SHA-256 ${formatFingerprint(juliet.identity.fingerprint)}`);
    t.line(
      `  On the wire    ${wire.length} stanzas; ${dataIqs} <data/> IQs carried ${ciphertextBytes} bytes of TLS records as Base64; ` +
        `the words of the play appear ${leaks === 0 ? style.green("0 times") : style.red(`${leaks} times`)}`,
    );
    t.line(`  Time           ${ms.toFixed(0)} ms`);
    return {
      protocol: channel.protocol,
      cipher: channel.cipher,
      fingerprints: { romeo: romeo.identity.fingerprint, juliet: juliet.identity.fingerprint },
      wireStanzas: wire.length,
      dataIqs,
      ciphertextBytes,
      plaintextLeaks: leaks,
      received: { romeo: atRomeo, juliet: atJuliet },
      ms,
    };
  } finally {
    await dispose();
  }
}

function received(name: string, stanza: Element, style: Style): string {
  const thread = stanza.getChildText("thread");
  const body = (stanza.getChildText("body") ?? "").split("\n").map((l) => `  “${l}”`);
  return [
    `${style.bold(name)} ⇐ <message type='${stanza.attrs.type}'> from ${stanza.attrs.from}${thread ? ` (thread ${thread})` : ""}`,
    ...body.map((l) => style.green(l)),
  ].join("\n");
}

function nextStanza(tunnel: IqTunnel): Promise<Element> {
  return new Promise((resolve) => tunnel.once("stanza", resolve));
}

function side(name: string, link: XmppLink, close: () => Promise<void>): Side {
  const identity = createIdentity(link.jid);
  const trust = new MemoryTrustStore();
  const service = new IqTunnelService(link, { engine: new NodeTlsEngine({ identity, trustStore: trust }) });
  return { name, link, identity, trust, service, close };
}

type OnWire = (from: string | undefined, to: string | undefined, stanza: Element, raw: string) => void;

function localSides(onWire: OnWire) {
  const router = new LocalRouter();
  router.observe((e) => {
    if (e.outcome !== "dropped") onWire(e.from, e.to, e.stanza, e.wire);
  });
  const romeo = side("romeo", router.createLink("romeo@montague.lit/orchard"), async () => {});
  const juliet = side("juliet", router.createLink("juliet@capulet.lit/balcony"), async () => {});
  return {
    romeo,
    juliet,
    dispose: async () => {
      await Promise.allSettled([romeo.service.close(), juliet.service.close()]);
      router.close();
    },
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
    await c.start();
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
  const romeo = side("romeo", fromXmppClient(rc), async () => {
    await rc.stop();
  });
  const juliet = side("juliet", fromXmppClient(jc), async () => {
    await jc.stop();
  });
  return {
    romeo,
    juliet,
    dispose: async () => {
      await Promise.allSettled([romeo.service.close(), juliet.service.close()]);
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
