// Throughput of SOCKS5 Bytestreams on this machine: raw XEP-0065 and Jingle + XTLS, over
// a direct candidate on loopback and through Prosody's proxy65. Prints a table and writes
// test-results/bench-throughput.json. MIB (default 256) per run, RUNS (default 3) runs per case, median.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import type { Duplex } from "node:stream";
import { fromXmppClient, LocalRouter, type XmppLink } from "@xtls/core";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { afterAll, it } from "vitest";
import { Socks5Bytestreams, type Socks5BytestreamsOptions } from "../src/index.js";
import { cleanUp, JULIET, ROMEO } from "../test/helpers.js";
import { partyOn, transfer } from "../test/jingle-helpers.js";

const MIB = Number(process.env.MIB ?? 256);
const RUNS = Number(process.env.RUNS ?? 3);
const SIZE = MIB * 1024 * 1024;
const clients: XmppClient[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

async function prosodyLinks(): Promise<[XmppLink, XmppLink]> {
  const [r, j] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit" }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
  ]);
  clients.push(r, j);
  return [fromXmppClient(r), fromXmppClient(j)];
}

function routerLinks(): [XmppLink, XmppLink, () => void] {
  const router = new LocalRouter();
  return [router.createLink(ROMEO), router.createLink(JULIET), () => router.close()];
}

/** Seconds to move SIZE octets one way over a raw XEP-0065 bytestream (no hashing). */
async function rawRun(links: [XmppLink, XmppLink], options: Socks5BytestreamsOptions, direct: boolean) {
  const [a, b] = links;
  const romeo = new Socks5Bytestreams(a, options);
  const juliet = new Socks5Bytestreams(b, { ...options, accept: () => true });
  try {
    const incoming = new Promise<Duplex>((resolve) => juliet.once("stream", resolve));
    const ours = await romeo.open(b.jid, { direct, proxies: !direct });
    const theirs = await incoming;
    const block = randomBytes(1024 * 1024);
    const t0 = performance.now();
    let got = 0;
    const done = new Promise<void>((resolve, reject) => {
      theirs.on("data", (c: Buffer) => {
        got += c.length;
      });
      theirs.once("end", () => resolve());
      theirs.once("error", reject);
    });
    for (let sent = 0; sent < SIZE; sent += block.length) {
      if (!ours.write(block)) await once(ours, "drain");
    }
    ours.end();
    await done;
    const seconds = (performance.now() - t0) / 1000;
    if (got !== SIZE) throw new Error(`received ${got} of ${SIZE}`);
    return seconds;
  } finally {
    await Promise.allSettled([romeo.close(), juliet.close()]);
  }
}

/** Seconds for a Jingle + XTLS session to carry SIZE octets (SHA-256 on both sides, as the tests do). */
async function xtlsRun(links: [XmppLink, XmppLink], options: Socks5BytestreamsOptions) {
  const [a, b] = links;
  const romeo = await partyOn(a, { pins: [b.jid], socks5: options });
  const juliet = await partyOn(b, { pins: [a.jid], socks5: options });
  try {
    const t0 = performance.now();
    const t = await transfer(romeo, juliet, SIZE, [romeo.s5b]);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    const seconds = (performance.now() - t0) / 1000;
    if (sent.sha256 !== received.sha256) throw new Error("SHA-256 mismatch");
    await t.session.done;
    return seconds;
  } finally {
    await cleanUp();
  }
}

it("throughput", async () => {
  const cases: Array<[string, () => Promise<number>]> = [
    [
      "XEP-0065 direct (loopback), raw",
      async () => {
        const [a, b, close] = routerLinks();
        try {
          return await rawRun([a, b], { proxies: false }, true);
        } finally {
          close();
        }
      },
    ],
    [
      "XEP-0065 via Prosody proxy65, raw",
      async () => rawRun(await prosodyLinks(), { streamhost: false }, false),
    ],
    [
      "Jingle+XTLS over S5B direct (loopback)",
      async () => {
        const [a, b, close] = routerLinks();
        try {
          return await xtlsRun([a, b], { proxies: false });
        } finally {
          close();
        }
      },
    ],
    [
      "Jingle+XTLS over S5B via Prosody proxy65",
      async () => xtlsRun(await prosodyLinks(), { streamhost: false, proxies: "discover" }),
    ],
  ];
  const rows: Array<{ case: string; mib: number; mbps: number[]; median: number }> = [];
  for (const [name, run] of cases) {
    const mbps: number[] = [];
    for (let i = 0; i < RUNS; i++) mbps.push(SIZE / (await run()) / 1e6);
    const median = [...mbps].sort((x, y) => x - y)[Math.floor(mbps.length / 2)]!;
    rows.push({ case: name, mib: MIB, mbps: mbps.map((v) => Math.round(v)), median: Math.round(median) });
  }
  const table = [
    `| case | MiB | MB/s (median of ${RUNS}) | runs |`,
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.case} | ${r.mib} | ${r.median} | ${r.mbps.join(", ")} |`),
  ].join("\n");
  console.log(`\n${table}\n`);
  writeFileSync(
    new URL("../test-results/bench-throughput.json", import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, rows }, null, 2)}\n`,
  );
});
