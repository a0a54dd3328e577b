// The xtls commands as a user runs them: spawned binaries against the project's Prosody,
// answers to prompts given on stdin (not a terminal), exit codes checked.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createXtls } from "@xtls/client";
import { fromXmppClient, NS, xml } from "@xtls/core";
import { FileTransferError } from "@xtls/file-transfer";
import { buildJingle, SessionTerminatedError } from "@xtls/jingle";
import { requestPubkeys } from "@xtls/pubkey";
import { connectXmppClient, deadlines, prosody } from "@xtls/test-servers";
import { formatFingerprint } from "@xtls/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountArgs, buildCli, verifiedPair as pair, type Run, startCli, waitFor } from "./spawn.js";

let dir: string;

beforeAll(async () => {
  buildCli();
  dir = await mkdtemp(join(tmpdir(), "xtls-cli-"));
}, deadlines.buildMs);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const start = (args: string[], env: Record<string, string> = {}, stdin?: string): Run =>
  startCli(prosody, args, env, stdin);
const account = (who: "romeo" | "juliet", tag: string) => accountArgs(dir, who, tag);
const verifiedPair = (tag: string) => pair(prosody, dir, tag);

describe("xtls send / receive through Prosody", () => {
  it(
    "first contact with a one-time password typed on stdin, a verified file; the second time no password is asked",
    async () => {
      const file = join(dir, "sonnet.bin");
      const bytes = randomBytes(200_000);
      await writeFile(file, bytes);
      const inbox = join(dir, "inbox-1");
      for (const round of [1, 2]) {
        // Round 1: the password comes from stdin (not a terminal), asked up front on the
        // receiver (--ask-otp: --yes accepts a stranger only with a password in hand);
        // round 2: stdin is empty, so any password prompt would answer "no password" and
        // fail the session, and --yes accepts only verified contacts.
        const input = round === 1 ? "wherefore-1597\n" : "";
        const receiver = start(
          [
            "receive",
            ...account("juliet", "a"),
            "--into",
            inbox,
            "--yes",
            "--ask-otp",
            "--from",
            "romeo@montague.lit",
            "--json",
          ],
          {},
          input,
        );
        await waitFor(receiver, "waiting for files as");
        // Romeo agreed the password too: --ask-otp (else his CLI would generate a code).
        const sender = start(
          [
            "send",
            file,
            "--to",
            "juliet@capulet.lit/balcony-a",
            ...account("romeo", "a"),
            "--json",
            ...(round === 1 ? ["--ask-otp"] : []),
          ],
          {},
          input,
        );
        expect(await sender.done, sender.seen()).toBe(0);
        expect(await receiver.done, receiver.seen()).toBe(0);
        const sent = JSON.parse(sender.stdout());
        expect(sent).toMatchObject({
          file: "sonnet.bin",
          size: 200_000,
          trust: round === 1 ? "srp" : "trust-store",
        });
        expect(sent.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
        const got = JSON.parse(receiver.stdout().trim().split("\n").at(-1)!);
        expect(got.sha256).toBe(sent.sha256);
        expect(round === 1 ? sender.stderr() : "").toMatch(
          round === 1 ? /One-time password for first contacts/ : /^$/,
        );
        expect(sender.stderr()).not.toContain("wherefore-1597");
      }
      const stored = await readdir(inbox);
      expect(stored.sort()).toEqual(["sonnet (1).bin", "sonnet.bin"]);
      expect(
        createHash("sha256")
          .update(await readFile(join(inbox, "sonnet.bin")))
          .digest("hex"),
      ).toBe(createHash("sha256").update(bytes).digest("hex"));
    },
    deadlines.commandsTestMs,
  );

  it(
    "a wrong one-time password: both commands fail with exit code 3 (an alarm, even for the receiver that would go on after other failures), nothing stored, nothing pinned",
    async () => {
      const file = join(dir, "note.txt");
      await writeFile(file, "Deny thy father and refuse thy name\n");
      const inbox = join(dir, "inbox-2");
      const receiver = start(
        ["receive", ...account("juliet", "b"), "--into", inbox, "--yes", "--from", "romeo@montague.lit"],
        {
          XTLS_OTP: "capulet",
        },
      );
      await waitFor(receiver, "waiting for files as");
      const sender = start(["send", file, "--to", "juliet@capulet.lit/balcony-b", ...account("romeo", "b")], {
        XTLS_OTP: "montague",
      });
      expect(await sender.done, sender.seen()).toBe(3);
      expect(sender.stderr().trim().split("\n").at(-1)).toMatch(
        /^xtls send: .*XTLS precondition failed, nothing was sent.*possible man-in-the-middle/,
      );
      // The receiver accepted Romeo (the --from contact, password in hand): a failed proof is
      // a security failure, which ends it (exit 3) with one line, unlike a transfer that breaks.
      expect(await receiver.done, receiver.seen()).toBe(3);
      expect(receiver.stderr().trim().split("\n").at(-1)).toMatch(
        /^xtls receive: note\.txt from romeo@montague\.lit\/\S+: .*possible man-in-the-middle/,
      );
      expect(await readdir(inbox)).toEqual([]);
      const trust = start(["trust", "list", ...account("romeo", "b"), "--json"]);
      expect(await trust.done, trust.seen()).toBe(0);
      expect(JSON.parse(trust.stdout())).toEqual({});
    },
    deadlines.commandsTestMs,
  );

  it(
    "chat: lines typed on one side appear on the other; /quit ends it",
    async () => {
      const juliet = start(["chat", ...account("juliet", "a"), "--yes", "--json"]);
      await waitFor(juliet, "waiting for a chat as");
      const romeo = start(
        ["chat", "juliet@capulet.lit/balcony-a", ...account("romeo", "a")],
        {},
        "Did my heart love till now?\n/quit\n",
      );
      expect(await romeo.done, romeo.seen()).toBe(0);
      expect(await juliet.done, juliet.seen()).toBe(0);
      expect(romeo.stderr()).toMatch(/encrypted chat with juliet@capulet\.lit\/balcony-a — TLSv1\.3/);
      expect(JSON.parse(juliet.stdout().trim())).toEqual({
        from: expect.stringMatching(/^romeo@montague\.lit\//),
        body: "Did my heart love till now?",
      });
    },
    deadlines.commandsTestMs,
  );
});

/** A TCP listener that counts the connections it gets (a stranger's SOCKS5 candidate). */
async function decoy(): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((socket) => {
    n++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { server, port: address.port, connections: () => n };
}

/** Mallory, any other account on the server: a stranger to Romeo and Juliet. */
async function mallory(candidatePort: number, password?: string) {
  const xmpp = await connectXmppClient({ username: "mallory", domain: "montague.lit" });
  // Her only SOCKS5 candidate is an address of her choosing on the victim's host.
  const xtls = await createXtls(xmpp, {
    ...(password ? { askPassword: async () => password } : {}),
    socks5: {
      streamhost: false,
      proxies: [{ jid: "proxy.evil.example", host: "127.0.0.1", port: candidatePort }],
    },
  });
  return {
    xtls,
    close: async () => {
      await xtls.close();
      await xmpp.stop();
    },
  };
}

describe("strangers (any other account) and --yes", () => {
  it(
    "receive --yes --count 0: a stranger's offer is declined before anything happens for it (no connection to its candidates, no file), one line on stderr, and the loop goes on",
    async () => {
      await verifiedPair("s");
      const inbox = join(dir, "inbox-stranger");
      const trap = await decoy();
      const receiver = start([
        "receive",
        ...account("juliet", "s"),
        "--into",
        inbox,
        "--yes",
        "--count",
        "0",
        "--json",
      ]);
      await waitFor(receiver, "waiting for files as");
      const m = await mallory(trap.port);
      try {
        for (const name of ["invoice.pdf", "invoice-2.pdf"]) {
          const transfer = await m.xtls.sendFile(
            "juliet@capulet.lit/balcony-s",
            Readable.from([Buffer.from("pay me")]),
            {
              name,
              size: 6,
            },
          );
          const error = await transfer.done.catch((e: unknown) => e);
          expect(error).toBeInstanceOf(FileTransferError);
          expect((error as FileTransferError).code).toBe("declined");
          expect((error as FileTransferError).reason?.text).toMatch(/not a verified contact/);
          await waitFor(receiver, `xtls receive: declined ${name} from mallory@montague.lit/`);
        }
        // Nothing happened for her: no connection to her candidate, no (temporary) file.
        expect(trap.connections()).toBe(0);
        expect(await readdir(inbox)).toEqual([]);
        expect(receiver.stderr()).toMatch(
          /^xtls receive: declined invoice\.pdf from mallory@montague\.lit\/\S+: not a verified contact \(verify them first with "xtls trust verify mallory@montague\.lit FINGERPRINT"/m,
        );
        expect(
          receiver
            .stderr()
            .split("\n")
            .filter((l) => l.includes("invoice")).length,
        ).toBe(2);
        // The loop went on: a verified contact's file is received by the same process.
        const file = join(dir, "balcony.txt");
        await writeFile(file, "But soft, what light through yonder window breaks?\n");
        const sender = start(
          ["send", file, "--to", "juliet@capulet.lit/balcony-s", ...account("romeo", "s")],
          {},
          "",
        );
        expect(await sender.done, sender.seen()).toBe(0);
        await waitFor(receiver, '"from":"romeo@montague.lit/');
        expect(await readdir(inbox)).toEqual(["balcony.txt"]);
        expect(receiver.child.exitCode).toBeNull();
      } finally {
        receiver.child.kill("SIGTERM");
        await receiver.done;
        await m.close();
        trap.server.close();
      }
    },
    deadlines.commandsTestMs,
  );

  it(
    "receive --candidates global: an accepted peer's SOCKS5 candidate on loopback is never connected to (by default it is); a bad class is exit 2",
    async () => {
      const bad = start(["receive", ...account("juliet", "cp"), "--candidates", "loopback,lan"]);
      expect(await bad.done, bad.seen()).toBe(2);
      expect(bad.stderr()).toContain("--candidates takes a comma list of loopback, private, global");
      // Mallory is accepted on purpose (--from her, a password in hand), so only the
      // candidate policy stands between her loopback candidate and a connection from us.
      for (const policy of [[], ["--candidates", "global"]]) {
        const trap = await decoy();
        const resource = `balcony-cp${policy.length}`;
        const receiver = start(
          [
            "receive",
            ...account("juliet", "cp"),
            "--resource",
            resource,
            "--into",
            join(dir, "inbox-cp"),
            "--yes",
            "--from",
            "mallory@montague.lit",
            ...policy,
          ],
          { XTLS_OTP: "never-told-mallory" },
        );
        await waitFor(receiver, "waiting for files as");
        const m = await mallory(trap.port, "a-guess");
        try {
          const transfer = await m.xtls.sendFile(
            `juliet@capulet.lit/${resource}`,
            Readable.from([Buffer.from("pay me")]),
            { name: "invoice.pdf", size: 6 },
          );
          // She does not know the password: the transfer ends with a failed proof, after the
          // candidates were tried.
          await transfer.done.catch(() => {});
          expect(trap.connections()).toBe(policy.length === 0 ? 1 : 0);
        } finally {
          receiver.child.kill("SIGTERM");
          await receiver.done;
          await m.close();
          trap.server.close();
        }
      }
    },
    deadlines.commandsTestMs,
  );

  it(
    "chat --yes answers XEP-0189 <pubkeys/> and XEP-0199 ping inside the end-to-end stream (they got service-unavailable before)",
    async () => {
      await verifiedPair("pk");
      const juliet = start(["chat", ...account("juliet", "pk"), "--yes", "--json"]);
      await waitFor(juliet, "waiting for a chat as");
      // Romeo's own identity (the CLI's --dir layout), through the facade.
      const xmpp = await connectXmppClient({ username: "romeo", domain: "montague.lit" });
      const romeo = await createXtls(xmpp, { dir: join(dir, "pk-romeo") });
      try {
        const chat = await romeo.openChat("juliet@capulet.lit/balcony-pk");
        const presented = chat.peerIdentity!.fingerprint;
        const keys = await requestPubkeys(chat.stream, presented);
        expect(keys.devices).toHaveLength(1);
        const pong = await chat.stream.request(xml("iq", { type: "get" }, xml("ping", { xmlns: NS.PING })));
        expect(pong.attrs.type).toBe("result");
        await chat.close();
        expect(await juliet.done, juliet.seen()).toBe(0);
      } finally {
        if (juliet.child.exitCode === null) juliet.child.kill("SIGTERM");
        await romeo.close();
        await xmpp.stop();
      }
    },
    deadlines.commandsTestMs,
  );

  it(
    "receive --yes: a verified contact's secure channel cut off mid-file (no close_notify) is one line, not an alarm; the next file ends it with exit 0",
    async () => {
      await verifiedPair("cut");
      const inbox = join(dir, "inbox-cut");
      const receiver = start(["receive", ...account("juliet", "cut"), "--into", inbox, "--yes", "--json"]);
      await waitFor(receiver, "waiting for files as");
      const xmpp = await connectXmppClient({ username: "romeo", domain: "montague.lit" });
      const romeo = await createXtls(xmpp, { dir: join(dir, "cut-romeo") });
      try {
        // The first 64 KiB go out; then the source waits, and the channel under the
        // transfer is torn down without a TLS close_notify (as a dying sender, or someone
        // cutting the connection, would leave it): Juliet sees a truncated channel.
        let cut!: () => void;
        const held = new Promise<void>((resolve) => {
          cut = resolve;
        });
        const source = Readable.from(
          (async function* () {
            yield Buffer.alloc(64 * 1024, 0x61);
            await held;
          })(),
        );
        const transfer = await romeo.sendFile("juliet@capulet.lit/balcony-cut", source, {
          name: "cut.txt",
          size: 1024 * 1024,
        });
        await new Promise<void>((resolve) => transfer.once("progress", () => resolve()));
        // Romeo's connection to the server goes first, so no session-terminate tells
        // Juliet why; then his end of the SOCKS5 connection.
        await xmpp.disconnect();
        transfer.session!.secured!.destroy();
        cut();
        await transfer.done.catch(() => {});
        await waitFor(receiver, "xtls receive: cut.txt from romeo@montague.lit/");
      } finally {
        await romeo.close().catch(() => {});
        await xmpp.stop().catch(() => {});
      }
      const file = join(dir, "after-cut.txt");
      await writeFile(file, "O, swear not by the moon, th' inconstant moon\n");
      const sender = start(
        ["send", file, "--to", "juliet@capulet.lit/balcony-cut", ...account("romeo", "cut")],
        {},
        "",
      );
      expect(await sender.done, `${sender.seen()}\n${receiver.seen()}`).toBe(0);
      expect(await receiver.done, receiver.seen()).toBe(0);
      expect(await readdir(inbox)).toEqual(["after-cut.txt"]);
    },
    deadlines.commandsTestMs,
  );

  it(
    "receive --yes: a verified contact's transfer that breaks mid-way is one line and not counted; the next file ends it with exit 0",
    async () => {
      await verifiedPair("x");
      const inbox = join(dir, "inbox-broken");
      const receiver = start(["receive", ...account("juliet", "x"), "--into", inbox, "--yes", "--json"]);
      await waitFor(receiver, "waiting for files as");
      // Romeo's own identity (the CLI's --dir layout), through the facade: his source fails
      // after the first chunk, so the transfer ends early, cancelled by the sender.
      const xmpp = await connectXmppClient({ username: "romeo", domain: "montague.lit" });
      const romeo = await createXtls(xmpp, { dir: join(dir, "x-romeo") });
      try {
        const broken = Readable.from(
          (async function* () {
            yield Buffer.alloc(64 * 1024, 0x61);
            throw new Error("the disk went away");
          })(),
        );
        const transfer = await romeo.sendFile("juliet@capulet.lit/balcony-x", broken, {
          name: "broken.txt",
          size: 1024 * 1024,
        });
        await expect(transfer.done).rejects.toThrow();
        await waitFor(receiver, "xtls receive: broken.txt from romeo@montague.lit/");
        expect(receiver.child.exitCode).toBeNull();
      } finally {
        await romeo.close();
        await xmpp.stop();
      }
      const file = join(dir, "whole.txt");
      await writeFile(file, "Good night, good night! Parting is such sweet sorrow\n");
      const sender = start(
        ["send", file, "--to", "juliet@capulet.lit/balcony-x", ...account("romeo", "x")],
        {},
        "",
      );
      // On failure, both sides' output: the receiver may have ended before the send.
      expect(await sender.done, `${sender.seen()}\n${receiver.seen()}`).toBe(0);
      expect(await receiver.done, receiver.seen()).toBe(0);
      expect(await readdir(inbox)).toEqual(["whole.txt"]);
    },
    deadlines.commandsTestMs,
  );

  it(
    "chat --yes: a stranger's chat is declined with one line, and the verified contact's chat that follows is accepted",
    async () => {
      await verifiedPair("c");
      const juliet = start(["chat", ...account("juliet", "c"), "--yes", "--json"]);
      await waitFor(juliet, "waiting for a chat as");
      const trap = await decoy();
      const m = await mallory(trap.port);
      try {
        const error = await m.xtls.openChat("juliet@capulet.lit/balcony-c").catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SessionTerminatedError);
        expect((error as SessionTerminatedError).reason).toMatchObject({
          condition: "decline",
          text: expect.stringMatching(/not a verified contact/),
        });
        await waitFor(juliet, "xtls chat: declined a chat from mallory@montague.lit/");
        expect(trap.connections()).toBe(0);
        const romeo = start(
          ["chat", "juliet@capulet.lit/balcony-c", ...account("romeo", "c")],
          {},
          "Good night, good night!\n/quit\n",
        );
        expect(await romeo.done, romeo.seen()).toBe(0);
        expect(await juliet.done, juliet.seen()).toBe(0);
        expect(JSON.parse(juliet.stdout().trim())).toMatchObject({ body: "Good night, good night!" });
      } finally {
        juliet.child.kill("SIGTERM");
        await m.close();
        trap.server.close();
      }
    },
    deadlines.commandsTestMs,
  );

  it(
    "a file name with a control character is cleaned before any stanza goes out: one line says so, the receiver stores bad_name.txt",
    async () => {
      await verifiedPair("n");
      const inbox = join(dir, "inbox-names");
      const file = join(dir, "bad\x01name.txt");
      await writeFile(file, "What's in a name?\n");
      const receiver = start(["receive", ...account("juliet", "n"), "--into", inbox, "--yes", "--json"]);
      await waitFor(receiver, "waiting for files as");
      const sender = start(
        ["send", file, "--to", "juliet@capulet.lit/balcony-n", ...account("romeo", "n"), "--json"],
        {},
        "",
      );
      expect(await sender.done, sender.seen()).toBe(0);
      expect(await receiver.done, receiver.seen()).toBe(0);
      expect(sender.stderr().split("\n")[0]).toBe("sending bad\\x01name.txt as bad_name.txt");
      expect(JSON.parse(sender.stdout())).toMatchObject({ file: "bad_name.txt" });
      expect(await readdir(inbox)).toEqual(["bad_name.txt"]);
    },
    deadlines.commandsTestMs,
  );
});

describe("secure by default (through Prosody)", () => {
  it("chat --yes refuses a session offered without end-to-end security with one line on stderr, and keeps waiting", async () => {
    const juliet = start(["chat", ...account("juliet", "clear"), "--yes"]);
    await waitFor(juliet, "waiting for a chat as");
    const client = await connectXmppClient({ username: "mallory", domain: "montague.lit" });
    const mallory = fromXmppClient(client);
    try {
      const initiate = buildJingle({
        action: "session-initiate",
        sid: "in-the-clear",
        initiator: mallory.jid,
        contents: [
          {
            creator: "initiator",
            name: "xmlstream",
            description: xml("description", { xmlns: NS.JINGLE_XMLSTREAM }),
            transport: xml("transport", { xmlns: NS.JINGLE_IBB, sid: "ibb-clear", "block-size": "4096" }),
          },
        ],
      });
      await mallory.request(xml("iq", { type: "set", to: "juliet@capulet.lit/balcony-clear" }, initiate));
      const line = `xtls chat: refused a session from ${mallory.jid}: no end-to-end security was offered`;
      await waitFor(juliet, line);
      expect(
        juliet
          .stderr()
          .split("\n")
          .filter((l) => l.startsWith("xtls chat:")),
      ).toEqual([line]);
      expect(juliet.child.exitCode).toBeNull(); // still waiting for a real chat
    } finally {
      juliet.child.kill();
      await juliet.done;
      await client.stop().catch(() => {});
    }
  }, 60_000);

  it("a pinned peer presenting another certificate: exit 3, both fingerprints, how to re-verify, no password asked; --accept-new-key then accepts exactly that one", async () => {
    const made = start(["identity", "new", ...account("juliet", "kc"), "--json"]);
    expect(await made.done).toBe(0);
    const julietFp: string = JSON.parse(made.stdout()).fingerprint;
    const oldFp = "5e".repeat(32); // the certificate Romeo verified for Juliet before
    expect(
      await start(["trust", "verify", "juliet@capulet.lit", oldFp, ...account("romeo", "kc")]).done,
    ).toBe(0);
    const file = join(dir, "letter.txt");
    await writeFile(file, "Thou know'st the mask of night is on my face\n");
    const inbox = join(dir, "inbox-kc");
    // Each run of the receiver gets its own resource: the server may still hold the last one.
    const receive = (resource: string) =>
      start(
        [
          "receive",
          "--jid",
          "juliet@capulet.lit",
          "--resource",
          resource,
          "--dir",
          join(dir, "kc-juliet"),
        ].concat(["--into", inbox, "--yes", "--from", "romeo@montague.lit"]),
        { XTLS_OTP: "rosaline" },
        "",
      );
    let receiver = receive("balcony-kc");
    await waitFor(receiver, "waiting for files as");
    const sender = start(
      ["send", file, "--to", "juliet@capulet.lit/balcony-kc", ...account("romeo", "kc")],
      {},
      "rosaline\n",
    );
    expect(await sender.done).toBe(3);
    const err = sender.stderr();
    expect(err).toContain("the certificate of juliet@capulet.lit has CHANGED");
    expect(err).toContain(`pinned:    ${formatFingerprint(oldFp)}`);
    expect(err).toContain(`presented: ${formatFingerprint(julietFp)}`);
    expect(err).toContain("xtls trust forget juliet@capulet.lit");
    expect(err).toContain(`--accept-new-key ${formatFingerprint(julietFp)}`);
    expect(err).not.toContain("One-time password");
    if (receiver.child.exitCode === null) receiver.child.kill();
    await receiver.done;
    expect(receiver.stderr()).not.toContain("One-time password");
    expect(await readdir(inbox)).toEqual([]);

    // The user compared Juliet's new fingerprint with her: accepted by name, exactly that one.
    receiver = receive("balcony-kc2");
    await waitFor(receiver, "waiting for files as");
    const again = start(
      [
        "send",
        file,
        "--to",
        "juliet@capulet.lit/balcony-kc2",
        ...account("romeo", "kc"),
        "--accept-new-key",
        formatFingerprint(julietFp),
      ],
      {},
      "rosaline\n",
    );
    expect(await again.done).toBe(0);
    expect(await receiver.done).toBe(0);
    const trust = start(["trust", "list", ...account("romeo", "kc"), "--json"]);
    expect(await trust.done).toBe(0);
    expect(
      JSON.parse(trust.stdout())["juliet@capulet.lit"].map((e: { fingerprint: string }) => e.fingerprint),
    ).toEqual([julietFp]);
  }, 90_000);
});

describe("xtls trust and identity (no network)", () => {
  // Ten commands one after the other, each a Node process starting: on a busy machine each
  // start takes seconds.
  it(
    "identity new/show, trust verify/list/forget/export",
    async () => {
      const me = ["--jid", "benvolio@montague.lit", "--dir", join(dir, "benvolio")];
      const none = start(["identity", "show", ...me]);
      expect(await none.done, none.seen()).toBe(1);
      const made = start(["identity", "new", ...me, "--json"]);
      expect(await made.done, made.seen()).toBe(0);
      const { fingerprint } = JSON.parse(made.stdout());
      expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
      const again = start(["identity", "new", ...me]);
      expect(await again.done, again.seen()).toBe(2); // refuses to replace without --force
      const shown = start(["identity", "show", ...me]);
      expect(await shown.done, shown.seen()).toBe(0);
      expect(shown.stdout()).toContain(fingerprint.slice(0, 2).toUpperCase());

      const fp = "AB:".repeat(31) + "AB";
      expect(await start(["trust", "verify", "nurse@capulet.lit", fp, ...me]).done).toBe(0);
      const list = start(["trust", "list", ...me, "--json"]);
      expect(await list.done, list.seen()).toBe(0);
      expect(JSON.parse(list.stdout())["nurse@capulet.lit"][0]).toMatchObject({
        fingerprint: "ab".repeat(32),
        state: "verified",
        method: "manual",
      });
      const exported = start(["trust", "export", ...me]);
      expect(await exported.done, exported.seen()).toBe(0);
      expect(JSON.parse(exported.stdout()).peers["nurse@capulet.lit"]).toHaveLength(1);
      expect(await start(["trust", "forget", "nurse@capulet.lit", ...me]).done).toBe(0);
      const after = start(["trust", "list", ...me, "--json"]);
      await after.done;
      expect(JSON.parse(after.stdout())).toEqual({});
      expect(await start(["trust", "verify", "nurse@capulet.lit", "not-a-fingerprint", ...me]).done).toBe(2);
    },
    deadlines.commandsTestMs,
  );

  it.each([
    [["send", "x", "--to", "juliet@capulet.lit"], 2, /full JID/],
    [
      ["send", "/nonexistent", "--to", "juliet@capulet.lit/balcony", "--jid", "romeo@montague.lit"],
      2,
      /not a readable file/,
    ],
    [["chat", "--jid", "not a jid"], 2, /--jid must be/],
    [
      [
        "send",
        import.meta.filename,
        "--to",
        "juliet@capulet.lit/x",
        "--jid",
        "romeo@montague.lit",
        "--server",
        "xmpp://127.0.0.1:1",
      ],
      5,
      /cannot log in/,
    ],
    [["receive", "--jid", "romeo@montague.lit", "--password", "wrong"], 5, /not-authorized/],
  ])("xtls %j → one line on stderr, exit %i", async (args, code, message) => {
    const r = start(args as string[]);
    expect(await r.done, r.seen()).toBe(code);
    expect(r.stderr().trim().split("\n")).toHaveLength(1);
    expect(r.stderr()).toMatch(message as RegExp);
  });

  it.each([["receive"], ["chat"]])(
    "xtls %s --yes with a one-time password but no --from: exit 2 before logging in (the password would be everyone's)",
    async (command) => {
      const r = start([command, "--jid", "juliet@capulet.lit", "--yes", "--dir", join(dir, "otp-no-from")], {
        XTLS_OTP: "wherefore-1597",
      });
      expect(await r.done, r.seen()).toBe(2);
      expect(r.stderr().trim().split("\n")).toEqual([expect.stringMatching(/needs --from JID/)]);
    },
  );

  it.each([["send"], ["receive"], ["chat"], ["trust"], ["identity"]])("xtls %s --help", async (command) => {
    const r = start([command, "--help"]);
    expect(await r.done, r.seen()).toBe(0);
    expect(r.stdout()).toContain(`xtls ${command}`);
    expect(r.stdout()).toContain("--jid JID");
  });
});
