/**
 * The golden fixtures of @xtls/iq-tunnel and @xtls/jingle-xtls (every example stanza of
 * the seeds), parsed the way the packages parse peer input, with their JIDs mapped onto
 * the fuzz world's Romeo and Juliet so that unmutated fixtures reach live parties.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CLIENT_STREAM_HEADER, type Element, StanzaStreamParser } from "@xtls/core";
import { fromElement, type XNode } from "./xml-model.js";

const PACKAGES = join(import.meta.dirname, "..", "..", "..", "..", "packages");

export interface Fixture {
  /** `package/seed/file`. */
  readonly name: string;
  /** The text, leading comment stripped, JIDs mapped. */
  readonly text: string;
  /** The stanza, or `undefined` for stream fragments (headers, `</stream:stream>`). */
  readonly stanza: XNode | undefined;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(join(dir, entry.name))
      : entry.name.endsWith(".xml")
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The seeds use several spellings of the two parties; the fuzz world has one each. */
function mapJids(text: string): string {
  return text
    .replaceAll("montague.net", "montague.lit")
    .replaceAll("capulet.com", "capulet.lit")
    .replaceAll("juliet@capulet.lit/chamber", "juliet@capulet.lit/balcony");
}

function parseStanzas(text: string): Element[] {
  const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER });
  const out: Element[] = [];
  let failed: Error | undefined;
  parser.on("stanza", (s) => out.push(s));
  parser.on("error", (e) => {
    failed = e;
  });
  parser.write(text);
  if (failed) return [];
  return out;
}

function load(pkg: string): Fixture[] {
  const root = join(PACKAGES, pkg, "fixtures");
  return filesUnder(root)
    .sort()
    .map((file) => {
      const text = mapJids(readFileSync(file, "utf8").replace(/^\s*<!--[\s\S]*?-->\s*/, ""));
      const stanzas =
        text.includes("<stream:stream") || text.includes("</stream:stream") ? [] : parseStanzas(text);
      return {
        name: `${pkg}/${file.slice(root.length + 1)}`,
        text,
        stanza: stanzas.length === 1 ? fromElement(stanzas[0]!) : undefined,
      };
    });
}

export const IQ_TUNNEL_FIXTURES: readonly Fixture[] = load("iq-tunnel");
export const JINGLE_XTLS_FIXTURES: readonly Fixture[] = load("jingle-xtls");
export const ALL_FIXTURES: readonly Fixture[] = [...IQ_TUNNEL_FIXTURES, ...JINGLE_XTLS_FIXTURES];

/** The stanza fixtures whose names match `pattern`. */
export function stanzaFixtures(pattern: RegExp, from: readonly Fixture[] = ALL_FIXTURES): XNode[] {
  const out = from.filter((f) => f.stanza !== undefined && pattern.test(f.name)).map((f) => f.stanza!);
  if (out.length === 0) throw new Error(`no fixture matches ${pattern}`);
  return out;
}
