/**
 * Scenario 5 — scale on the embedded router: N concurrent tunnels (Jingle + IBB + XTLS
 * with a raw application) between two parties; full setups per second per CPU core, and
 * heap per idle tunnel (both ends; after a full GC) once all N are up.
 */
import tls from "node:tls";
import { duplexPair, LocalRouter } from "@xtls/core";
import type { JingleSession } from "@xtls/jingle";
import type { BenchContext, Row, ScenarioResult } from "./context.js";
import { acceptRaw, identityOf, party, RawSession } from "./parties.js";
import { gc, type Summary, sleep, summarize } from "./stats.js";

const ROMEO = "romeo@montague.lit/orchard";
const JULIET = "juliet@capulet.lit/balcony";

export async function scaleScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [200] : [1000, 10_000];
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  // The tunnels first: heap per idle tunnel is measured against a heap the baselines
  // have not touched yet.
  const measured: [number, Awaited<ReturnType<typeof run>>][] = [];
  for (const n of sizes) {
    const r = await run(n, ctx);
    details[String(n)] = r;
    measured.push([n, r]);
    ctx.log(
      `scale: ${n} tunnels: ${r.setupsPerCpuSecondRuns.median.toFixed(0)} setups/CPU-s (median of ${RUNS} rounds), ${r.setupsPerSecond.toFixed(0)} setups/s, ${r.heapPerTunnelKiB.toFixed(1)} KiB heap per idle tunnel`,
    );
  }
  // Baselines, same run: what the TLS handshakes alone cost, without any XMPP. The
  // tunnels' garbage is collected first, so that its GC is not billed to the baselines.
  gc();
  await sleep(200);
  gc();
  const handshakes = ctx.quick ? 300 : 2000;
  const nodeTls = await rawTlsHandshakes(handshakes);
  const engine = await engineHandshakes(handshakes);
  details.baselines = { nodeTls, engine };
  ctx.log(
    `scale: TLS handshakes alone ${nodeTls.median.toFixed(0)}/CPU-s, through NodeTlsEngine ${engine.median.toFixed(0)}/CPU-s`,
  );
  rows.push({
    scenario: "scale",
    case: `baseline: Node TLS 1.3 handshakes alone (mutual ECDSA P-256 certificates, in-memory carriers, ${handshakes}), per CPU-second`,
    metric: "handshakes/s per core",
    value: nodeTls.median,
    spreadPct: nodeTls.spreadPct,
    runs: nodeTls.runs,
  });
  rows.push({
    scenario: "scale",
    case: "baseline: the same through NodeTlsEngine (fingerprint, XmppAddr and trust checks, deadlines), no XMPP",
    metric: "handshakes/s per core",
    value: engine.median,
    spreadPct: engine.spreadPct,
    runs: engine.runs,
    baseline: { name: "Node TLS alone", value: nodeTls.median },
    ratio: engine.median / nodeTls.median,
  });
  for (const [n, r] of measured) {
    rows.push({
      scenario: "scale",
      case: `${n} concurrent tunnels: full setups (Jingle + IBB open + TLS 1.3 mutual auth) per CPU-second`,
      metric: "setups/s per core",
      value: r.setupsPerCpuSecondRuns.median,
      spreadPct: r.setupsPerCpuSecondRuns.spreadPct,
      runs: r.setupsPerCpuSecondRuns.runs,
      baseline: { name: "Node TLS handshakes alone", value: nodeTls.median },
      ratio: r.setupsPerCpuSecondRuns.median / nodeTls.median,
      target: "≥ 300 setups/s per core",
      met: r.setupsPerCpuSecondRuns.median >= 300,
    });
    rows.push({
      scenario: "scale",
      case: `${n} concurrent tunnels: wall-clock setups per second (one Node process)`,
      metric: "setups/s",
      value: r.setupsPerSecond,
    });
    rows.push({
      scenario: "scale",
      case: `${n} idle tunnels: heap per tunnel (both ends)`,
      metric: "KiB",
      value: r.heapPerTunnelKiB,
      target: "≤ 64 KiB per idle tunnel",
      met: r.heapPerTunnelKiB <= 64,
    });
  }
  return { name: "scale", title: "Scale on the embedded router", rows, details };
}

const R = "romeo@montague.lit/orchard";
const J = "juliet@capulet.lit/balcony";
/** Each rate is measured in this many consecutive rounds: median and spread over them. */
const RUNS = 5;

/**
 * Runs `total` operations, `parallel` at a time, in {@link RUNS} consecutive rounds of
 * `total / RUNS` (a round starts when the previous one is done); returns the operations per
 * CPU-second of each round, summarised.
 */
async function roundsPerCpuSecond(
  total: number,
  parallel: number,
  one: () => Promise<void>,
): Promise<Summary> {
  const per = Math.max(1, Math.floor(total / RUNS));
  const rates: number[] = [];
  for (let round = 0; round < RUNS; round++) {
    const cpu0 = process.cpuUsage();
    let next = 0;
    const worker = async () => {
      while (next < per) {
        next++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, per) }, worker));
    const cpu = process.cpuUsage(cpu0);
    rates.push(per / ((cpu.user + cpu.system) / 1e6));
  }
  return summarize(rates);
}

/** Handshakes per CPU-second of `one`, 64 at a time, after a warm-up of 100. */
async function perCpuSecond(n: number, one: () => Promise<() => void>): Promise<Summary> {
  const closers: (() => void)[] = [];
  const each = async () => {
    closers.push(await one());
  };
  await roundsPerCpuSecond(100, 64, each);
  const rates = await roundsPerCpuSecond(n, 64, each);
  for (const close of closers) close();
  await sleep(50);
  return rates;
}

/** Node's TLS alone: the same certificates and options, one server context, no checks. */
function rawTlsHandshakes(n: number): Promise<Summary> {
  const romeo = identityOf(R);
  const juliet = identityOf(J);
  const clientContext = tls.createSecureContext({
    key: romeo.privateKeyPem,
    cert: romeo.certificatePem,
    minVersion: "TLSv1.3",
  });
  const serverContext = tls.createSecureContext({
    key: juliet.privateKeyPem,
    cert: juliet.certificatePem,
    minVersion: "TLSv1.3",
  });
  return perCpuSecond(n, async () => {
    const [a, b] = duplexPair();
    const client = tls.connect({
      socket: a,
      secureContext: clientContext,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    // A bare server socket is enough here (no error handling to get right).
    const server = new tls.TLSSocket(b, {
      isServer: true,
      secureContext: serverContext,
      requestCert: true,
      rejectUnauthorized: false,
    });
    const serverSide = new Promise<void>((resolve) => {
      server.once("secure", () => {
        server.getPeerX509Certificate();
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      client.once("secureConnect", () => {
        client.getPeerX509Certificate();
        resolve();
      });
      client.once("error", reject);
    });
    await serverSide;
    return () => {
      client.destroy();
      server.destroy();
    };
  });
}

async function run(n: number, ctx: BenchContext) {
  const router = new LocalRouter();
  const romeo = await party(router.createLink(ROMEO), { pins: [JULIET] });
  const juliet = await party(router.createLink(JULIET), { pins: [ROMEO] });
  const theirs: RawSession[] = [];
  acceptRaw(juliet, ({ app }) => theirs.push(app));
  const ours: { session: JingleSession; app: RawSession }[] = [];
  gc();
  await sleep(50);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let up = 0;
  const rates = await roundsPerCpuSecond(n, 64, async () => {
    const app = new RawSession();
    const session = romeo.manager.initiate(JULIET, {
      application: app,
      transports: [romeo.transport],
      security: romeo.security,
    });
    ours.push({ session, app });
    await app.stream;
    if (++up % 1000 === 0) ctx.log(`scale: ${up}/${n} up`);
  });
  await Promise.all(theirs.map((a) => a.stream));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await sleep(200);
  gc();
  await sleep(50);
  gc();
  const heap1 = process.memoryUsage().heapUsed;
  const result = {
    tunnels: n,
    setupMs: ms,
    cpuSeconds,
    setupsPerSecond: n / (ms / 1000),
    setupsPerCpuSecond: n / cpuSeconds,
    setupsPerCpuSecondRuns: rates,
    heapBeforeMiB: heap0 / 2 ** 20,
    heapAfterMiB: heap1 / 2 ** 20,
    heapPerTunnelKiB: (heap1 - heap0) / n / 1024,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
  router.close();
  for (const { app } of ours) app.finish();
  for (const a of theirs) a.finish();
  await sleep(100);
  return result;
}

/** The same handshakes through NodeTlsEngine.secure (what a tunnel runs), no XMPP. */
async function engineHandshakes(n: number): Promise<Summary> {
  const romeo = await party(new LocalRouter().createLink(R), { pins: [J] });
  const juliet = await party(new LocalRouter().createLink(J), { pins: [R] });
  return perCpuSecond(n, async () => {
    const [a, b] = duplexPair();
    const [mine, theirs] = await Promise.all([
      romeo.engine.secure(a, { role: "initiator", localJid: R, peerJid: J }),
      juliet.engine.secure(b, { role: "responder", localJid: J, peerJid: R }),
    ]);
    return () => {
      mine.stream.destroy();
      theirs.stream.destroy();
    };
  });
}
