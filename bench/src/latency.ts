/**
 * Scenario 4 — setup latency: from session-initiate (and from session-accept) to the
 * first application byte, for x509 and resumed sessions, on the embedded router (with a
 * fixed one-way delay per stanza, so time ÷ round-trip time counts the XMPP round trips)
 * and through Prosody; plus the stanzas each way.
 */
import { LocalRouter, NS, type XmppLink, xml } from "@xtls/core";
import type { JingleSession } from "@xtls/jingle";
import { XtlsSecurity } from "@xtls/jingle-xtls";
import { NodeTlsEngine, SessionCache } from "@xtls/tls";
import type { BenchContext, Row, ScenarioResult } from "./context.js";
import { acceptRaw, type Party, party, RawSession } from "./parties.js";
import { summarize } from "./stats.js";

const ONE_WAY_MS = 20;
const ROMEO = "romeo@montague.lit/orchard";
const JULIET = "juliet@capulet.lit/balcony";

interface Timing {
  readonly fromInitiate: number;
  readonly fromAccept: number;
  readonly resumed: boolean;
}

export async function latencyScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const runs = ctx.quick ? 3 : 7;
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};

  // The unit: one IQ round trip between the same two links, measured in this run (the
  // nominal 40 ms plus what timers and the event loop add to each hop).
  let rtt = 2 * ONE_WAY_MS;
  // Embedded router with a fixed one-way delay: the number of round trips.
  {
    const router = new LocalRouter();
    const rl = router.createLink(ROMEO, { latencyMs: ONE_WAY_MS });
    const jl = router.createLink(JULIET, { latencyMs: ONE_WAY_MS });
    const ping = await iqRoundTrip(rl, jl, runs * 2);
    rtt = ping.median;
    details.iqRoundTripMs = ping;
    rows.push({
      scenario: "latency",
      case: `baseline: one IQ round trip between the same links (embedded router, ${ONE_WAY_MS} ms each way)`,
      metric: "ms",
      value: ping.median,
      spreadPct: ping.spreadPct,
      runs: runs * 2,
    });
    const stanzas: { from: string; name: string; during: "before-accept" | "after-accept" }[] = [];
    let phase: "idle" | "before-accept" | "after-accept" = "idle";
    router.observe((e) => {
      if (phase !== "idle") stanzas.push({ from: e.from, name: describe(e.stanza), during: phase });
    });
    const romeo = await party(rl, { pins: [JULIET] });
    const juliet = await party(jl, { pins: [ROMEO] });
    const apps: RawSession[] = [];
    acceptRaw(juliet, ({ app }) => apps.push(app));
    for (const resumed of [false, true]) {
      const security = resumed ? resumingSecurity(romeo) : romeo.security;
      if (resumed) await setup(romeo, security, JULIET, apps); // a first session leaves a ticket
      const samples: Timing[] = [];
      for (let i = 0; i < runs; i++) {
        stanzas.length = 0;
        const t = await setup(romeo, security, JULIET, apps, (p) => {
          phase = p;
        });
        phase = "idle";
        samples.push(t);
        if (i === 0) details[`stanzas-${resumed ? "resumed" : "x509"}`] = [...stanzas];
      }
      const fromAccept = summarize(samples.map((s) => s.fromAccept));
      const fromInitiate = summarize(samples.map((s) => s.fromInitiate));
      const label = resumed ? "resumed (ticket)" : "x509 (full handshake)";
      if (resumed && !samples.every((s) => s.resumed)) ctx.log("latency: warning: not every session resumed");
      const first = details[`stanzas-${resumed ? "resumed" : "x509"}`] as typeof stanzas;
      const after = first.filter((s) => s.during === "after-accept");
      const romeoSent = after.filter((s) => s.from === ROMEO).length;
      ctx.log(
        `latency: embedded, ${label}: ${(fromAccept.median / rtt).toFixed(2)} RTT after accept, ${(fromInitiate.median / rtt).toFixed(2)} RTT after initiate`,
      );
      rows.push({
        scenario: "latency",
        case: `embedded router (RTT ${rtt.toFixed(1)} ms measured), ${label}: session-accept → first application byte`,
        metric: "XMPP round trips",
        value: fromAccept.median / rtt,
        spreadPct: fromAccept.spreadPct,
        runs,
        target: "≤ 2 round trips after session-accept",
        met: fromAccept.median / rtt <= 2.05,
      });
      rows.push({
        scenario: "latency",
        case: `embedded router (RTT ${rtt.toFixed(1)} ms measured), ${label}: session-initiate → first application byte`,
        metric: "XMPP round trips",
        value: fromInitiate.median / rtt,
        spreadPct: fromInitiate.spreadPct,
        runs,
      });
      rows.push({
        scenario: "latency",
        case: `${label}: stanzas from session-accept to the first application byte (Romeo sent ${romeoSent}, Juliet ${after.length - romeoSent})`,
        metric: "stanzas",
        value: after.length,
      });
    }
    router.close();
  }

  // First contact with srp (no pins, a one-time password): a fresh pair each run, so every
  // run bootstraps (TLS with not-yet-trusted certificates, then SRP-6a inside it).
  {
    const fromAccept: number[] = [];
    const fromInitiate: number[] = [];
    for (let i = 0; i < runs; i++) {
      const router = new LocalRouter();
      const romeo = await party(router.createLink(ROMEO, { latencyMs: ONE_WAY_MS }), {
        pins: [],
        password: "otp",
      });
      const juliet = await party(router.createLink(JULIET, { latencyMs: ONE_WAY_MS }), {
        pins: [],
        password: "otp",
      });
      const apps: RawSession[] = [];
      acceptRaw(juliet, ({ app }) => apps.push(app));
      const t = await setup(romeo, romeo.security, JULIET, apps);
      fromAccept.push(t.fromAccept / rtt);
      fromInitiate.push(t.fromInitiate / rtt);
      router.close();
    }
    const a = summarize(fromAccept);
    const b = summarize(fromInitiate);
    ctx.log(
      `latency: embedded, srp (first contact): ${a.median.toFixed(2)} RTT after accept, ${b.median.toFixed(2)} RTT after initiate`,
    );
    rows.push(
      {
        scenario: "latency",
        case: `embedded router (RTT ${rtt.toFixed(1)} ms measured), srp first contact: session-accept → first application byte`,
        metric: "XMPP round trips",
        value: a.median,
        spreadPct: a.spreadPct,
        runs,
        target: "≤ 2 round trips after session-accept",
        met: a.median <= 2.05,
      },
      {
        scenario: "latency",
        case: `embedded router (RTT ${rtt.toFixed(1)} ms measured), srp first contact: session-initiate → first application byte`,
        metric: "XMPP round trips",
        value: b.median,
        spreadPct: b.spreadPct,
        runs,
      },
    );
  }

  // Through Prosody on loopback: milliseconds.
  const { romeo: rl, juliet: jl, close } = await ctx.prosodyPair();
  try {
    const romeo = await party(rl, { pins: [jl.jid] });
    const juliet = await party(jl, { pins: [rl.jid] });
    const apps: RawSession[] = [];
    acceptRaw(juliet, ({ app }) => apps.push(app));
    for (const resumed of [false, true]) {
      const security = resumed ? resumingSecurity(romeo) : romeo.security;
      if (resumed) await setup(romeo, security, jl.jid, apps);
      const samples: Timing[] = [];
      for (let i = 0; i < runs; i++) samples.push(await setup(romeo, security, jl.jid, apps));
      const a = summarize(samples.map((s) => s.fromAccept));
      const b = summarize(samples.map((s) => s.fromInitiate));
      const label = resumed ? "resumed (ticket)" : "x509 (full handshake)";
      ctx.log(
        `latency: Prosody, ${label}: ${a.median.toFixed(1)} ms after accept, ${b.median.toFixed(1)} ms after initiate`,
      );
      rows.push({
        scenario: "latency",
        case: `Prosody (loopback), ${label}: session-accept → first application byte`,
        metric: "ms",
        value: a.median,
        spreadPct: a.spreadPct,
        runs,
      });
      rows.push({
        scenario: "latency",
        case: `Prosody (loopback), ${label}: session-initiate → first application byte`,
        metric: "ms",
        value: b.median,
        spreadPct: b.spreadPct,
        runs,
      });
    }
  } finally {
    await close();
  }
  return { name: "latency", title: "Setup latency", rows, details };
}

/** The same identity and trust, with a ticket cache: later sessions resume. */
function resumingSecurity(p: Party): XtlsSecurity {
  const engine = new NodeTlsEngine({
    identity: p.engine.identity,
    trustStore: p.engine.trustStore,
    sessionCache: new SessionCache(),
  });
  return new XtlsSecurity({ engine });
}

/** `n` IQ round trips, one at a time, from `a` to `b` (which answers at once). */
async function iqRoundTrip(a: XmppLink, b: XmppLink, n: number) {
  const NS_PING = "urn:xtls:bench:ping:0";
  const off = b.handle("get", NS_PING, "ping", () => undefined);
  const samples: number[] = [];
  for (let i = 0; i < n + 1; i++) {
    const t0 = performance.now();
    await a.request(xml("iq", { type: "get", to: b.jid }, xml("ping", { xmlns: NS_PING })));
    if (i > 0) samples.push(performance.now() - t0); // the first warms up
  }
  off();
  return summarize(samples);
}

/** One session: Romeo writes a byte as soon as his stream is up; returns when Juliet reads it. */
async function setup(
  romeo: Party,
  security: XtlsSecurity,
  to: string,
  apps: RawSession[],
  onPhase?: (p: "before-accept" | "after-accept") => void,
): Promise<Timing> {
  const app = new RawSession();
  const before = apps.length;
  onPhase?.("before-accept");
  const t0 = performance.now();
  let tAccept = 0;
  const session: JingleSession = romeo.manager.initiate(to, {
    application: app,
    transports: [romeo.transport],
    security,
  });
  session.once("state", (s) => {
    if (s === "active") {
      tAccept = performance.now();
      onPhase?.("after-accept");
    }
  });
  const ours = await app.stream;
  ours.write(Buffer.from([0x2a]));
  while (apps.length === before) await new Promise((r) => setImmediate(r));
  const theirApp = apps[apps.length - 1]!;
  const theirs = await theirApp.stream;
  await new Promise<void>((resolve) => theirs.once("data", () => resolve()));
  const t1 = performance.now();
  const resumed = (session.secured as unknown as { resumed?: boolean } | undefined)?.resumed ?? false;
  theirs.resume();
  app.finish();
  theirApp.finish();
  await session.done;
  return { fromInitiate: t1 - t0, fromAccept: t1 - tAccept, resumed };
}

function describe(stanza: {
  name: string;
  attrs: Record<string, string | undefined>;
  getChild(n: string, ns?: string): unknown;
  getChildElements(): { name: string; attrs: Record<string, string | undefined> }[];
}): string {
  const child = stanza.getChildElements()[0];
  if (!child) return `${stanza.name} ${stanza.attrs.type ?? ""}`.trim();
  if (child.name === "jingle") return `jingle ${child.attrs.action}`;
  if ((child.attrs.xmlns ?? "") === NS.IBB) return `ibb ${child.name}`;
  return `${stanza.name} ${stanza.attrs.type ?? ""} ${child.name}`.trim();
}
