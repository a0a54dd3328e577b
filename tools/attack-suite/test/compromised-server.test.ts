// The attacks of SECURITY.md (attacker models 1 and 2) through a real Prosody that is
// compromised (prosody/mod_xtls_divert.lua), against the `xtls` command as the victims run it:
// spawned processes, their exit codes, their stderr and the files they leave.
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createXtls, type Xtls, type XtlsOptions } from "@xtls/client";
import { type Element, xml } from "@xtls/core";
import { deadlines, startProsody, stopProsody } from "@xtls/test-servers";
import { createIdentity } from "@xtls/tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Attacker, JULIET, jingleOf, MALLORY, RewritingLink, ROMEO } from "../src/attacker.js";
import { buildCli, type CliRun, xtls } from "../src/cli.js";

/** One wait for one observable step (a process logging in, a handshake, an answer). Every timeout derives from it. */
const STEP_MS = deadlines.outputMs;
/** The one-time password Romeo and Juliet agreed in person; the attacker never learns it. */
const PASSWORD = "wherefore-1597";
const GUESS = "montague-1595";
/** @xtls/tls AttemptLimiter's default: failures allowed before the back-off starts. */
const FREE_ATTEMPTS = 3;

const NS_JINGLE = "urn:xmpp:jingle:1";
const NS_XMLSTREAM = "urn:xmpp:jingle:apps:xmlstream:0";
const NS_JINGLE_IBB = "urn:xmpp:jingle:transports:ibb:1";
const NS_JINGLE_S5B = "urn:xmpp:jingle:transports:s5b:1";

let dir: string;
let attacker: Attacker;
const runs: CliRun[] = [];
const stacks: Xtls[] = [];

beforeAll(async () => {
  buildCli();
  dir = join(tmpdir(), `xtls-attack-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  attacker = await Attacker.connect();
}, 6 * STEP_MS);

afterEach(async () => {
  await Promise.all(runs.splice(0).map((r) => r.kill()));
  await Promise.all(stacks.splice(0).map((x) => x.close().catch(() => {})));
  await attacker.reset().catch(() => {});
});

afterAll(async () => {
  await attacker?.close();
  await rm(dir, { recursive: true, force: true });
});

const R = (tag: string) => `${ROMEO}/orchard-${tag}`;
const J = (tag: string) => `${JULIET}/balcony-${tag}`;
const romeoAccount = (tag: string) => [
  "--jid",
  ROMEO,
  "--resource",
  `orchard-${tag}`,
  "--dir",
  join(dir, `romeo-${tag}`),
];
const julietAccount = (tag: string) => [
  "--jid",
  JULIET,
  "--resource",
  `balcony-${tag}`,
  "--dir",
  join(dir, `juliet-${tag}`),
];

function run(args: string[], env: Record<string, string> = {}, stdin?: string): CliRun {
  const r = xtls(args, env, stdin);
  runs.push(r);
  return r;
}

/** `xtls receive --yes` as Juliet, once it waits for files. stdin is closed: a prompt reads end of input. */
async function julietReceives(
  tag: string,
  env: Record<string, string>,
  extra: string[] = [],
): Promise<CliRun> {
  const juliet = run(
    [
      "receive",
      ...julietAccount(tag),
      "--into",
      join(dir, `inbox-${tag}`),
      "--yes",
      "--from",
      ROMEO,
      ...extra,
    ],
    env,
    "",
  );
  await juliet.waitFor("waiting for files as", STEP_MS);
  return juliet;
}

/** The attacker's own XTLS stack as `link` (a ghost of a victim, or its own account): the project's packages. */
async function attackerStack(
  link: Parameters<typeof createXtls>[0],
  options: XtlsOptions = {},
): Promise<Xtls> {
  const x = await createXtls(link, {
    askPassword: async () => GUESS,
    socks5: { proxies: false },
    ...options,
  });
  stacks.push(x);
  return x;
}

async function pinned(account: string[]): Promise<Record<string, { fingerprint: string }[]>> {
  const list = run(["trust", "list", ...account, "--json"]);
  expect(await list.done, list.stderr()).toBe(0);
  return JSON.parse(list.stdout());
}

const listIn = async (path: string) => (await readdir(path).catch(() => [] as string[])).sort();
const lineWith = (text: string, ...words: string[]) =>
  text.split("\n").find((line) => words.every((w) => line.includes(w)));
/** Hex digits only, lowercase: fingerprints match however they are printed (AB:CD:… or abcd…). */
const hexOnly = (text: string) => text.toLowerCase().replace(/[^0-9a-f]/g, "");
/** The first-contact methods a Jingle stanza's security elements name. */
const methodsOf = (stanza: Element | undefined) =>
  (jingleOf(stanza ?? xml("none"))?.getChildren("content") ?? []).flatMap((c) =>
    c
      .getChildElements()
      .filter((e) => e.name === "security")
      .flatMap((sec) => sec.getChildren("method").map((m) => m.attrs.name)),
  );
const from = (stanza: Element, jid: string) => (stanza.attrs.from ?? "").split("/")[0] === jid;

describe("the compromised server diverts Romeo's and Juliet's stanzas to the attacker", () => {
  it.each([
    ["observe", "h1"],
    ["divert", "h2"],
  ] as const)(
    "the harness: in %s mode the attacker sees every stanza of a transfer that still succeeds (relayed unchanged; a receiver with --count 0 keeps going)",
    async (mode, tag) => {
      const file = join(dir, `letter-${tag}.txt`);
      await writeFile(file, "But soft, what light through yonder window breaks\n");
      await attacker.setMode(mode);
      const juliet = await julietReceives(tag, { XTLS_OTP: PASSWORD }, ["--count", "0", "--json"]);
      const romeo = run(["send", file, "--to", J(tag), ...romeoAccount(tag)], { XTLS_OTP: PASSWORD }, "");
      expect(await romeo.done, romeo.stderr()).toBe(0);
      await juliet.waitFor('"from":"romeo@montague.lit/', STEP_MS);
      expect(await listIn(join(dir, `inbox-${tag}`))).toEqual([`letter-${tag}.txt`]);
      expect(juliet.child.exitCode).toBeNull();
      const offer = attacker.diverted.find((s) => jingleOf(s)?.attrs.action === "session-initiate");
      expect(offer?.attrs).toMatchObject({ from: R(tag), to: J(tag) });
      expect(methodsOf(offer)).toContain("srp");
      expect(
        attacker.diverted.some((s) => from(s, JULIET) && jingleOf(s)?.attrs.action === "session-accept"),
      ).toBe(true);
    },
    4 * STEP_MS,
  );

  it(
    "a relaying man in the middle running its own TLS to each side during srp first contact: both CLIs exit 3, nothing stored, nothing pinned",
    async () => {
      const file = join(dir, "letter-a.txt");
      await writeFile(file, "My bounty is as boundless as the sea\n");
      await attacker.setMode("divert");
      const juliet = await julietReceives("a", { XTLS_OTP: PASSWORD });
      // Mallory is Juliet towards Romeo and Romeo towards Juliet, with certificates she made
      // for their JIDs, guessing the password on both sides.
      const stolen = join(dir, "stolen-a");
      await mkdir(stolen);
      const asJuliet = await attackerStack(attacker.ghost(J("a")));
      asJuliet.on(
        "file",
        (offer) =>
          void offer
            .accept({ dir: stolen })
            .then(
              (t) => t.done,
              () => {},
            )
            .catch(() => {}),
      );
      const asRomeo = await attackerStack(attacker.ghost(R("a")));
      const romeo = run(["send", file, "--to", J("a"), ...romeoAccount("a")], { XTLS_OTP: PASSWORD }, "");
      const towardsJuliet = asRomeo.sendFile(J("a"), file).then((t) => t.done);
      towardsJuliet.catch(() => {});

      expect(await romeo.done, romeo.stderr()).toBe(3);
      expect(await juliet.done, juliet.stderr()).toBe(3);
      await expect(towardsJuliet).rejects.toThrow();
      // Each victim's SRP ran against the attacker's TLS session, and failed: she lacks the password.
      for (const victim of [romeo, juliet])
        expect(victim.stderr()).toMatch(/password authentication with \S+ failed.*man-in-the-middle/);
      // The attacker did see the sessions (the harness diverted them), and got nothing out of them.
      expect(attacker.diverted.some((s) => jingleOf(s)?.attrs.action === "session-initiate")).toBe(true);
      expect(await listIn(join(dir, "inbox-a"))).toEqual([]);
      expect(await listIn(stolen)).toEqual([]);
      expect(await pinned(romeoAccount("a"))).toEqual({});
      expect(await pinned(julietAccount("a"))).toEqual({});
    },
    6 * STEP_MS,
  );

  it(
    "a cleartext session (no <security/>) posing as Romeo: Juliet never accepts, answers security-error, says so and keeps waiting",
    async () => {
      await attacker.setMode("divert");
      // With the one-time password in hand, Romeo is someone she would accept: the only thing
      // wrong with this offer is that it has no security layer.
      const juliet = run(["chat", ...julietAccount("b"), "--yes", "--from", ROMEO], { XTLS_OTP: PASSWORD });
      await juliet.waitFor("waiting for a chat as", STEP_MS);
      await attacker.inject(
        xml(
          "iq",
          { type: "set", id: "cleartext-1", from: R("b"), to: J("b") },
          xml(
            "jingle",
            { xmlns: NS_JINGLE, action: "session-initiate", initiator: R("b"), sid: "cleartext-b" },
            xml(
              "content",
              { creator: "initiator", name: "xmlstream", senders: "both" },
              xml("description", { xmlns: NS_XMLSTREAM }),
              xml("transport", { xmlns: NS_JINGLE_IBB, sid: "ibb-cleartext-b", "block-size": "4096" }),
            ),
          ),
        ),
      );
      const answer = await attacker.waitForDiverted(
        (s) =>
          from(s, JULIET) &&
          ["session-accept", "session-terminate"].includes(jingleOf(s)?.attrs.action ?? ""),
        STEP_MS,
        "Juliet's answer to the session-initiate without <security/>",
      );
      expect(jingleOf(answer)?.attrs.action).toBe("session-terminate");
      expect(jingleOf(answer)?.getChild("reason")?.getChild("security-error")).toBeDefined();
      await juliet.waitFor(new RegExp(`refused.*${ROMEO}|${ROMEO}.*refused`), STEP_MS);
      expect(lineWith(juliet.stderr(), "refused", ROMEO)).toBeDefined();
      expect(attacker.diverted.filter((s) => jingleOf(s)?.attrs.action === "session-accept")).toEqual([]);
      expect(juliet.child.exitCode).toBeNull(); // still waiting for a chat
    },
    4 * STEP_MS,
  );

  it(
    "a key change: Juliet pinned Romeo by srp; a new session with the attacker's certificate for Romeo's JID → exit 3, both fingerprints, `xtls trust forget`, no password prompt",
    async () => {
      const file = join(dir, "letter-d.txt");
      await writeFile(file, "Parting is such sweet sorrow\n");
      // First contact through the honest server: both pin each other.
      const juliet1 = await julietReceives("d", { XTLS_OTP: PASSWORD });
      const romeo = run(["send", file, "--to", J("d"), ...romeoAccount("d")], { XTLS_OTP: PASSWORD }, "");
      expect(await romeo.done, romeo.stderr()).toBe(0);
      expect(await juliet1.done, juliet1.stderr()).toBe(0);
      const romeosKey = (await pinned(julietAccount("d")))[ROMEO]?.[0]?.fingerprint;
      expect(romeosKey).toMatch(/^[0-9a-f]{64}$/);

      // Now the server intercepts: a session "from Romeo" with Mallory's certificate for his JID.
      await attacker.setMode("divert");
      const juliet2 = await julietReceives("d", {});
      const asRomeo = await attackerStack(attacker.ghost(R("d")));
      asRomeo
        .sendFile(J("d"), file)
        .then((t) => t.done)
        .catch(() => {});
      expect(await juliet2.done, juliet2.stderr()).toBe(3);
      const err = juliet2.stderr();
      expect(hexOnly(err), err).toContain(romeosKey);
      expect(hexOnly(err), err).toContain(asRomeo.fingerprint);
      expect(err).toContain("xtls trust forget");
      expect(err).not.toMatch(/One-time password|First contact/);
      expect((await pinned(julietAccount("d")))[ROMEO]?.map((p) => p.fingerprint)).toEqual([romeosKey]);
    },
    6 * STEP_MS,
  );

  it(
    "guess limits across processes: after the free attempts with a wrong password, a fresh `xtls receive` refuses without srp and says it is locked out until when",
    async () => {
      const file = join(dir, "letter-e.txt");
      await writeFile(file, "A rose by any other name\n");
      await attacker.setMode("divert");
      const identity = createIdentity(ROMEO); // one attacker key for every guess
      const errs: string[] = [];
      for (let round = 1; round <= FREE_ATTEMPTS + 1; round++) {
        const juliet = await julietReceives("e", { XTLS_OTP: PASSWORD });
        const ghost = attacker.ghost(R("e"));
        const asRomeo = await attackerStack(ghost, { identity });
        asRomeo
          .sendFile(J("e"), file)
          .then((t) => t.done)
          .catch(() => {});
        expect(await juliet.done, juliet.stderr()).toBe(3);
        errs.push(juliet.stderr());
        await asRomeo.close();
        ghost.dispose();
      }
      const last = errs.at(-1)!;
      expect(last).toMatch(/locked out/i);
      expect(last).toMatch(/until/i);
      expect(await listIn(join(dir, "inbox-e"))).toEqual([]);
    },
    (FREE_ATTEMPTS + 3) * 2 * STEP_MS,
  );

  it(
    "a downgrade: both have the one-time password, the server strips srp from the offer → exit 3 saying srp was expected, no short code asked",
    async () => {
      const file = join(dir, "letter-f.txt");
      await writeFile(file, "O happy dagger\n");
      await attacker.setMode("divert");
      attacker.rewrite((stanza) => {
        for (const content of jingleOf(stanza)?.getChildren("content") ?? []) {
          for (const security of content.getChildElements().filter((c) => c.name === "security")) {
            for (const method of security.getChildren("method").filter((m) => m.attrs.name === "srp"))
              security.remove(method);
          }
        }
        return stanza;
      });
      const juliet = await julietReceives("f", { XTLS_OTP: PASSWORD });
      const romeo = run(["send", file, "--to", J("f"), ...romeoAccount("f")], { XTLS_OTP: PASSWORD }, "");
      expect(await juliet.done, juliet.stderr()).toBe(3);
      expect(await romeo.done, romeo.stderr()).not.toBe(0);
      // The rewrite did happen: the offer Romeo sent had srp, the one relayed to Juliet had not.
      const offer = attacker.diverted.find((s) => jingleOf(s)?.attrs.action === "session-initiate");
      expect(methodsOf(offer)).toContain("srp");
      expect(juliet.stderr()).toMatch(/downgrad|srp[^\n]*expected|expected[^\n]*srp/i);
      expect(juliet.stderr() + romeo.stderr()).not.toContain("Compare this code");
      expect(await listIn(join(dir, "inbox-f"))).toEqual([]);
    },
    4 * STEP_MS,
  );
});

describe("a stranger (any other account) offers Juliet a file", () => {
  let listener: Server;
  let connections = 0;
  let port = 0;
  beforeAll(async () => {
    listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  it(
    "declined without side effects: no connection to its SOCKS5 candidate, no file, no candidate of Juliet's, one line on stderr; the receiver goes on and takes Romeo's file",
    async () => {
      const juliet = await julietReceives("c", { XTLS_OTP: PASSWORD }, ["--count", "0", "--json"]);
      // Mallory's own account (not diverted, not posing): her offer's only SOCKS5 candidate is
      // a TCP listener this test owns.
      const stranger = await Attacker.connect("stranger");
      try {
        const fromJuliet: Element[] = [];
        stranger.client.on("stanza", (s: Element) => {
          if (from(s, JULIET)) fromJuliet.push(s);
        });
        const toListener = new RewritingLink(stranger.link, (stanza) => {
          for (const t of jingleOf(stanza)?.getChild("content")?.getChildren("transport", NS_JINGLE_S5B) ??
            []) {
            for (const c of t.getChildren("candidate")) {
              if (c.attrs.type !== "direct") t.remove(c);
              else Object.assign(c.attrs, { host: "127.0.0.1", port: String(port) });
            }
          }
          return stanza;
        });
        const mallory = await attackerStack(toListener);
        const gift = Buffer.from("Thy drugs are quick\n");
        const offered = mallory
          .sendFile(J("c"), Readable.from([gift]), { name: "gift.txt", size: gift.length })
          .then((t) => t.done);
        offered.catch(() => {});
        await Promise.race([
          juliet.waitFor(new RegExp(`declined.*${MALLORY}|${MALLORY}.*declined`), STEP_MS),
          offered.then(
            () => {},
            () => {},
          ),
        ]).catch(() => {});
        await expect(offered).rejects.toThrow();
        expect(connections, "TCP connections Juliet opened to the stranger's candidate").toBe(0);
        expect(await listIn(join(dir, "inbox-c")), "files in Juliet's inbox").toEqual([]);
        expect(fromJuliet.filter((s) => s.toString().includes("<candidate"))).toEqual([]);
        await juliet.waitFor(new RegExp(`declined.*${MALLORY}|${MALLORY}.*declined`), STEP_MS);
        expect(lineWith(juliet.stderr(), "declined", MALLORY)).toBeDefined();
        expect(juliet.child.exitCode).toBeNull();
      } finally {
        await stranger.close();
      }

      // Still running: Romeo's file, first contact with the one-time password, arrives.
      const file = join(dir, "sonnet-c.txt");
      await writeFile(file, "Two households, both alike in dignity\n");
      const romeo = run(["send", file, "--to", J("c"), ...romeoAccount("c")], { XTLS_OTP: PASSWORD }, "");
      expect(await romeo.done, romeo.stderr()).toBe(0);
      await juliet.waitFor('"from":"romeo@montague.lit/', STEP_MS);
      expect(await listIn(join(dir, "inbox-c"))).toEqual(["sonnet-c.txt"]);
      expect(connections).toBe(0);
    },
    6 * STEP_MS,
  );
});

describe("faults", () => {
  it(
    "a file name with a control character is cleaned by the sender before any stanza: `sending … as bad_name.txt`, stored as bad_name.txt",
    async () => {
      const source = join(dir, "g-source");
      await mkdir(source, { recursive: true });
      const file = join(source, "bad\x01name.txt");
      await writeFile(file, "What's in a name?\n");
      await attacker.setMode("observe"); // to see every stanza between them
      const juliet = await julietReceives("g", { XTLS_OTP: PASSWORD });
      const romeo = run(["send", file, "--to", J("g"), ...romeoAccount("g")], { XTLS_OTP: PASSWORD }, "");
      expect(await romeo.done, romeo.stderr()).toBe(0);
      expect(await juliet.done, juliet.stderr()).toBe(0);
      expect(romeo.stderr()).toMatch(/sending .*as bad_name\.txt/);
      expect(await listIn(join(dir, "inbox-g"))).toEqual(["bad_name.txt"]);
      expect(attacker.diverted.some((s) => jingleOf(s)?.attrs.action === "session-initiate")).toBe(true);
      expect(attacker.diverted.filter((s) => s.toString().includes("\x01"))).toEqual([]);
    },
    4 * STEP_MS,
  );

  // Last: it kills this suite's server (and the attacker's connection with it), then starts it again.
  it(
    "the server killed while `xtls receive` waits: exit 5 and one line on stderr",
    async () => {
      const juliet = await julietReceives("k", {});
      try {
        await stopProsody();
        expect(await juliet.done, juliet.stderr()).toBe(5);
        const after = juliet.stderr().split("\n").slice(1).filter(Boolean);
        expect(after).toHaveLength(1);
      } finally {
        await startProsody();
      }
    },
    4 * STEP_MS,
  );
});
