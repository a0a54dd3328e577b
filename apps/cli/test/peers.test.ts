// Issue #14 items 1 and 5: `xtls chat` and `xtls send` reach a peer that supports only
// in-band bytestreams, `--transport`, and both sides starting a chat toward each other at
// once. Spawned binaries against the project's Prosody; the peer that only does IBB is a
// facade in this process, so what it received can be checked stanza by stanza.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Chat, createXtls, type Xtls } from "@xtls/client";
import { type Element, fromXmppClient, NS, xml } from "@xtls/core";
import { type IqTunnel, IqTunnelService } from "@xtls/iq-tunnel";
import { connectXmppClient, deadlines, prosody } from "@xtls/test-servers";
import { FileTrustStore, loadOrCreateIdentity, NodeTlsEngine } from "@xtls/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountArgs, buildCli, verifiedPair as pair, type Run, startCli, waitFor } from "./spawn.js";

let dir: string;

beforeAll(async () => {
  buildCli();
  dir = await mkdtemp(join(tmpdir(), "xtls-cli-peers-"));
}, deadlines.buildMs);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const start = (args: string[], env: Record<string, string> = {}, stdin?: string): Run =>
  startCli(prosody, args, env, stdin);
const account = (who: "romeo" | "juliet", tag: string) => accountArgs(dir, who, tag);

/** Juliet of `tag` as a facade in this process (her CLI identity and trust store), recording every stanza she receives. */
async function julietFacade(tag: string, options: { socks5?: false } = {}) {
  const xmpp = await connectXmppClient({
    username: "juliet",
    domain: "capulet.lit",
    resource: `balcony-${tag}`,
  });
  const received: Element[] = [];
  xmpp.on("stanza", (el: Element) => received.push(el));
  const xtls: Xtls = await createXtls(xmpp, { dir: join(dir, `${tag}-juliet`), ...options });
  return {
    xtls,
    jid: `juliet@capulet.lit/balcony-${tag}`,
    /** The Jingle session-initiates she received, and every transport namespace named in any stanza. */
    initiates: () =>
      received
        .map((el) => el.getChild("jingle", NS.JINGLE))
        .filter((j): j is Element => j?.attrs.action === "session-initiate"),
    mentions: (ns: string) => received.some((el) => el.toString().includes(ns)),
    close: async () => {
      await xtls.close();
      await xmpp.stop();
    },
  };
}

const transportsOf = (initiate: Element) =>
  initiate
    .getChildren("content")
    .map((c) => c.getChildElements().find((e) => e.name === "transport")?.attrs.xmlns);

describe("a peer that supports only in-band bytestreams (the draft's mandatory transport)", () => {
  it(
    "xtls chat JID reaches it: only IBB is offered (its disco#info lacks SOCKS5), lines arrive, the chat says IBB",
    async () => {
      await pair(prosody, dir, "ibb1");
      const juliet = await julietFacade("ibb1", { socks5: false });
      const got = new Promise<string>((resolve) =>
        juliet.xtls.on("chat", async (incoming) => {
          const chat = await incoming.accept();
          chat.on("message", (m) => resolve(m.body));
        }),
      );
      try {
        const romeo = start(["chat", juliet.jid, ...account("romeo", "ibb1")]);
        await waitFor(romeo, "encrypted chat with");
        romeo.child.stdin.write("Did my heart love till now?\n");
        expect(await got).toBe("Did my heart love till now?");
        romeo.child.stdin.end("/quit\n");
        expect(await romeo.done, romeo.seen()).toBe(0);
        expect(romeo.stderr()).toMatch(
          /encrypted chat with juliet@capulet\.lit\/balcony-ibb1 — TLSv1\.3 \S+ over in-band bytestreams \(IBB\)/,
        );
        expect(juliet.initiates().map(transportsOf)).toEqual([[NS.JINGLE_IBB]]);
      } finally {
        await juliet.close();
      }
    },
    deadlines.commandsTestMs,
  );

  it(
    "xtls send reaches it: the file is stored, the summary names IBB",
    async () => {
      await pair(prosody, dir, "ibb2");
      const juliet = await julietFacade("ibb2", { socks5: false });
      const inbox = join(dir, "inbox-ibb2");
      await mkdir(inbox);
      const stored = new Promise<void>((resolve, reject) =>
        juliet.xtls.on("file", async (offer) => {
          const transfer = await offer.accept({ dir: inbox });
          transfer.done.then(() => resolve(), reject);
        }),
      );
      const file = join(dir, "ibb2.txt");
      await writeFile(file, "With love's light wings did I o'erperch these walls\n");
      try {
        const romeo = start(
          ["send", file, "--to", juliet.jid, ...account("romeo", "ibb2"), "--json"],
          {},
          "",
        );
        expect(await romeo.done, romeo.seen()).toBe(0);
        await stored;
        expect(JSON.parse(romeo.stdout())).toMatchObject({ file: "ibb2.txt", transport: NS.JINGLE_IBB });
        expect(await readFile(join(inbox, "ibb2.txt"), "utf8")).toContain("o'erperch");
        expect(juliet.initiates().map(transportsOf)).toEqual([[NS.JINGLE_IBB]]);
      } finally {
        await juliet.close();
      }
    },
    deadlines.commandsTestMs,
  );
});

describe("--transport", () => {
  it(
    "--transport ibb offers only IBB to a peer that also does SOCKS5: no SOCKS5 stanza reaches it",
    async () => {
      await pair(prosody, dir, "ibb3");
      const juliet = await julietFacade("ibb3"); // SOCKS5 on: auto would choose it
      const got = new Promise<string>((resolve) =>
        juliet.xtls.on("chat", async (incoming) => {
          const chat: Chat = await incoming.accept();
          chat.on("message", (m) => resolve(m.body));
        }),
      );
      try {
        const romeo = start(["chat", juliet.jid, ...account("romeo", "ibb3"), "--transport", "ibb"]);
        await waitFor(romeo, "encrypted chat with");
        romeo.child.stdin.write("O, speak again, bright angel!\n");
        expect(await got).toBe("O, speak again, bright angel!");
        romeo.child.stdin.end("/quit\n");
        expect(await romeo.done, romeo.seen()).toBe(0);
        expect(romeo.stderr()).toMatch(/over in-band bytestreams \(IBB\)/);
        expect(juliet.initiates().map(transportsOf)).toEqual([[NS.JINGLE_IBB]]);
        expect(juliet.mentions(NS.JINGLE_S5B)).toBe(false);
        expect(juliet.mentions(NS.S5B)).toBe(false);
      } finally {
        await juliet.close();
      }
    },
    deadlines.commandsTestMs,
  );

  it("a bad --transport or XTLS_TRANSPORT is a usage error (exit 2) before any login", async () => {
    for (const [args, env] of [
      [["chat", "juliet@capulet.lit/x", "--transport", "carrier-pigeon"], {}],
      [["send", "/etc/hostname", "--to", "juliet@capulet.lit/x", "--transport", "jet"], {}],
      [["chat", "juliet@capulet.lit/x"], { XTLS_TRANSPORT: "smoke-signals" }],
    ] as const) {
      const r = start([...args, ...account("romeo", "bad")], env);
      expect(await r.done, r.seen()).toBe(2);
      expect(r.stderr()).toMatch(/--transport must be one of auto, ibb, s5b, got "/);
      expect(r.stderr()).not.toMatch(/cannot log in/);
    }
  });
});

/**
 * A TCP relay in front of Prosody for two clients that holds each one's first Jingle
 * session-initiate until both have sent theirs, then lets both go: two users who start a
 * chat toward each other at the same moment, made exact (the test servers run without TLS).
 */
async function simultaneousInitiates(): Promise<{ service: string; held: () => number; close: () => void }> {
  const target = new URL(prosody.service);
  const holding: { upstream: Socket; buffered: Buffer[] }[] = [];
  let released = false;
  const sockets: Socket[] = [];
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    sockets.push(client, upstream);
    upstream.pipe(client);
    let held: { upstream: Socket; buffered: Buffer[] } | undefined;
    client.on("data", (chunk: Buffer) => {
      if (held && !released) {
        held.buffered.push(chunk);
        return;
      }
      if (!held && !released && /action=["']session-initiate["']/.test(chunk.toString("latin1"))) {
        held = { upstream, buffered: [chunk] };
        holding.push(held);
        if (holding.length < 2) return;
        released = true;
        for (const h of holding) for (const b of h.buffered.splice(0)) h.upstream.write(b);
        return;
      }
      upstream.write(chunk);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return {
    service: `xmpp://127.0.0.1:${address.port}`,
    held: () => holding.length,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("both sides start a chat toward each other at once (XEP-0166 tie-break)", () => {
  it(
    "xtls chat JID on both sides: the loser continues with the winning session, one chat, lines both ways",
    async () => {
      await pair(prosody, dir, "tie");
      const relay = await simultaneousInitiates();
      const env = { XTLS_SERVER: relay.service };
      const romeo = start(
        [
          "chat",
          "juliet@capulet.lit/balcony-tie",
          ...account("romeo", "tie"),
          "--resource",
          "orchard-tie",
          "--json",
        ],
        env,
      );
      const juliet = start(
        ["chat", "romeo@montague.lit/orchard-tie", ...account("juliet", "tie"), "--json"],
        env,
      );
      try {
        await waitFor(romeo, "encrypted chat with juliet@capulet.lit/balcony-tie");
        await waitFor(juliet, "encrypted chat with romeo@montague.lit/orchard-tie");
        expect(relay.held()).toBe(2); // both session-initiates were on the wire at once
        romeo.child.stdin.write("Wilt thou leave me so unsatisfied?\n");
        juliet.child.stdin.write("What satisfaction canst thou have to-night?\n");
        await waitFor(juliet, '"body":"Wilt thou leave me so unsatisfied?"');
        await waitFor(romeo, '"body":"What satisfaction canst thou have to-night?"');
        romeo.child.stdin.end("/quit\n");
        expect(await romeo.done, romeo.seen()).toBe(0);
        juliet.child.stdin.end();
        expect(await juliet.done, juliet.seen()).toBe(0);
        for (const run of [romeo, juliet]) {
          expect(run.stderr()).not.toMatch(/alternative-session|tie-break/);
          expect(run.stderr().match(/encrypted chat with/g)).toHaveLength(1);
        }
      } finally {
        for (const run of [romeo, juliet]) if (run.child.exitCode === null) run.child.kill();
        relay.close();
      }
    },
    deadlines.commandsTestMs,
  );
});

/** Someone whose client speaks only the XTLS ProtoXEP (Mode Q, no Jingle): the CLI identity of `who` of `tag`. */
async function protoXepOnly(who: "romeo" | "juliet", tag: string, resource: string) {
  const [username, domain] = who === "romeo" ? ["romeo", "montague.lit"] : ["juliet", "capulet.lit"];
  const xmpp = await connectXmppClient({ username, domain, resource });
  const link = fromXmppClient(xmpp);
  const identity = await loadOrCreateIdentity(
    join(dir, `${tag}-${who}`, "identity"),
    `${username}@${domain}`,
  );
  const trustStore = new FileTrustStore(join(dir, `${tag}-${who}`, "trust.json"));
  const service = new IqTunnelService(link, { engine: new NodeTlsEngine({ identity, trustStore }) });
  return {
    service,
    jid: link.jid,
    close: async () => {
      await service.close();
      await xmpp.stop();
    },
  };
}

const said = (tunnel: IqTunnel) =>
  new Promise<string>((resolve) =>
    tunnel.on("stanza", (s) => {
      const body = s.getChildText("body");
      if (body !== null) resolve(body);
    }),
  );

describe("xtls chat --mode q: peers that speak only the ProtoXEP (urn:xmpp:tmp:xtls)", () => {
  it(
    "xtls chat --mode q JID and xtls chat --mode q (waiting) talk with a ProtoXEP-only client both ways and close cleanly",
    async () => {
      await pair(prosody, dir, "q");
      // 1. The CLI starts the tunnel.
      const juliet = await protoXepOnly("juliet", "q", "balcony-q");
      try {
        const tunnelAtJuliet = new Promise<IqTunnel>((resolve) => juliet.service.once("tunnel", resolve));
        const romeo = start(["chat", "--mode", "q", juliet.jid, ...account("romeo", "q"), "--json"]);
        await waitFor(romeo, "encrypted chat with juliet@capulet.lit/balcony-q");
        expect(romeo.stderr()).toMatch(/over the XTLS ProtoXEP's IQ tunnel \(Mode Q\)/);
        const tunnel = await tunnelAtJuliet;
        const heard = said(tunnel);
        romeo.child.stdin.write("Shall I hear more, or shall I speak at this?\n");
        expect(await heard).toBe("Shall I hear more, or shall I speak at this?");
        await tunnel.send(
          xml("message", { type: "chat" }, xml("body", {}, "Thou knowest the mask of night")),
        );
        await waitFor(romeo, '"body":"Thou knowest the mask of night"');
        romeo.child.stdin.end("/quit\n");
        expect(await romeo.done, romeo.seen()).toBe(0);
        expect(await tunnel.closed.then(() => "clean")).toBe("clean");
      } finally {
        await juliet.close();
      }
      // 2. The CLI waits; a ProtoXEP-only client starts.
      const waiting = start(["chat", "--mode", "q", ...account("juliet", "q"), "--yes", "--json"]);
      await waitFor(waiting, "waiting for a chat (Mode Q) as juliet@capulet.lit/balcony-q");
      const romeo = await protoXepOnly("romeo", "q", "orchard-q");
      try {
        const tunnel = await romeo.service.open("juliet@capulet.lit/balcony-q", { discover: true });
        await tunnel.send(xml("message", { type: "chat" }, xml("body", {}, "I take thee at thy word")));
        await waitFor(waiting, '"body":"I take thee at thy word"');
        waiting.child.stdin.write("What man art thou?\n");
        expect(await said(tunnel)).toBe("What man art thou?");
        await tunnel.close();
        expect(await waiting.done, waiting.seen()).toBe(0);
      } finally {
        if (waiting.child.exitCode === null) waiting.child.kill();
        await romeo.close();
      }
    },
    deadlines.commandsTestMs,
  );
});
