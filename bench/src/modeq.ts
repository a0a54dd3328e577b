/**
 * Scenario 6 — Mode Q vs Jingle/IBB through the same Prosody, same chunk/block size and
 * window: message stanzas through the IQ-based tunnel vs through an end-to-end XML
 * stream over a Jingle + XTLS + IBB session.
 */
import { randomBytes } from "node:crypto";
import { type Element, xml } from "@xtls/core";
import { IbbTransport } from "@xtls/ibb";
import { type IqTunnel, IqTunnelService } from "@xtls/iq-tunnel";
import { NodeTlsEngine } from "@xtls/tls";
import { XmlStreamSession } from "@xtls/xmlstream";
import type { BenchContext, Row, ScenarioResult } from "./context.js";
import { party } from "./parties.js";
import { MiB, mbps, summarize } from "./stats.js";

const BLOCK = 4096;
const WINDOW = 8;

export async function modeQScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { romeo: rl, juliet: jl, close } = await ctx.prosodyPair();
  try {
    const romeo = await party(rl, { pins: [jl.jid], blockSize: BLOCK, window: WINDOW });
    const juliet = await party(jl, { pins: [rl.jid], blockSize: BLOCK, window: WINDOW });
    const qRomeo = new IqTunnelService(rl, {
      engine: new NodeTlsEngine({ identity: romeo.engine.identity, trustStore: romeo.engine.trustStore }),
      chunkSize: BLOCK,
      window: WINDOW,
    });
    const qJuliet = new IqTunnelService(jl, {
      engine: new NodeTlsEngine({ identity: juliet.engine.identity, trustStore: juliet.engine.trustStore }),
      chunkSize: BLOCK,
      window: WINDOW,
    });
    const total = ctx.quick ? MiB : 4 * MiB;
    const runs = ctx.quick ? 3 : 5;
    const bodyBytes = 8 * 1024;
    const count = Math.ceil(total / bodyBytes);
    const body = randomBytes((bodyBytes * 3) / 4).toString("base64");
    const q: number[] = [];
    const j: number[] = [];
    for (let i = 0; i < runs; i++) {
      // Mode Q
      {
        const incoming = new Promise<IqTunnel>((resolve) => qJuliet.once("tunnel", resolve));
        const ours = await qRomeo.open(jl.jid);
        const theirs = await incoming;
        q.push(
          await pump(
            (s) => ours.send(s),
            (l) => theirs.on("stanza", l),
            count,
            body,
          ),
        );
        await ours.close();
      }
      // Jingle + XTLS + IBB + XML stream
      {
        const transport = new IbbTransport({ ibb: romeo.ibb, blockSize: BLOCK, window: WINDOW });
        const app = new XmlStreamSession();
        const accepted = new Promise<XmlStreamSession>((resolve) =>
          juliet.manager.once("incoming", (incoming) => {
            const theirApp = new XmlStreamSession();
            void incoming.session.accept({ application: theirApp });
            resolve(theirApp);
          }),
        );
        const session = romeo.manager.initiate(jl.jid, {
          application: app,
          transports: [transport],
          security: romeo.security,
        });
        const ours = await app.stream;
        const theirs = await (await accepted).stream;
        j.push(
          await pump(
            (s) => ours.send(s),
            (l) => theirs.on("stanza", l),
            count,
            body,
          ),
        );
        await ours.close();
        await session.done;
      }
    }
    await Promise.allSettled([qRomeo.close(), qJuliet.close(), romeo.ibb.close(), juliet.ibb.close()]);
    const qs = summarize(q);
    const js = summarize(j);
    ctx.log(`modeq: Mode Q ${qs.median.toFixed(2)} MB/s, Jingle/IBB ${js.median.toFixed(2)} MB/s`);
    const rows: Row[] = [
      {
        scenario: "modeq",
        case: `Mode Q tunnel, ${BLOCK} B chunks, window ${WINDOW}: 8 KiB message stanzas`,
        metric: "MB/s of stanzas",
        value: qs.median,
        spreadPct: qs.spreadPct,
        runs,
      },
      {
        scenario: "modeq",
        case: `Jingle + XTLS + IBB XML stream, block ${BLOCK}, window ${WINDOW}: 8 KiB message stanzas`,
        metric: "MB/s of stanzas",
        value: js.median,
        spreadPct: js.spreadPct,
        runs,
        baseline: { name: "Mode Q, same server, chunk and window", value: qs.median },
        ratio: js.median / qs.median,
      },
    ];
    return {
      name: "modeq",
      title: "Mode Q vs Jingle/IBB",
      rows,
      details: { bytesPerRun: count * body.length, runs },
    };
  } finally {
    await close();
  }
}

async function pump(
  send: (s: Element) => Promise<void>,
  listen: (l: (s: Element) => void) => void,
  count: number,
  body: string,
): Promise<number> {
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  listen(() => {
    if (++got === count) done();
  });
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await send(xml("message", { type: "chat" }, xml("body", {}, body)));
  await all;
  return mbps(count * body.length, performance.now() - t0);
}
