/**
 * Scenario 6 — reading a peer's XML: `StanzaStreamParser` (strict UTF-8, the restricted-XML
 * scanner, size and depth limits, ltx building the elements) on what a peer can send,
 * arriving in 64 KiB reads as from a socket, against ltx (`@xmpp/xml`'s parser, which
 * checks almost nothing) given the same stream in one string, in the same run.
 *
 * Every XML stream of XTLS goes through this parser: XEP-0246 streams inside Jingle
 * sessions, Mode Q tunnels, the embedded router. Its cost per octet must not depend on
 * how the peer shapes its stanzas: ltx looks for the end of a text or attribute value
 * again at every character of one that a read cuts off, so ltx in 64 KiB reads of a
 * 1 MiB body is quadratic (the third baseline shows it); the parser hands ltx a run only
 * once its end has arrived.
 */
import { Buffer } from "node:buffer";
// @ts-expect-error -- @xmpp/xml ships no type declarations (see @xtls/core's xml.ts).
import * as ltxModule from "@xmpp/xml";
import { CLIENT_STREAM_HEADER, StanzaStreamParser } from "@xtls/core";
import type { BenchContext, Row, ScenarioResult } from "./context.js";
import { MiB, mbps, type Summary, summarize } from "./stats.js";

const READ = 64 * 1024;

interface Ltx {
  write(data: string): void;
  on(event: "element", listener: () => void): void;
}
const LtxParser: new () => Ltx = (ltxModule as { Parser: new () => Ltx }).Parser;

interface Shape {
  readonly name: string;
  readonly stanzas: number;
  readonly wire: string;
}

function shapes(size: number): Shape[] {
  const body = "x".repeat(size);
  const small =
    "<message to='juliet@capulet.lit/balcony' type='chat'><body>I take thee at thy word</body></message>";
  const count = Math.ceil(size / small.length);
  return [
    { name: `small stanzas (${small.length} octets each)`, stanzas: count, wire: small.repeat(count) },
    {
      name: `one stanza, a ${size / MiB} MiB body`,
      stanzas: 1,
      wire: `<message><body>${body}</body></message>`,
    },
    { name: `one stanza, a ${size / MiB} MiB attribute value`, stanzas: 1, wire: `<message id='${body}'/>` },
  ];
}

/** Parses `wire` with `StanzaStreamParser` in 64 KiB reads; returns the stanzas seen. */
function ours(wire: Buffer): number {
  const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER, maxStanzaBytes: 4 * MiB });
  let seen = 0;
  parser.on("stanza", () => seen++);
  parser.on("error", (e) => {
    throw e;
  });
  for (let at = 0; at < wire.length; at += READ) parser.write(wire.subarray(at, at + READ));
  return seen;
}

/** Parses `wire` with ltx alone, in one string or in 64 KiB reads; returns the stanzas seen. */
function ltx(wire: Buffer, reads: boolean): number {
  const parser = new LtxParser();
  let seen = 0;
  parser.on("element", () => seen++);
  parser.write(CLIENT_STREAM_HEADER);
  if (reads)
    for (let at = 0; at < wire.length; at += READ) parser.write(wire.subarray(at, at + READ).toString());
  else parser.write(wire.toString());
  return seen;
}

/**
 * MB/s of `parse` on `wire`: the median of `runs` rounds, each parsing the stream again
 * until at least 100 ms have passed (after one parse to warm up).
 */
function rate(runs: number, wire: Buffer, stanzas: number, parse: (wire: Buffer) => number): Summary {
  const once = () => {
    const seen = parse(wire);
    if (seen !== stanzas) throw new Error(`parser bench: ${seen} stanzas, expected ${stanzas}`);
  };
  once();
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const t0 = performance.now();
    do {
      once();
      n++;
    } while (performance.now() - t0 < 100);
    samples.push(mbps(wire.length * n, performance.now() - t0));
  }
  return summarize(samples);
}

/** A row of MB/s, with its ratio to a baseline of the same run when there is one. */
function row(what: string, s: Summary, baseline?: [name: string, value: Summary]): Row {
  return {
    scenario: "parser",
    case: what,
    metric: "MB/s",
    value: s.median,
    spreadPct: s.spreadPct,
    runs: s.runs,
    ...(baseline
      ? { baseline: { name: baseline[0], value: baseline[1].median }, ratio: s.median / baseline[1].median }
      : {}),
  };
}

export async function parserScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const runs = ctx.quick ? 3 : 5;
  const size = ctx.quick ? MiB / 4 : MiB;
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  for (const shape of shapes(size)) {
    const wire = Buffer.from(shape.wire);
    const whole = rate(runs, wire, shape.stanzas, (w) => ltx(w, false));
    const ltxReads = rate(runs, wire, shape.stanzas, (w) => ltx(w, true));
    const parsed = rate(runs, wire, shape.stanzas, ours);
    details[shape.name] = { octets: wire.length, ltxWhole: whole, ltxReads, parser: parsed };
    ctx.log(
      `parser: ${shape.name}: ${parsed.median.toFixed(0)} MB/s (ltx alone: ${ltxReads.median.toFixed(1)} in the same reads, ${whole.median.toFixed(0)} in one string)`,
    );
    rows.push(
      row(`baseline: ltx alone (no checks), ${shape.name}, in one string`, whole),
      row("baseline: ltx alone, the same in 64 KiB reads", ltxReads, ["ltx, one string", whole]),
      row("StanzaStreamParser (UTF-8, restricted XML, limits), the same in 64 KiB reads", parsed, [
        "ltx alone, same reads",
        ltxReads,
      ]),
    );
  }
  return { name: "parser", title: "Parser", rows, details };
}
