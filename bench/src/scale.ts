/**
 * Scenario 5 — scale on the embedded router: N concurrent tunnels (Jingle + IBB + XTLS
 * with a raw application) between two parties; full setups per second per CPU core, and
 * heap per idle tunnel (both ends; after a full GC) once all N are up.
 */
import { LocalRouter } from "@xtls/core";
import type { JingleSession } from "@xtls/jingle";
import type { BenchContext, Row, ScenarioResult } from "./context.js";
import { acceptRaw, party, RawSession } from "./parties.js";
import { gc, sleep } from "./stats.js";

const ROMEO = "romeo@montague.lit/orchard";
const JULIET = "juliet@capulet.lit/balcony";

export async function scaleScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [200] : [1000, 10_000];
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  for (const n of sizes) {
    const r = await run(n, ctx);
    details[String(n)] = r;
    rows.push({
      scenario: "scale",
      case: `${n} concurrent tunnels: full setups (Jingle + IBB open + TLS 1.3 mutual auth) per CPU-second`,
      metric: "setups/s per core",
      value: r.setupsPerCpuSecond,
      target: "≥ 300 setups/s per core",
      met: r.setupsPerCpuSecond >= 300,
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
    ctx.log(
      `scale: ${n} tunnels: ${r.setupsPerCpuSecond.toFixed(0)} setups/CPU-s, ${r.setupsPerSecond.toFixed(0)} setups/s, ${r.heapPerTunnelKiB.toFixed(1)} KiB heap per idle tunnel`,
    );
  }
  return { name: "scale", title: "Scale on the embedded router", rows, details };
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
  const inFlight = 64;
  let next = 0;
  let up = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const app = new RawSession();
      const session = romeo.manager.initiate(JULIET, {
        application: app,
        transports: [romeo.transport],
        security: romeo.security,
      });
      ours.push({ session, app });
      await app.stream;
      if (++up % 1000 === 0) ctx.log(`scale: ${up}/${n} up`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
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
