/**
 * Incremental parsing of an XML stanza stream from a peer, in the restricted XML that
 * RFC 6120 §11.1 requires: no comments, processing instructions, DTDs or entity
 * references other than the five predefined ones and character references.
 *
 * It wraps `@xmpp/xml`'s streaming parser (ltx), which on its own silently skips
 * comments, PIs and DTDs, passes stray `&` through, accepts malformed tags, splits
 * multi-byte UTF-8 characters at chunk boundaries, and keeps top-level whitespace
 * forever. Here the input is decoded as strict UTF-8 across chunks, checked by
 * {@link RestrictedXmlScanner} before ltx sees it (forbidden markup, malformed tags and
 * references, nesting depth), and bounded in stanza size, so a peer cannot make us
 * buffer without limit; ltx only builds the elements.
 *
 * Mode J's XEP-0246 streams read the peer's real `<stream:stream>` header; Mode Q
 * streams have none, so the parser is primed with a synthetic one (docs/protocol/mode-q.md#stanzas-inside-the-tunnel).
 */
import { EventEmitter } from "node:events";
import { XtlsError } from "./errors.js";
import { NS } from "./namespaces.js";
import { type Element, RawXmlParser } from "./xml.js";
import { RestrictedXmlScanner } from "./xml-scanner.js";

/** Stream error conditions (RFC 6120 §4.9.3) this parser reports. */
export type XmlStreamErrorCondition =
  | "not-well-formed"
  | "restricted-xml"
  | "policy-violation"
  | "bad-format";

export class XmlStreamError extends XtlsError {
  readonly condition: XmlStreamErrorCondition;

  constructor(condition: XmlStreamErrorCondition, message: string) {
    super(`xml-stream:${condition}`, message);
    this.condition = condition;
  }
}

export interface StanzaStreamParserOptions {
  /**
   * Largest top-level element, in octets, before the stream fails with policy-violation.
   * Counted per stanza, to within an eighth of the limit (the input is parsed in slices).
   * Default 1 MiB.
   */
  maxStanzaBytes?: number;
  /** Deepest nesting of elements inside a stanza. Default 64. */
  maxDepth?: number;
  /**
   * A stream header to act as if it had been received (Mode Q). When set, the peer's
   * input is a bare sequence of stanzas.
   */
  primedHeader?: string;
}

export interface StanzaStreamEvents {
  header: [header: Element];
  stanza: [stanza: Element];
  /** The peer closed the stream with `</stream:stream>`. */
  end: [];
  error: [error: XmlStreamError];
}

/** The synthetic header Mode Q streams are parsed under. */
export const CLIENT_STREAM_HEADER = `<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}'>`;

const DEFAULT_MAX_STANZA = 1024 * 1024;
const DEFAULT_MAX_DEPTH = 64;

interface LtxParserInternals {
  root: Element | null;
  cursor: Element | null;
  onStartElement(name: string, attrs: Record<string, string>): void;
  onEndElement(name: string): void;
  onText(text: string): void;
  write(data: string): void;
  emit(event: string, ...args: unknown[]): boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

const LtxBase = RawXmlParser as unknown as new () => LtxParserInternals;

// @xmpp/xml's Parser binds these methods in its constructor, so overriding them here
// puts our checks in front of its tree building.
class TreeBuilder extends LtxBase {
  override onText(text: string): void {
    // Between stanzas only whitespace gets here (the scanner refuses anything else); drop
    // it instead of appending it to the root forever.
    if (this.cursor !== null && this.cursor === this.root) return;
    super.onText(text);
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point.
const ILLEGAL_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/u;

export class StanzaStreamParser extends EventEmitter<StanzaStreamEvents> {
  readonly #maxStanzaBytes: number;
  /** Characters parsed at a time (see write). */
  readonly #slice: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #parser: TreeBuilder;
  readonly #scanner: RestrictedXmlScanner;
  readonly #primed: boolean;
  #sinceBoundary = 0;
  /** Scanner output waiting for the end of the run it ends in (see #hand). */
  readonly #held: string[] = [];
  #failed: XmlStreamError | undefined;
  #ended = false;

  constructor(options: StanzaStreamParserOptions = {}) {
    super();
    this.#maxStanzaBytes = options.maxStanzaBytes ?? DEFAULT_MAX_STANZA;
    this.#slice = Math.max(64, Math.min(16 * 1024, Math.floor(this.#maxStanzaBytes / 8)));
    this.#parser = new TreeBuilder();
    this.#scanner = new RestrictedXmlScanner(options.maxDepth ?? DEFAULT_MAX_DEPTH, (condition, message) =>
      this.#fail(new XmlStreamError(condition, message)),
    );
    this.#primed = options.primedHeader !== undefined;
    this.#parser.on("start", (header: Element) => {
      if (!this.#primed && !this.#failed) this.emit("header", header);
    });
    this.#parser.on("element", (stanza: Element) => {
      this.#sinceBoundary = 0;
      if (!this.#failed) this.emit("stanza", stanza);
    });
    this.#parser.on("end", () => {
      this.#ended = true;
      if (!this.#failed) this.emit("end");
    });
    this.#parser.on("error", (err: Error) => this.#fail(new XmlStreamError("not-well-formed", err.message)));
    // The synthetic header goes through the scanner too, which then knows the root is open.
    if (options.primedHeader !== undefined) this.#hand(this.#scanner.scan(options.primedHeader));
  }

  /** The first error, once the stream has failed (no more events after it). */
  get failed(): XmlStreamError | undefined {
    return this.#failed;
  }

  /** Feeds bytes (or already-decoded text) from the peer. */
  write(chunk: Uint8Array | string): void {
    if (this.#failed || this.#ended) return;
    let text: string;
    try {
      text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    } catch {
      this.#fail(new XmlStreamError("not-well-formed", "invalid UTF-8"));
      return;
    }
    // XML 1.0 §2.2: these characters are not allowed anywhere in a document, not even
    // escaped in CDATA; ltx passes them through (found by the fuzz suite).
    if (ILLEGAL_XML_CHARS.test(text)) {
      this.#fail(new XmlStreamError("not-well-formed", "a character that XML does not allow"));
      return;
    }
    // The size limit is per stanza: octets are counted from the end of the last stanza, and
    // a chunk is parsed in slices of an eighth of the limit (at most 16 Ki characters), so
    // that one read holding many small stanzas is not taken for one big stanza (it was:
    // xmlstream had to slice its input, iq-tunnel did not). The count is right to within
    // one slice either way: a slice is counted before it is parsed, and the part of it
    // after a stanza's end goes uncounted.
    for (let at = 0; at < text.length; at += this.#slice) {
      if (this.#failed || this.#ended) return;
      const piece = at === 0 && text.length <= this.#slice ? text : text.slice(at, at + this.#slice);
      this.#sinceBoundary += Buffer.byteLength(piece);
      if (this.#sinceBoundary > this.#maxStanzaBytes) {
        this.#fail(new XmlStreamError("policy-violation", `a stanza exceeds ${this.#maxStanzaBytes} octets`));
        return;
      }
      const out = this.#scanner.scan(piece);
      if (this.#failed || out.length === 0) continue;
      this.#hand(out);
    }
  }

  /**
   * Hands the scanner's output to ltx, except for a run of text or of an attribute value
   * still open at its end: that waits here until the run's end arrives (see
   * `RestrictedXmlScanner.openRun`: ltx is quadratic in an unfinished run). Nothing
   * that completes a stanza ever waits; what waits counts against the stanza size limit
   * like everything else.
   */
  #hand(out: string): void {
    const run = this.#scanner.openRun;
    if (run === -1) {
      this.#held.push(out);
      return;
    }
    let ready = run === undefined ? out : out.slice(0, run);
    if (this.#held.length > 0) {
      ready = this.#held.join("") + ready;
      this.#held.length = 0;
    }
    if (run !== undefined && run < out.length) this.#held.push(out.slice(run));
    if (ready.length === 0) return;
    try {
      this.#parser.write(ready);
    } catch (err) {
      // The scanner has checked every reference ltx unescapes; kept as a safety net.
      this.#fail(new XmlStreamError("restricted-xml", err instanceof Error ? err.message : String(err)));
    }
  }

  /**
   * The input ended. A stanza cut off in the middle is an error, never a clean end:
   * wherever the input stopped inside a stanza (inside a start or end tag, an attribute
   * value, a reference or a CDATA section, or between the tags of an unfinished stanza),
   * this reports `bad-format`. Before (found by the fuzz suite), only a stanza whose
   * start tag was complete counted: "<message" or "<message to='a" then the end of input
   * was a clean end, because the nesting depth only moved once ltx had read a whole tag,
   * and what ltx still held unread was never looked at.
   */
  end(): void {
    if (this.#failed || this.#ended) return;
    try {
      this.#decoder.decode();
    } catch {
      this.#fail(new XmlStreamError("not-well-formed", "input ended inside a UTF-8 sequence"));
      return;
    }
    const inside = this.#scanner.cutOff();
    if (inside !== undefined) {
      this.#fail(new XmlStreamError("bad-format", `the input ended inside ${inside}`));
    }
  }

  #fail(error: XmlStreamError): void {
    if (this.#failed) return;
    this.#failed = error;
    this.emit("error", error);
  }
}
