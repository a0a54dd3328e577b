// What each side observes when something goes wrong: a decline, a sender that lies
// about its file, more octets than declared, an unwritable or full disk, a cancel from
// either side, hostile file names, malformed offers, an offer without XTLS.
import { execFileSync } from "node:child_process";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type Element, LocalRouter, NS, type RouteEvent, xml } from "@xtls/core";
import { type ApplicationHandle, INSECURE_OPT_OUT, type Reason } from "@xtls/jingle";
import { pairOnRouter } from "@xtls/testkit/parties";
import { afterEach, describe, expect, it } from "vitest";
import {
  digestOf,
  FileTransferError,
  type FileTransferProgress,
  isPartialName,
  OutgoingFileTransfer,
  type OutgoingFileTransferInit,
  sendableFileName,
} from "../src/index.js";
import {
  content,
  entries,
  JULIET,
  nextOffer,
  type Party,
  partyOn,
  ROMEO,
  removeTempDirs,
  tempDir,
  until,
} from "./helpers.js";

let router: LocalRouter;
afterEach(async () => {
  router?.close();
  await removeTempDirs();
});

async function scene() {
  router = new LocalRouter();
  return pairOnRouter(router, [ROMEO, JULIET], partyOn);
}

function terminations(
  wire: RouteEvent[],
): Array<{ from: string; condition: string; extra?: string; text?: string }> {
  return wire
    .map((e) => ({ e, j: e.stanza.getChild("jingle", NS.JINGLE) }))
    .filter(({ e, j }) => j?.attrs.action === "session-terminate" && e.stanza.attrs.type === "set")
    .map(({ e, j }) => {
      const reason = j!.getChild("reason")!;
      const [condition, ...rest] = reason.getChildElements().filter((c) => c.name !== "text");
      return {
        from: e.from,
        condition: condition!.name,
        extra: rest[0] ? `${rest[0].getNS()} ${rest[0].name}` : undefined,
        text: reason.getChildText("text") ?? undefined,
      };
    });
}

async function expectCleanEnd(romeo: Party, juliet: Party, inbox: string, expected: string[] = []) {
  expect(await entries(inbox)).toEqual(expected);
  await until(() => romeo.manager.sessions.length === 0 && juliet.manager.sessions.length === 0);
  await until(() => romeo.ibb.streams.length === 0 && juliet.ibb.streams.length === 0);
}

/** A sender that lies: its octets are not the ones it hashes, or there are more of them. */
class LyingSender extends OutgoingFileTransfer {
  readonly #lie: "corrupt" | "extra";
  #written = 0;

  constructor(init: OutgoingFileTransferInit, lie: "corrupt" | "extra") {
    super(init);
    this.#lie = lie;
  }

  protected override outgoing(chunk: Buffer): Buffer {
    this.#written += chunk.length;
    if (this.#lie === "corrupt" && this.#written === chunk.length) {
      const copy = Buffer.from(chunk);
      copy[7] = copy[7]! ^ 0x20;
      return copy;
    }
    if (this.#lie === "extra" && this.#written === this.file.size) {
      return Buffer.concat([chunk, Buffer.alloc(5000, 0x41)]);
    }
    return chunk;
  }
}

/** A source that gives `first` octets, then nothing more until destroyed. */
function stallingSource(first: Buffer): Readable {
  let given = false;
  return new Readable({
    read() {
      if (!given) {
        given = true;
        this.push(first);
      }
    },
  });
}

describe("the receiver says no", () => {
  it("decline: the sender's transfer fails with 'declined', nothing is written", async () => {
    const { wire, romeo, juliet } = await scene();
    const inbox = await tempDir();
    const offered = nextOffer(juliet);
    const source = Readable.from([Buffer.from("unwanted")]);
    const sending = await romeo.files.sendFile(JULIET, source, { name: "spam.txt", size: 8 });
    await (await offered).decline();
    const error = await sending.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileTransferError);
    expect(error).toMatchObject({ code: "declined", by: "peer" });
    expect((error as Error).message).toMatch(/declined/);
    expect(source.destroyed).toBe(true);
    expect(terminations(wire)).toEqual([
      { from: JULIET, condition: "decline", extra: undefined, text: undefined },
    ]);
    await expectCleanEnd(romeo, juliet, inbox);
  });

  it("nobody listening for offers: declined for us", async () => {
    const { romeo, juliet } = await scene();
    void juliet;
    const sending = await romeo.files.sendFile(JULIET, Readable.from([Buffer.from("x")]), {
      name: "x",
      size: 1,
    });
    await expect(sending.done).rejects.toMatchObject({ code: "declined", by: "peer" });
  });
});

describe("names that cannot be sent", () => {
  it("a name with a control character or one XML forbids is refused before any stanza goes out (bad-name); sendableFileName cleans it", async () => {
    const { wire, romeo } = await scene();
    const before = wire.length;
    for (const name of ["bad\x01name.txt", "tab\there", "nul\x00", "lone\ud800surrogate", "no\ufffe"]) {
      const error = await romeo.files
        .sendFile(JULIET, Readable.from([Buffer.from("x")]), { name, size: 1 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FileTransferError);
      expect(error).toMatchObject({ code: "bad-name" });
    }
    const path = join(await tempDir(), "bad\x01name.txt");
    await writeFile(path, "x");
    await expect(romeo.files.sendFile(JULIET, path)).rejects.toMatchObject({ code: "bad-name" });
    expect(wire.length).toBe(before);
    expect(sendableFileName("bad\x01name.txt")).toBe("bad_name.txt");
    expect(sendableFileName("lone\ud800surrogate")).toBe("lone_surrogate");
    expect(sendableFileName("café 🎭.txt")).toBe("café 🎭.txt");
  });
});

describe("a sender that lies", () => {
  it("octets that do not match the digest: rejected on both sides, temporary file removed", async () => {
    const { wire, romeo, juliet } = await scene();
    const inbox = await tempDir();
    const bytes = content(100_000, 7);
    const offered = nextOffer(juliet);
    const liar = new LyingSender(
      { file: { name: "forged.bin", size: bytes.length }, source: Readable.from([bytes]) },
      "corrupt",
    );
    romeo.files.offer(JULIET, liar);
    const receiving = await (await offered).accept({ dir: inbox });
    const [theirs, ours] = await Promise.all([
      receiving.done.catch((e: unknown) => e),
      liar.done.catch((e: unknown) => e),
    ]);
    expect(theirs).toBeInstanceOf(FileTransferError);
    expect(theirs).toMatchObject({ code: "hash-mismatch", by: "local" });
    expect((theirs as Error).message).toMatch(/do not match the sha-256 digest/);
    expect(ours).toBeInstanceOf(FileTransferError);
    expect(ours).toMatchObject({ code: "hash-mismatch", by: "peer", reason: { condition: "media-error" } });
    expect(terminations(wire)).toEqual([
      expect.objectContaining({ from: JULIET, condition: "media-error", extra: undefined }),
    ]);
    await expectCleanEnd(romeo, juliet, inbox);
  });

  it("more octets than declared: file-too-large (media-error), temporary file removed", async () => {
    const { wire, romeo, juliet } = await scene();
    const inbox = await tempDir();
    const bytes = content(50_000, 8);
    const offered = nextOffer(juliet);
    const liar = new LyingSender(
      { file: { name: "bloated.bin", size: bytes.length }, source: Readable.from([bytes]) },
      "extra",
    );
    romeo.files.offer(JULIET, liar);
    const receiving = await (await offered).accept({ dir: inbox });
    const [theirs, ours] = await Promise.all([
      receiving.done.catch((e: unknown) => e),
      liar.done.catch((e: unknown) => e),
    ]);
    expect(theirs).toMatchObject({ code: "file-too-large", by: "local" });
    expect(ours).toMatchObject({ code: "file-too-large", by: "peer" });
    expect(terminations(wire)).toEqual([
      expect.objectContaining({
        from: JULIET,
        condition: "media-error",
        extra: `${NS.JFT_ERRORS} file-too-large`,
      }),
    ]);
    await expectCleanEnd(romeo, juliet, inbox);
  });

  it("a digest in the clear that the octets do not match: rejected, even though the trailer matches", async () => {
    const { romeo, juliet } = await scene();
    const inbox = await tempDir();
    const bytes = content(20_000, 4);
    class CleartextLiar extends OutgoingFileTransfer {
      override get file() {
        return { ...super.file, hashes: [{ algo: "sha-256", value: digestOf("sha-256", "something else") }] };
      }
    }
    const offered = nextOffer(juliet);
    const liar = new CleartextLiar({
      file: { name: "x.bin", size: bytes.length },
      source: Readable.from([bytes]),
    });
    romeo.files.offer(JULIET, liar);
    const offer = await offered;
    expect(offer.file.hashes?.[0]?.algo).toBe("sha-256");
    const receiving = await offer.accept({ dir: inbox });
    await expect(receiving.done).rejects.toMatchObject({ code: "hash-mismatch", by: "local" });
    await expect(liar.done).rejects.toMatchObject({ code: "hash-mismatch", by: "peer" });
    await expectCleanEnd(romeo, juliet, inbox);
  });

  it("a stream that yields fewer octets than it declared fails on the sender's side", async () => {
    const { wire, romeo, juliet } = await scene();
    const inbox = await tempDir();
    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(JULIET, Readable.from([Buffer.from("short")]), {
      name: "short.txt",
      size: 100,
    });
    const receiving = await (await offered).accept({ dir: inbox });
    const [ours, theirs] = await Promise.all([
      sending.done.catch((e: unknown) => e),
      receiving.done.catch((e: unknown) => e),
    ]);
    expect(ours).toMatchObject({ code: "source", by: "local" });
    expect((ours as Error).message).toMatch(/ended after 5 of the 100 octets/);
    expect(theirs).toMatchObject({ code: "failed", by: "peer", reason: { condition: "failed-application" } });
    expect((theirs as Error).message).toMatch(/could not read the file/);
    expect(terminations(wire)).toEqual([
      expect.objectContaining({ from: ROMEO, condition: "failed-application" }),
    ]);
    await expectCleanEnd(romeo, juliet, inbox);
  });
});

function run(command: string, ...args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// Root ignores permission bits: an unwritable directory is then a read-only mount (or
// an immutable directory), and a full disk a tiny tmpfs.
function mountTmpfs(dir: string, options: string): boolean {
  return run("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir);
}

function unmount(dir: string): void {
  run("umount", "-l", dir);
}

describe("the receiver cannot store the file", () => {
  it("unwritable directory: accept fails with a storage error, the session is terminated", async (ctx) => {
    const { wire, romeo, juliet } = await scene();
    const inbox = await tempDir();
    let restore: () => Promise<void>;
    if (process.getuid?.() !== 0) {
      await chmod(inbox, 0o555);
      restore = () => chmod(inbox, 0o755);
    } else if (mountTmpfs(inbox, "ro,size=64k")) {
      restore = async () => unmount(inbox);
    } else if (run("chattr", "+i", inbox)) {
      restore = async () => void run("chattr", "-i", inbox);
    } else {
      ctx.skip("root without CAP_SYS_ADMIN or CAP_LINUX_IMMUTABLE cannot make a directory unwritable");
      return;
    }
    try {
      const offered = nextOffer(juliet);
      const sending = await romeo.files.sendFile(JULIET, Readable.from([Buffer.from("ink")]), {
        name: "letter.txt",
        size: 3,
      });
      const offer = await offered;
      const refused = await offer.accept({ dir: inbox }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(FileTransferError);
      expect(refused).toMatchObject({ code: "storage", by: "local" });
      expect(["EACCES", "EROFS", "EPERM"]).toContain((refused as FileTransferError).errno);
      expect((refused as Error).message).toContain(`cannot create a file in ${inbox}`);
      const ours = await sending.done.catch((e: unknown) => e);
      expect(ours).toMatchObject({ code: "failed", by: "peer", reason: { condition: "failed-application" } });
      expect((ours as Error).message).toMatch(/could not store the file/);
      expect(terminations(wire)).toEqual([
        expect.objectContaining({ from: JULIET, condition: "failed-application" }),
      ]);
      await expectCleanEnd(romeo, juliet, inbox);
    } finally {
      await restore();
    }
  });

  it("disk full (ENOSPC) mid-transfer: storage error, session terminated, nothing left", async (ctx) => {
    const { romeo, juliet } = await scene();
    const inbox = await tempDir();
    if (!mountTmpfs(inbox, "size=64k")) {
      ctx.skip("needs to mount a small tmpfs (root with CAP_SYS_ADMIN) to fill a disk");
      return;
    }
    try {
      const bytes = content(400 * 1024, 9);
      const offered = nextOffer(juliet);
      const sending = await romeo.files.sendFile(JULIET, Readable.from([bytes]), {
        name: "big.bin",
        size: bytes.length,
      });
      const receiving = await (await offered).accept({ dir: inbox });
      const [theirs, ours] = await Promise.all([
        receiving.done.catch((e: unknown) => e),
        sending.done.catch((e: unknown) => e),
      ]);
      expect(theirs).toMatchObject({ code: "storage", errno: "ENOSPC", by: "local" });
      expect((theirs as Error).message).toMatch(/no space left on the device/);
      expect(ours).toMatchObject({ code: "failed", by: "peer", reason: { condition: "failed-application" } });
      expect((ours as Error).message).toMatch(/could not store the file \(no space left on the device\)/);
      await expectCleanEnd(romeo, juliet, inbox);
    } finally {
      unmount(inbox);
    }
  });
});

describe("cancel mid-transfer", () => {
  for (const who of ["sender", "receiver"] as const) {
    it(`from the ${who}: both stop, both say cancelled, nothing left behind`, async () => {
      const { wire, romeo, juliet } = await scene();
      const inbox = await tempDir();
      const source = stallingSource(content(64 * 1024, 3));
      const offered = nextOffer(juliet);
      const sending = await romeo.files.sendFile(JULIET, source, {
        name: "endless.bin",
        size: 10 * 1024 * 1024,
      });
      const receiving = await (await offered).accept({ dir: inbox });
      // Mid-transfer: octets arrived and the temporary file exists.
      const first = await new Promise<FileTransferProgress>((resolve) => receiving.once("progress", resolve));
      expect(first.bytes).toBeGreaterThan(0);
      const partial = await receiving.partialPath();
      expect(partial && isPartialName(partial.split("/").pop()!)).toBe(true);
      expect((await entries(inbox)).filter(isPartialName)).toHaveLength(1);

      await (who === "sender" ? sending : receiving).cancel();
      const [ours, theirs] = await Promise.all([
        sending.done.catch((e: unknown) => e),
        receiving.done.catch((e: unknown) => e),
      ]);
      const canceller = who === "sender" ? ours : theirs;
      const cancelled = who === "sender" ? theirs : ours;
      expect(canceller).toMatchObject({ code: "cancelled", by: "local" });
      expect(cancelled).toMatchObject({ code: "cancelled", by: "peer" });
      expect((cancelled as Error).message).toMatch(/cancelled by the peer/);
      expect(source.destroyed).toBe(true);
      expect(terminations(wire)).toEqual([
        expect.objectContaining({ from: who === "sender" ? ROMEO : JULIET, condition: "cancel" }),
      ]);
      await expectCleanEnd(romeo, juliet, inbox);
    });
  }

  it("an aborted signal cancels a transfer that is still waiting for an answer", async () => {
    const { romeo, juliet } = await scene();
    const abort = new AbortController();
    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(JULIET, Readable.from([Buffer.from("x")]), {
      name: "x",
      size: 1,
      signal: abort.signal,
    });
    const offer = await offered;
    abort.abort();
    await expect(sending.done).rejects.toMatchObject({ code: "cancelled", by: "local" });
    await until(() => offer.withdrawn);
    const inbox = await tempDir();
    await expect(offer.accept({ dir: inbox })).rejects.toMatchObject({ code: "cancelled", by: "peer" });
    expect(await entries(inbox)).toEqual([]);
  });
});

describe("hostile file names stay inside the target directory", () => {
  const cases: Array<[string, string]> = [
    ["../../etc/passwd", "passwd"],
    ["a/b", "b"],
    ["..\\..\\boot.ini", "boot.ini"],
    ["..", "file"],
    ["", "file"],
    [".hidden", "hidden"],
    ["new\nline\u202etxt.exe", "newlinetxt.exe"],
  ];
  it.each(cases)("%j is stored as %j", async (offered, stored) => {
    const { romeo, juliet } = await scene();
    const inbox = await tempDir();
    const bytes = Buffer.from(`contents of ${JSON.stringify(offered)}`);
    const offers = nextOffer(juliet);
    // A hostile sender does not use our API (which refuses control characters in a name):
    // the name is put into the offer on its way.
    const placeholder = "placeholder.bin";
    router.intercept((stanza) => {
      const name = stanza
        .getChild("jingle", NS.JINGLE)
        ?.getChild("content")
        ?.getChild("description")
        ?.getChild("file")
        ?.getChild("name");
      if (name?.text() === placeholder) name.children = [offered];
      return stanza;
    });
    const sending = await romeo.files.sendFile(JULIET, Readable.from([bytes]), {
      name: placeholder,
      size: bytes.length,
    });
    const offer = await offers;
    expect(offer.file.name).toBe(offered);
    expect(offer.name).toBe(stored);
    const receiving = await offer.accept({ dir: inbox });
    const [, theirs] = await Promise.all([sending.done, receiving.done]);
    expect(theirs.path).toBe(join(inbox, stored));
    expect(await entries(inbox)).toEqual([stored]);
    expect(await readFile(join(inbox, stored))).toEqual(bytes);
  });
});

describe("offers refused before anyone is asked", () => {
  function rawOffer(file: Element, senders: "initiator" | "responder" = "initiator"): ApplicationHandle {
    return {
      namespace: NS.JFT,
      plaintextAllowed: false,
      senders,
      description: () => xml("description", { xmlns: NS.JFT }, file),
      run: async () => {},
    };
  }
  const hash = (algo: string, value = "") => xml("hash", { xmlns: NS.HASHES, algo }, value);
  const used = xml("hash-used", { xmlns: NS.HASHES, algo: "sha-256" });
  const file = (...children: Element[]) => xml("file", {}, xml("name", {}, "x.bin"), ...children);
  const cases: Array<[string, ApplicationHandle, RegExp]> = [
    [
      "a negative size",
      rawOffer(file(xml("size", {}, "-1"), used)),
      /size '-1' is not a non-negative integer/,
    ],
    ["a fractional size", rawOffer(file(xml("size", {}, "12.5"), used)), /size '12.5'/],
    ["no size", rawOffer(file(used)), /does not say the file's size/],
    [
      "bad Base64 in a hash",
      rawOffer(file(xml("size", {}, "3"), hash("sha-256", "not*base64=="))),
      /not valid Base64/,
    ],
    [
      "a hash of the wrong length",
      rawOffer(file(xml("size", {}, "3"), hash("sha-256", Buffer.alloc(20).toString("base64")))),
      /32 octets, not 20/,
    ],
    ["no hash at all", rawOffer(file(xml("size", {}, "3"))), /names no hash algorithm/],
    [
      "only md5",
      rawOffer(file(xml("size", {}, "3"), xml("hash-used", { xmlns: NS.HASHES, algo: "md5" }))),
      /none of its hash algorithms \(md5\)/,
    ],
    ["a bad date", rawOffer(file(xml("size", {}, "3"), xml("date", {}, "yesterday"), used)), /XEP-0082/],
    ["a file request", rawOffer(file(xml("size", {}, "3"), used), "responder"), /file request/],
  ];
  it.each(cases)("%s → failed-application with a clear text", async (_what, application, text) => {
    const { romeo, juliet } = await scene();
    const refused = new Promise<FileTransferError>((resolve) =>
      juliet.files.once("refused", (r) => resolve(r.error)),
    );
    juliet.files.on("offer", () => {
      throw new Error("a bad offer reached the user");
    });
    const session = romeo.manager.initiate(JULIET, {
      application,
      transports: [romeo.transport],
      security: romeo.security,
    });
    const error = await session.done.catch((e: unknown) => e);
    const reason = (error as { reason: Reason }).reason;
    expect(reason.condition).toBe("failed-application");
    expect(reason.text).toMatch(text);
    expect((await refused).code).toBe("bad-offer");
  });

  it("an offer without the XTLS precondition → security-error, never accepted", async () => {
    const { wire, romeo, juliet } = await scene();
    juliet.files.on("offer", () => {
      throw new Error("an offer without XTLS reached the user");
    });
    const transfer = new OutgoingFileTransfer({
      file: { name: "plain.txt", size: 5 },
      source: Readable.from([Buffer.from("clear")]),
    });
    // The attacker's side opts out by name so that it can send the offer at all.
    const session = romeo.manager.initiate(JULIET, {
      application: transfer,
      transports: [romeo.transport],
      insecure: INSECURE_OPT_OUT,
    });
    transfer.attach(session);
    const error = await transfer.done.catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "insecure", by: "peer", reason: { condition: "security-error" } });
    expect(terminations(wire)).toEqual([
      expect.objectContaining({ from: JULIET, condition: "security-error" }),
    ]);
    expect(wire.some((e) => e.stanza.getChild("open", NS.IBB))).toBe(false);
  });
});
