/**
 * Scenarios 1 and 2 — bulk over SOCKS5:
 * 1. direct on loopback: the XTLS tunnel (Jingle + S5B direct candidate + TLS 1.3 with
 *    mutual authentication) against Node's TLS 1.3 over a plain TCP connection and against
 *    raw TCP, all in this process;
 * 2. through Prosody's proxy65: XTLS over the proxy against raw XEP-0065 through the same
 *    proxy.
 */
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { LocalRouter } from "@xtls/core";
import type { S5bStream } from "@xtls/socks5";
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

const ROMEO = "romeo@montague.lit/orchard";
const JULIET = "juliet@capulet.lit/balcony";

export async function s5bScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const runs = ctx.quick ? 3 : 5;
  const direct = ctx.quick ? 32 * MiB : 256 * MiB;
  const data = payload(direct);

  // 1. direct, on the embedded router (signalling only; bytes over loopback TCP)
  const router = new LocalRouter();
  const native = { proxies: false as const, nativeSocket: true };
  const romeo = await party(router.createLink(ROMEO), { pins: [JULIET], socks5: native });
  const juliet = await party(router.createLink(JULIET), { pins: [ROMEO], socks5: native });
  const apps: RawSession[] = [];
  acceptRaw(juliet, ({ app }) => apps.push(app));
  const wrapped = new LocalRouter();
  const wromeo = await party(wrapped.createLink(ROMEO), { pins: [JULIET], socks5: { proxies: false } });
  const wjuliet = await party(wrapped.createLink(JULIET), { pins: [ROMEO], socks5: { proxies: false } });
  const wapps: RawSession[] = [];
  acceptRaw(wjuliet, ({ app }) => wapps.push(app));
  const raw: number[] = [];
  const tlsTcp: number[] = [];
  const xtls: number[] = [];
  const xtlsWrapped: number[] = [];
  // Interleaved, so a slow phase of the machine hits all alike.
  for (let i = 0; i < runs; i++) {
    raw.push(await rawTcp(data));
    tlsTcp.push(await tlsOverTcp(data));
    xtls.push(await xtlsTunnel(romeo, JULIET, apps, data));
    xtlsWrapped.push(await xtlsTunnel(wromeo, JULIET, wapps, data));
  }
  router.close();
  wrapped.close();
  await Promise.allSettled([romeo, juliet, wromeo, wjuliet].map((p) => p.socks5?.close()));
  const r = summarize(raw);
  const t = summarize(tlsTcp);
  const x = summarize(xtls);
  const w = summarize(xtlsWrapped);
  ctx.log(
    `s5b: raw TCP ${r.median.toFixed(0)} MB/s, TLS over TCP ${t.median.toFixed(0)} MB/s, XTLS over S5B ${x.median.toFixed(0)} MB/s (TLS on the bare socket), ${w.median.toFixed(0)} MB/s (S5bStream wrapper)`,
  );
  rows.push(
    {
      scenario: "s5b",
      case: "raw TCP on loopback",
      metric: "MB/s",
      value: r.median,
      spreadPct: r.spreadPct,
      runs,
    },
    {
      scenario: "s5b",
      case: "Node TLS 1.3 over TCP on loopback",
      metric: "MB/s",
      value: t.median,
      spreadPct: t.spreadPct,
      runs,
    },
    {
      scenario: "s5b",
      case: "XTLS tunnel: Jingle + SOCKS5 direct + TLS 1.3 (mutual auth), TLS on the bare socket (nativeSocket)",
      metric: "MB/s",
      value: x.median,
      spreadPct: x.spreadPct,
      runs,
      baseline: { name: "Node TLS 1.3 over TCP", value: t.median },
      ratio: x.median / t.median,
      target: "≥ 0.9× TLS over TCP",
      met: x.median / t.median >= 0.9,
    },
    {
      scenario: "s5b",
      case: "the same through the S5bStream wrapper (S5bTransport's default: typed errors, byte counters)",
      metric: "MB/s",
      value: w.median,
      spreadPct: w.spreadPct,
      runs,
      baseline: { name: "Node TLS 1.3 over TCP", value: t.median },
      ratio: w.median / t.median,
    },
  );

  // 2. through Prosody's proxy65
  const { romeo: rl, juliet: jl, close } = await ctx.prosodyPair();
  try {
    const viaProxy = { proxies: "discover" as const, streamhost: false as const, direct: false };
    const pr = await party(rl, { pins: [jl.jid], socks5: viaProxy });
    const pj = await party(jl, { pins: [rl.jid], socks5: { ...viaProxy, accept: () => true } });
    const papps: RawSession[] = [];
    acceptRaw(pj, ({ app }) => papps.push(app));
    const rawStreams: S5bStream[] = [];
    pj.socks5!.on("stream", (s) => rawStreams.push(s));
    const size = ctx.quick ? 16 * MiB : 64 * MiB;
    const pdata = payload(size);
    const rawProxy: number[] = [];
    const xtlsProxy: number[] = [];
    for (let i = 0; i < runs; i++) {
      rawProxy.push(await rawXep0065(pr, jl.jid, rawStreams, pdata));
      xtlsProxy.push(await xtlsTunnel(pr, jl.jid, papps, pdata));
    }
    await Promise.allSettled([pr.socks5?.close(), pj.socks5?.close()]);
    const rp = summarize(rawProxy);
    const xp = summarize(xtlsProxy);
    ctx.log(`s5b: raw proxy65 ${rp.median.toFixed(0)} MB/s, XTLS over proxy65 ${xp.median.toFixed(0)} MB/s`);
    rows.push(
      {
        scenario: "s5b",
        case: "raw XEP-0065 through Prosody proxy65",
        metric: "MB/s",
        value: rp.median,
        spreadPct: rp.spreadPct,
        runs,
      },
      {
        scenario: "s5b",
        case: "XTLS tunnel through Prosody proxy65",
        metric: "MB/s",
        value: xp.median,
        spreadPct: xp.spreadPct,
        runs,
        baseline: { name: "raw proxy65", value: rp.median },
        ratio: xp.median / rp.median,
        target: "≥ 0.9× raw proxy65",
        met: xp.median / rp.median >= 0.9,
      },
    );
  } finally {
    await close();
  }
  return { name: "s5b", title: "SOCKS5 bulk", rows, details: { directBytes: direct, runs } };
}

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = once(server, "connection");
  const client = connect({
    port: (server.address() as { port: number }).port,
    host: "127.0.0.1",
    allowHalfOpen: true,
  });
  const [srv] = (await accepted) as [Socket];
  await once(client, "connect");
  server.close();
  return [client, srv];
}

async function pump(from: Duplex, to: Duplex, data: Buffer): Promise<number> {
  const t0 = performance.now();
  const received = readBytes(to, data.length);
  await writeAll(from, data);
  await received;
  return mbps(data.length, performance.now() - t0);
}

async function rawTcp(data: Buffer): Promise<number> {
  const [a, b] = await socketPair();
  const result = await pump(a, b, data);
  a.destroy();
  b.destroy();
  return result;
}

async function tlsOverTcp(data: Buffer): Promise<number> {
  const id = identityOf("romeo@montague.lit");
  const peer = identityOf("juliet@capulet.lit");
  const [a, b] = await socketPair();
  const server = tls.createServer({
    cert: peer.certificatePem,
    key: peer.privateKeyPem,
    minVersion: "TLSv1.3",
    requestCert: true,
    rejectUnauthorized: false,
  });
  const serverSide = new Promise<tls.TLSSocket>((r) => server.once("secureConnection", r));
  server.emit("connection", b);
  const client = tls.connect({
    socket: a,
    cert: id.certificatePem,
    key: id.privateKeyPem,
    rejectUnauthorized: false,
    minVersion: "TLSv1.3",
  });
  await once(client, "secureConnect");
  const s = await serverSide;
  const result = await pump(client, s, data);
  client.destroy();
  s.destroy();
  return result;
}

async function xtlsTunnel(from: Party, to: string, apps: RawSession[], data: Buffer): Promise<number> {
  const app = new RawSession();
  const before = apps.length;
  const session = from.manager.initiate(to, {
    application: app,
    transports: [from.s5b!],
    security: from.security,
  });
  const ours = await app.stream;
  while (apps.length === before) await new Promise((r) => setImmediate(r));
  const theirApp = apps[apps.length - 1]!;
  const theirs = await theirApp.stream;
  const result = await pump(ours, theirs, data);
  theirs.resume();
  app.finish();
  theirApp.finish();
  await session.done;
  return result;
}

async function rawXep0065(from: Party, to: string, incoming: S5bStream[], data: Buffer): Promise<number> {
  const before = incoming.length;
  const ours = await from.socks5!.open(to, { direct: false });
  while (incoming.length === before) await new Promise((r) => setImmediate(r));
  const theirs = incoming[incoming.length - 1]!;
  const result = await pump(ours, theirs, data);
  ours.destroy();
  theirs.destroy();
  return result;
}
