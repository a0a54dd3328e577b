/**
 * Incremental parsing of an XML stanza stream from a peer, in the restricted XML that
 * RFC 6120 §11.1 requires: no comments, processing instructions, DTDs or entity
 * references other than the five predefined ones and character references.
 *
 * It wraps `@xmpp/xml`'s streaming parser (ltx), which on its own silently skips
 * comments, PIs and DTDs, passes stray `&` through, splits multi-byte UTF-8 characters
 * at chunk boundaries, and keeps top-level whitespace forever. Here the input is
 * decoded as strict UTF-8 across chunks, pre-scanned for forbidden markup, and bounded
 * in stanza size and nesting depth, so a peer cannot make us buffer without limit.
 *
 * Mode J's XEP-0246 streams read the peer's real `<stream:stream>` header; Mode Q
 * streams have none, so the parser is primed with a synthetic one (PROTOCOLS.md §14.1).
 */
import { EventEmitter } from "node:events";
import { XtlsError } from "./errors.js";
import { NS } from "./namespaces.js";
import { type Element, RawXmlParser } from "./xml.js";

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
  /** Largest top-level element, in octets, before the stream fails. Default 1 MiB. */
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
// Longest lookahead we need after '<' ("![CDATA[") or '&' ("#x10FFFF;").
const LOOKAHEAD = 12;
const REFERENCE = /^&(?:amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});/;
const escapeText = (s: string) =>
  s.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));

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
class BoundedParser extends LtxBase {
  depth = 0;
  constructor(
    readonly maxDepth: number,
    readonly fail: (error: XmlStreamError) => void,
  ) {
    super();
  }

  override onStartElement(name: string, attrs: Record<string, string>): void {
    if (++this.depth > this.maxDepth + 1) {
      this.fail(new XmlStreamError("policy-violation", `elements nested deeper than ${this.maxDepth}`));
      return;
    }
    super.onStartElement(name, attrs);
  }

  override onEndElement(name: string): void {
    this.depth--;
    super.onEndElement(name);
  }

  override onText(text: string): void {
    if (this.cursor !== null && this.cursor === this.root) {
      // Between stanzas only whitespace is allowed (RFC 6120 §4.7.4 keepalives); drop it
      // instead of appending it to the root forever.
      if (/[^ \t\r\n]/.test(text)) this.fail(new XmlStreamError("not-well-formed", "text outside a stanza"));
      return;
    }
    super.onText(text);
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point.
const ILLEGAL_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/u;

export class StanzaStreamParser extends EventEmitter<StanzaStreamEvents> {
  readonly #maxStanzaBytes: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #parser: BoundedParser;
  readonly #primed: boolean;
  #carry = "";
  #inCdata = false;
  #sinceBoundary = 0;
  #failed: XmlStreamError | undefined;
  #ended = false;

  constructor(options: StanzaStreamParserOptions = {}) {
    super();
    this.#maxStanzaBytes = options.maxStanzaBytes ?? DEFAULT_MAX_STANZA;
    this.#parser = new BoundedParser(options.maxDepth ?? DEFAULT_MAX_DEPTH, (e) => this.#fail(e));
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
    if (options.primedHeader !== undefined) this.#parser.write(options.primedHeader);
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
    this.#sinceBoundary += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
    if (this.#sinceBoundary > this.#maxStanzaBytes) {
      this.#fail(new XmlStreamError("policy-violation", `a stanza exceeds ${this.#maxStanzaBytes} octets`));
      return;
    }
    // XML 1.0 §2.2: these characters are not allowed anywhere in a document, not even
    // escaped in CDATA; ltx passes them through (found by the fuzz suite).
    if (ILLEGAL_XML_CHARS.test(text)) {
      this.#fail(new XmlStreamError("not-well-formed", "a character that XML does not allow"));
      return;
    }
    const input = this.#carry + text;
    const { out, consumed } = this.#scan(input);
    if (this.#failed) return;
    this.#carry = input.slice(consumed);
    if (out.length === 0) return;
    try {
      this.#parser.write(out);
    } catch (err) {
      // ltx throws on undefined entities and illegal character references.
      this.#fail(new XmlStreamError("restricted-xml", err instanceof Error ? err.message : String(err)));
    }
  }

  /**
   * Checks `input` for markup that restricted XML forbids and returns what can be
   * handed to the parser now (`out`) and how much of `input` that used (`consumed`);
   * an incomplete '<…' or '&…' at the end is carried into the next write.
   *
   * CDATA sections are rewritten as escaped text: ltx 3.1.2 drops any text that
   * follows a CDATA section in the same element (`<b><![CDATA[x]]>y</b>` parses as
   * "x"), which would silently lose data.
   */
  #scan(input: string): { out: string; consumed: number } {
    let out = "";
    let pos = 0;
    while (pos < input.length) {
      if (this.#inCdata) {
        const end = input.indexOf("]]>", pos);
        if (end === -1) {
          // Keep a possible "]]" split from its ">" for the next write.
          const upto = Math.max(pos, input.length - 2);
          out += escapeText(input.slice(pos, upto));
          return { out, consumed: upto };
        }
        out += escapeText(input.slice(pos, end));
        this.#inCdata = false;
        pos = end + 3;
        continue;
      }
      const lt = input.indexOf("<", pos);
      const amp = input.indexOf("&", pos);
      const next = lt === -1 ? amp : amp === -1 ? lt : Math.min(lt, amp);
      if (next === -1) break;
      if (input.length - next < LOOKAHEAD && !this.#decidable(input, next)) {
        return { out: out + input.slice(pos, next), consumed: next };
      }
      if (input[next] === "&") {
        if (!REFERENCE.test(input.slice(next, next + LOOKAHEAD))) {
          this.#fail(
            new XmlStreamError(
              "restricted-xml",
              "an '&' that is not a predefined entity or character reference",
            ),
          );
          return { out: "", consumed: 0 };
        }
        out += input.slice(pos, next + 1);
        pos = next + 1;
        continue;
      }
      const c = input[next + 1];
      if (c === "?") {
        this.#fail(new XmlStreamError("restricted-xml", "processing instructions are not allowed"));
        return { out: "", consumed: 0 };
      }
      if (c === "!") {
        if (input.startsWith("<![CDATA[", next)) {
          out += input.slice(pos, next);
          this.#inCdata = true;
          pos = next + 9;
          continue;
        }
        this.#fail(new XmlStreamError("restricted-xml", "comments and DTDs are not allowed"));
        return { out: "", consumed: 0 };
      }
      out += input.slice(pos, next + 1);
      pos = next + 1;
    }
    return { out: out + input.slice(pos), consumed: input.length };
  }

  // Whether the markup starting at `at` can already be classified with what we have.
  #decidable(input: string, at: number): boolean {
    const rest = input.slice(at);
    if (rest[0] === "&") return rest.includes(";") || /[^&#a-zA-Z0-9;]/.test(rest.slice(1));
    if (rest.length < 2) return false;
    if (rest[1] !== "!") return true;
    return rest.length >= 9 || !"<![CDATA[".startsWith(rest);
  }

  /** The input ended. A stanza cut off in the middle is an error, never a clean end. */
  end(): void {
    if (this.#failed || this.#ended) return;
    try {
      this.#decoder.decode();
    } catch {
      this.#fail(new XmlStreamError("not-well-formed", "input ended inside a UTF-8 sequence"));
      return;
    }
    if (this.#parser.depth > 1 || this.#carry.length > 0 || this.#inCdata) {
      this.#fail(new XmlStreamError("bad-format", "input ended in the middle of a stanza"));
    }
  }

  #fail(error: XmlStreamError): void {
    if (this.#failed) return;
    this.#failed = error;
    this.emit("error", error);
  }
}
