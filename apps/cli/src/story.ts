/**
 * `xtls demo` (the default): the whole story a user lives, on the embedded router or a
 * real server — first contact with a one-time password (srp), an encrypted chat, an
 * encrypted file transfer with a progress bar and a hash check, and a second session
 * that needs no password. Built on @xtls/client, as an application would be.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { type Chat, createXtls, type Xtls } from "@xtls/client";
import { type Element, LocalRouter, NS, type XmppLink } from "@xtls/core";
import { formatFingerprint } from "@xtls/tls";
import { shortFingerprint } from "./describe.js";
import { formatBytes, ProgressBar } from "./progress.js";
import type { Style } from "./style.js";

export const ONE_TIME_PASSWORD = "wherefore-1597";
export const STORY_LINES = {
  romeo: "M'lady, I would be pleased to make your acquaintance.",
  juliet: "Art thou not Romeo, and a Montague?",
  again: "Neither, fair saint, if either thee dislike.",
} as const;

export interface StoryResult {
  readonly mode: "story";
  readonly protocol: string;
  readonly cipher: string;
  readonly fingerprints: { readonly romeo: string; readonly juliet: string };
  readonly firstContact: { readonly method: string; readonly passwordsAsked: number };
  readonly file: {
    readonly name: string;
    readonly size: number;
    readonly sha256: string;
    readonly verified: boolean;
  };
  readonly secondSession: { readonly trust: string; readonly passwordsAsked: number };
  readonly received: { readonly romeo: readonly string[]; readonly juliet: readonly string[] };
  readonly wireStanzas: number;
  readonly plaintextLeaks: number;
  readonly ms: number;
}

export interface StoryOptions {
  readonly out: Writable & { isTTY?: boolean; columns?: number };
  readonly style: Style;
  /** Two connected links (a real server); the embedded router when absent. */
  readonly links?: { romeo: XmppLink; juliet: XmppLink; observe(listener: (stanza: Element) => void): void };
  readonly fileSize?: number;
}

export async function runStory(options: StoryOptions): Promise<StoryResult> {
  const t0 = performance.now();
  const { out, style } = options;
  const line = (s = "") => out.write(`${s}\n`);
  const heading = (s: string) => line(`\n${style.bold(s)}`);
  const wire: string[] = [];
  let router: LocalRouter | undefined;
  let romeoLink: XmppLink;
  let julietLink: XmppLink;
  if (options.links) {
    romeoLink = options.links.romeo;
    julietLink = options.links.juliet;
    options.links.observe((s) => wire.push(s.toString()));
  } else {
    router = new LocalRouter();
    router.observe((e) => wire.push(e.wire));
    romeoLink = router.createLink("romeo@montague.lit/orchard");
    julietLink = router.createLink("juliet@capulet.lit/balcony");
  }
  const dir = await mkdtemp(join(tmpdir(), "xtls-demo-"));
  const asked = { romeo: 0, juliet: 0 };
  const ask = (who: "romeo" | "juliet") => async () => {
    asked[who]++;
    return ONE_TIME_PASSWORD;
  };
  let romeo: Xtls | undefined;
  let juliet: Xtls | undefined;
  try {
    romeo = await createXtls(romeoLink, { dir: join(dir, "romeo"), askPassword: ask("romeo") });
    juliet = await createXtls(julietLink, { dir: join(dir, "juliet"), askPassword: ask("juliet") });
    line(style.bold("XTLS demo — end-to-end encryption for XMPP with TLS 1.3 run through XMPP"));
    line(
      options.links
        ? "Network: a real XMPP server."
        : "Network: the embedded in-process router — no server needed (try --server xmpp://127.0.0.1:15222).",
    );
    heading("1. Two strangers");
    line(`  ${romeo.link.jid.padEnd(30)} SHA-256 ${formatFingerprint(romeo.fingerprint)}`);
    line(`  ${juliet.link.jid.padEnd(30)} SHA-256 ${formatFingerprint(juliet.fingerprint)}`);
    line(
      style.dim(
        `  Neither has seen the other's certificate. They agreed a one-time password in person: "${ONE_TIME_PASSWORD}".`,
      ),
    );

    heading("2. First contact: a Jingle session with the XTLS precondition, srp inside TLS 1.3");
    line(
      style.dim(
        "  (transports: SOCKS5 — a direct connection, or the server's proxy — then in-band bytestreams)",
      ),
    );
    const julietChats: Chat[] = [];
    const atJuliet: string[] = [];
    const atRomeo: string[] = [];
    juliet.on("chat", (incoming) => {
      line(`  juliet: ${incoming.peer} wants to chat — accept`);
      void incoming.accept().then((c) => {
        julietChats.push(c);
        c.on("message", (m) => atJuliet.push(m.body));
      });
    });
    const mark = wire.length;
    const chat = await romeo.openChat(juliet.link.jid);
    const who = chat.peerIdentity!;
    line(
      `  both typed the one-time password (asked ${asked.romeo + asked.juliet}×: once each, never logged)`,
    );
    line(
      `  romeo: ${chat.tls?.protocol} ${chat.tls?.cipher}; Juliet's certificate ${shortFingerprint(who.fingerprint)} ${style.green(`verified by ${who.trust.source}, now pinned`)}`,
    );
    line(style.dim(`  on the wire: ${summarize(wire.slice(mark), chat.session)}`));

    heading("3. An encrypted chat (an XML stream inside the tunnel)");
    chat.on("message", (m) => atRomeo.push(m.body));
    await chat.send(STORY_LINES.romeo);
    await until(() => atJuliet.length === 1);
    line(`  juliet ⇐ “${atJuliet[0]}”`);
    await until(() => julietChats.length === 1);
    await julietChats[0]!.send(STORY_LINES.juliet);
    await until(() => atRomeo.length === 1);
    line(`  romeo  ⇐ “${atRomeo[0]}”`);
    await chat.close();

    heading("4. An encrypted file, verified before it gets its name");
    const size = options.fileSize ?? 1024 * 1024;
    const sourcePath = join(dir, "balcony-scene.txt");
    const content = sonnets(size);
    await writeFile(sourcePath, content);
    const sha256 = createHash("sha256").update(content).digest("hex");
    const inbox = join(dir, "juliet-inbox");
    await mkdir(inbox);
    let receivedPath: string | undefined;
    let receiveError: Error | undefined;
    juliet.on("file", (offer) => {
      line(
        `  juliet: ${offer.peer} offers ${offer.name} (${formatBytes(offer.size)}, ${offer.mediaType}) — accept`,
      );
      offer
        .accept({ dir: inbox })
        .then(async (transfer) => {
          receivedPath = (await transfer.done).path;
        })
        .catch((error: Error) => {
          receiveError = error;
        });
    });
    const fileMark = wire.length;
    const transfer = await romeo.sendFile(juliet.link.jid, sourcePath);
    const bar = new ProgressBar(out, style, "  romeo → juliet", size);
    transfer.on("progress", ({ bytes, rate }) => bar.update(bytes, rate));
    const sent = await transfer.done;
    bar.finish();
    await until(() => receivedPath !== undefined || receiveError !== undefined);
    if (receiveError) throw receiveError;
    const got = await readFile(receivedPath!);
    const verified = createHash("sha256").update(got).digest("hex") === sha256;
    line(
      `  juliet: stored ${receivedPath!.slice(dir.length + 1)} — SHA-256 ${sha256} ${verified ? style.green("matches") : style.red("DIFFERS")}`,
    );
    line(style.dim(`  on the wire: ${summarize(wire.slice(fileMark), transfer.session!)}`));

    heading("5. The next session: certificates only, no password");
    const before = asked.romeo + asked.juliet;
    const again = await romeo.openChat(juliet.link.jid);
    await again.send(STORY_LINES.again);
    await until(() => atJuliet.length === 2);
    line(`  juliet ⇐ “${atJuliet[1]}”`);
    const trust = again.peerIdentity?.trust.source ?? "?";
    line(
      `  romeo: Juliet's certificate ${style.green(`trusted from the ${trust}`)}; passwords asked this time: ${asked.romeo + asked.juliet - before}`,
    );
    await again.close();

    const secrets = [
      STORY_LINES.romeo,
      STORY_LINES.juliet,
      STORY_LINES.again,
      "Shall I compare",
      ONE_TIME_PASSWORD,
    ];
    const leaks = wire.filter((w) => secrets.some((s) => w.includes(s))).length;
    const ms = performance.now() - t0;
    heading("Summary");
    line(`  TLS            ${chat.tls?.protocol}, ${chat.tls?.cipher}, mutual certificate authentication`);
    line(
      `  first contact  srp (one-time password, bound to both JIDs, both certificates and the TLS session)`,
    );
    line(`  file           ${sent.name}, ${formatBytes(sent.size)}, SHA-256 verified by the receiver`);
    line(
      `  on the wire    ${wire.length} stanzas; the words of the play, the file and the password appear ${leaks === 0 ? style.green("0 times") : style.red(`${leaks} times`)}`,
    );
    line(`  time           ${ms.toFixed(0)} ms`);
    return {
      mode: "story",
      protocol: chat.tls?.protocol ?? "",
      cipher: chat.tls?.cipher ?? "",
      fingerprints: { romeo: romeo.fingerprint, juliet: juliet.fingerprint },
      firstContact: { method: who.trust.source, passwordsAsked: before },
      file: { name: sent.name, size: sent.size, sha256, verified },
      secondSession: { trust, passwordsAsked: asked.romeo + asked.juliet - before },
      received: { romeo: atRomeo, juliet: atJuliet },
      wireStanzas: wire.length,
      plaintextLeaks: leaks,
      ms,
    };
  } finally {
    await Promise.allSettled([romeo?.close(), juliet?.close()]);
    router?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function summarize(raw: readonly string[], session: { transportNamespace: string }): string {
  const count = (re: RegExp) => raw.filter((w) => re.test(w)).length;
  const jingle = count(new RegExp(`xmlns=["']${NS.JINGLE}["']`));
  const data = count(/<data [^>]*xmlns=["']http:\/\/jabber\.org\/protocol\/ibb/);
  const carrier =
    session.transportNamespace === NS.JINGLE_S5B
      ? "the TLS records went over a SOCKS5 connection, not through XMPP"
      : `${data} IBB <data/> IQs carried the TLS records as Base64`;
  return `${raw.length} stanzas (${jingle} Jingle, the rest acks and transport negotiation); ${carrier}`;
}

async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("the demo stalled");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Text to send: the balcony scene's most famous line, repeated, with a random tail. */
function sonnets(size: number): Buffer {
  const text = "Shall I compare thee to a summer's day? Thou art more lovely and more temperate.\n";
  const body = Buffer.from(text.repeat(Math.ceil(size / text.length))).subarray(0, Math.max(0, size - 16));
  return Buffer.concat([body, randomBytes(Math.min(16, size))]);
}
