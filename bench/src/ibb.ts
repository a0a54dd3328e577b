/**
 * Scenario 3 — IBB through Prosody: XTLS over IBB vs plain IBB at the same block size
 * and window, windowed IBB vs stop-and-wait, and Prosody's own IQ ceiling measured raw
 * (IQ-sets of the same size, answered by an empty handler) in the same run.
 */
import { randomBytes } from "node:crypto";
import { type XmppLink, xml } from "@xtls/core";
import { type IbbStream, IbbTransport } from "@xtls/ibb";
import type { BenchContext, Row, ScenarioResult } from "./context.js";
import {
  acceptRaw,
  identityOf,
  type Party,
  party,
  payload,
  RawSession,
  readBytes,
  writeAll,
} from "./parties.js";
import { MiB, mbps, summarize } from "./stats.js";

const NS_SINK = "urn:xtls:bench:sink:0";

interface Config {
  readonly block: number;
  readonly window: number;
}

export async function ibbScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { romeo: rl, juliet: jl, close } = await ctx.prosodyPair();
  try {
    const romeo = await party(rl, { pins: [jl.jid], blockSize: 16384 });
    const juliet = await party(jl, { pins: [rl.jid], blockSize: 16384 });
    const responderApps: RawSession[] = [];
    acceptRaw(juliet, ({ app }) => responderApps.push(app));
    const plainStreams: IbbStream[] = [];
    juliet.ibb.on("stream", (s) => plainStreams.push(s));
    jl.handle("set", NS_SINK, "blob", () => undefined);
    void identityOf;

    const bytes = ctx.quick ? MiB / 2 : 4 * MiB;
    const runs = ctx.quick ? 3 : 5;
    const configs: Config[] = ctx.quick
      ? [
          { block: 4096, window: 1 },
          { block: 4096, window: 8 },
          { block: 4096, window: 32 },
          { block: 16384, window: 8 },
        ]
      : [4096, 16384].flatMap((block) => [1, 8, 32].map((window) => ({ block, window })));
    const data = payload(bytes);
    const rows: Row[] = [];
    const results = new Map<string, { plain: number; xtls: number }>();

    for (const block of [...new Set(configs.map((c) => c.block))]) {
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) samples.push(await rawIqs(rl, jl.jid, block, 32, bytes));
      const s = summarize(samples);
      ctx.log(`ibb: raw IQ ceiling, block ${block}, 32 in flight: ${s.median.toFixed(2)} MB/s`);
      rows.push({
        scenario: "ibb",
        case: `Prosody IQ ceiling (raw IQ-sets of ${block} B as Base64, 32 in flight)`,
        metric: "MB/s",
        value: s.median,
        spreadPct: s.spreadPct,
        runs: s.runs,
      });
    }

    for (const c of configs) {
      const plain: number[] = [];
      const xtls: number[] = [];
      // Interleaved, so a slow phase of the machine hits both alike.
      for (let i = 0; i < runs; i++) {
        plain.push(await plainIbb(romeo, juliet, plainStreams, c, data));
        xtls.push(await xtlsIbb(romeo, jl.jid, responderApps, c, data));
      }
      const p = summarize(plain);
      const x = summarize(xtls);
      results.set(`${c.block}/${c.window}`, { plain: p.median, xtls: x.median });
      ctx.log(
        `ibb: block ${c.block}, window ${c.window}: plain ${p.median.toFixed(2)} MB/s, XTLS ${x.median.toFixed(2)} MB/s`,
      );
      rows.push({
        scenario: "ibb",
        case: `plain IBB, block ${c.block}, window ${c.window}`,
        metric: "MB/s",
        value: p.median,
        spreadPct: p.spreadPct,
        runs: p.runs,
      });
      rows.push({
        scenario: "ibb",
        case: `XTLS over IBB, block ${c.block}, window ${c.window}`,
        metric: "MB/s",
        value: x.median,
        spreadPct: x.spreadPct,
        runs: x.runs,
        baseline: { name: "plain IBB, same block and window", value: p.median },
        ratio: x.median / p.median,
        target: "≥ 0.9× plain IBB",
        met: x.median / p.median >= 0.9,
      });
    }
    for (const block of [4096, 16384]) {
      const sw = results.get(`${block}/1`);
      const w8 = results.get(`${block}/8`);
      if (!sw || !w8) continue;
      rows.push({
        scenario: "ibb",
        case: `plain IBB, block ${block}: window 8 vs stop-and-wait`,
        metric: "MB/s",
        value: w8.plain,
        baseline: { name: "window 1 (stop-and-wait)", value: sw.plain },
        ratio: w8.plain / sw.plain,
        target: "≥ 2× stop-and-wait",
        met: w8.plain / sw.plain >= 2,
      });
    }
    await Promise.allSettled([romeo.ibb.close(), juliet.ibb.close()]);
    return { name: "ibb", title: "IBB through Prosody", rows, details: { bytesPerRun: bytes, runs } };
  } finally {
    await close();
  }
}

async function rawIqs(
  from: XmppLink,
  to: string,
  block: number,
  window: number,
  total: number,
): Promise<number> {
  const count = Math.ceil(total / block);
  const chunk = randomBytes(block).toString("base64");
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      await from.request(xml("iq", { type: "set", to }, xml("blob", { xmlns: NS_SINK }, chunk)));
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return mbps(count * block, performance.now() - t0);
}

async function plainIbb(
  romeo: Party,
  juliet: Party,
  incoming: IbbStream[],
  c: Config,
  data: Buffer,
): Promise<number> {
  void juliet;
  const before = incoming.length;
  const stream = await romeo.ibb.open(juliet.link.jid, { blockSize: c.block, window: c.window });
  while (incoming.length === before) await new Promise((r) => setImmediate(r));
  const theirs = incoming[incoming.length - 1]!;
  const t0 = performance.now();
  const received = readBytes(theirs, data.length);
  await writeAll(stream, data);
  await received;
  const ms = performance.now() - t0;
  await stream.close();
  theirs.resume();
  return mbps(data.length, ms);
}

async function xtlsIbb(
  romeo: Party,
  to: string,
  apps: RawSession[],
  c: Config,
  data: Buffer,
): Promise<number> {
  const transport = new IbbTransport({ ibb: romeo.ibb, blockSize: c.block, window: c.window });
  const app = new RawSession();
  const before = apps.length;
  const session = romeo.manager.initiate(to, {
    application: app,
    transports: [transport],
    security: romeo.security,
  });
  const ours = await app.stream;
  while (apps.length === before) await new Promise((r) => setImmediate(r));
  const theirApp = apps[apps.length - 1]!;
  const theirs = await theirApp.stream;
  const t0 = performance.now();
  const received = readBytes(theirs, data.length);
  await writeAll(ours, data);
  await received;
  const ms = performance.now() - t0;
  theirs.resume();
  app.finish();
  theirApp.finish();
  await session.done;
  return mbps(data.length, ms);
}
