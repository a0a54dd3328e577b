// The server dies under us: Prosody killed (SIGKILL) mid-transfer and mid-handshake.
// Both sides must report a typed error within the configured timeouts, no file may be
// left under its final name (nor a partial one), and no socket or timer may leak.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createXtls, type Xtls } from "@xtls/client";
import { XtlsError } from "@xtls/core";
import {
  connectXmppClient,
  prosodyStatus,
  startProsody,
  stopProsody,
  type XmppClient,
} from "@xtls/test-servers";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

let dir: string;
let clients: XmppClient[] = [];
let parties: Xtls[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "xtls-faults-"));
});
afterAll(async () => {
  await stopProsody();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await startProsody();
});
afterEach(async () => {
  await Promise.allSettled(parties.map((p) => p.close()));
  await Promise.allSettled(clients.map((c) => c.stop()));
  parties = [];
  clients = [];
});

/** Romeo and Juliet, pinned to each other, in-band bytestreams only (all bytes through the server). */
async function pair(tag: string): Promise<[Xtls, Xtls]> {
  const [r, j] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit", service: `xmpp://127.0.0.1:17222` }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit", service: `xmpp://127.0.0.1:17222` }),
  ]);
  clients.push(r, j);
  const romeo = await createXtls(r, { dir: join(dir, tag, "romeo"), socks5: false });
  const juliet = await createXtls(j, { dir: join(dir, tag, "juliet"), socks5: false });
  await romeo.trustStore.pin("juliet@capulet.lit", juliet.fingerprint, { method: "manual" });
  await juliet.trustStore.pin("romeo@montague.lit", romeo.fingerprint, { method: "manual" });
  parties.push(romeo, juliet);
  return [romeo, juliet];
}

function kill(): void {
  const { pid } = prosodyStatus();
  if (pid) process.kill(pid, "SIGKILL");
}

/** Sockets and timers alive, by kind (process.getActiveResourcesInfo). */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function settled<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; ms: number }> {
  const t0 = Date.now();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no outcome within ${ms} ms`)), ms).unref(),
  );
  try {
    return { value: await Promise.race([p, timeout]), ms: Date.now() - t0 };
  } catch (error) {
    return { error, ms: Date.now() - t0 };
  }
}

describe("Prosody killed", () => {
  it("mid-transfer: both sides get a typed error quickly, nothing is left in the inbox, no socket or timer leaks", async () => {
    const before = resources();
    const [romeo, juliet] = await pair("transfer");
    const inbox = join(dir, "inbox-transfer");
    await mkdir(inbox, { recursive: true });
    const file = join(dir, "big.bin");
    await writeFile(file, randomBytes(16 * 1024 * 1024));
    let killed = false;
    const received = new Promise<unknown>((resolve) => {
      juliet.on("file", (offer) => {
        offer
          .accept({ dir: inbox })
          .then((t) => {
            t.on("progress", ({ bytes }) => {
              if (!killed && bytes > 512 * 1024) {
                killed = true;
                kill();
              }
            });
            return t.done;
          })
          .then(resolve, resolve);
      });
    });
    const sent = romeo.sendFile("juliet@capulet.lit/" + jidResource(juliet), file).then((t) => t.done);
    const [atRomeo, atJuliet] = await Promise.all([settled(sent, 20_000), settled(received, 20_000)]);
    expect(killed).toBe(true);
    for (const outcome of [atRomeo, atJuliet]) {
      const error = outcome.error ?? outcome.value;
      expect(error).toBeInstanceOf(XtlsError); // typed, not a bare Error or a clean end
      expect(outcome.ms).toBeLessThan(15_000);
    }
    expect(await readdir(inbox)).toEqual([]); // neither big.bin nor a partial file
    await Promise.allSettled([romeo.close(), juliet.close()]);
    await Promise.allSettled(clients.map((c) => c.stop()));
    await expectNoLeaks(before);
  });

  it("mid-handshake: openChat and the responder both fail with a typed error within the timeout", async () => {
    const before = resources();
    const [romeo, juliet] = await pair("handshake");
    const responder = new Promise<unknown>((resolve) => {
      juliet.jingle.once("incoming", ({ session }) => {
        session.once("phase", (phase) => {
          if (phase === "connecting") kill(); // accepted; the transport and TLS are next
        });
        session.done.then(resolve, resolve);
      });
    });
    juliet.on("chat", (incoming) => void incoming.accept().catch(() => {}));
    const [atRomeo, atJuliet] = await Promise.all([
      settled(romeo.openChat("juliet@capulet.lit/" + jidResource(juliet)), 20_000),
      settled(responder, 20_000),
    ]);
    expect(atRomeo.error).toBeInstanceOf(XtlsError);
    expect(atJuliet.value ?? atJuliet.error).toBeInstanceOf(XtlsError);
    expect(Math.max(atRomeo.ms, atJuliet.ms)).toBeLessThan(15_000);
    await Promise.allSettled([romeo.close(), juliet.close()]);
    await Promise.allSettled(clients.map((c) => c.stop()));
    await expectNoLeaks(before);
  });
});

function jidResource(x: Xtls): string {
  return x.link.jid.split("/")[1]!;
}

// Every TCP socket and timer the test opened is gone once everything is closed.
async function expectNoLeaks(before: Record<string, number>): Promise<void> {
  let after = resources();
  for (let i = 0; i < 100; i++) {
    after = resources();
    if (
      (after.TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0) &&
      (after.Timeout ?? 0) <= (before.Timeout ?? 0) + 1
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual(before.TCPSocketWrap ?? 0);
  expect(after.TCPServerWrap ?? 0).toBeLessThanOrEqual(before.TCPServerWrap ?? 0);
  // One timer of slack: vitest's own.
  expect(after.Timeout ?? 0).toBeLessThanOrEqual((before.Timeout ?? 0) + 1);
}
