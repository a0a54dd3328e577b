/**
 * The stream header of an end-to-end XML stream (XEP-0246 §4, RFC 6120 §4.7): what we send,
 * and the checks on what the peer sends (docs/protocol/xml-stream.md#stream-header-addresses).
 */
import { type Element, escapeXml, type Jid, NS, tryParseJid } from "@xtls/core";
import type { StreamErrorCondition } from "./stream-error.js";

/** RFC 6120 §4.7.5: the version we speak; only the major number must match. */
export const STREAM_VERSION = "1.0";
export const STREAM_CLOSE = "</stream:stream>";
/**
 * XEP-0246 offers STARTTLS here; under XTLS the TLS session already sits below the
 * stream, so the responder announces no feature at all (docs/protocol/xml-stream.md#stream-features).
 */
export const EMPTY_STREAM_FEATURES = "<stream:features/>";

export interface StreamHeaderAttributes {
  readonly from: string;
  readonly to: string;
  /** Only the responder's header carries an id (RFC 6120 §4.7.3). */
  readonly id?: string;
}

/**
 * `<stream:stream xmlns='jabber:client' xmlns:stream='…' from to [id] version='1.0'>`, an
 * open tag. Full JIDs both ways: the draft and XEP-0247 say so (XEP-0246 says bare JIDs
 * for Jingle streams; docs/protocol/seed-differences.md#stream-header-jids settles on full).
 */
export function streamHeader(attrs: StreamHeaderAttributes): string {
  const id = attrs.id === undefined ? "" : ` id='${escapeXml(attrs.id)}'`;
  return (
    `<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}'` +
    ` from='${escapeXml(attrs.from)}' to='${escapeXml(attrs.to)}'${id} version='${STREAM_VERSION}'>`
  );
}

/** Why a header was refused: the stream error to send and its `<text/>`. */
export interface HeaderProblem {
  readonly condition: StreamErrorCondition;
  readonly text: string;
}

/**
 * Checks the peer's stream header. `local`/`peer` are the JIDs the stream runs between
 * (from the Jingle session, authenticated by TLS underneath). Returns the problem, or
 * `undefined` when the header is acceptable.
 */
export function checkStreamHeader(header: Element, local: Jid, peer: Jid): HeaderProblem | undefined {
  // RFC 6120 §4.8.1: the root must be <stream/> in the streams namespace (any prefix).
  if (header.getName() !== "stream" || header.getNS() !== NS.STREAMS) {
    return {
      condition: "invalid-namespace",
      text: `the stream header must be <stream xmlns='${NS.STREAMS}'/>`,
    };
  }
  // RFC 6120 §4.8.2/§4.9.3.10: the content namespace of a client-to-client stream is jabber:client.
  if (header.attrs.xmlns !== NS.CLIENT) {
    return { condition: "invalid-namespace", text: `the content namespace must be ${NS.CLIENT}` };
  }
  // RFC 6120 §4.7.5: a missing version means pre-1.0 (no stream features); a different
  // major version is a different protocol. Minor versions above ours are fine.
  const version = header.attrs.version;
  const major = version === undefined ? undefined : /^([0-9]+)\.[0-9]+$/.exec(version)?.[1];
  if (major === undefined || Number(major) !== 1) {
    return {
      condition: "unsupported-version",
      text:
        version === undefined
          ? "the stream header has no version (1.0 required)"
          : `version ${version} is not 1.x`,
    };
  }
  // Full JIDs are sent, bare JIDs checked (docs/protocol/xml-stream.md#stream-header-addresses): a peer may present another
  // of its resources, but never another account. A missing 'from' is tolerated: who the
  // peer is was settled by the TLS handshake, not by this attribute.
  const from = header.attrs.from;
  if (from !== undefined && tryParseJid(from)?.bare !== peer.bare) {
    return { condition: "invalid-from", text: `the stream header is from ${from}, not from ${peer.bare}` };
  }
  // RFC 6120 §4.9.3.6 host-unknown: "the 'to' attribute provided in the initial stream
  // header does not correspond to an FQDN that is serviced by the receiving entity". In
  // an end-to-end stream the only entity we serve is our own account, so a header naming
  // another one is exactly that case (improper-addressing is about stanzas, not headers).
  const to = header.attrs.to;
  if (to !== undefined && tryParseJid(to)?.bare !== local.bare) {
    return {
      condition: "host-unknown",
      text: `the stream header is addressed to ${to}, not to ${local.bare}`,
    };
  }
  return undefined;
}

/** What {@link StreamPrologue.take} found. */
export type PrologueResult =
  | { readonly kind: "more" }
  | { readonly kind: "done"; readonly rest: Buffer }
  | { readonly kind: "error"; readonly problem: HeaderProblem };

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const XML_DECL = "<?xml";
/** A declaration longer than this is not one we want to buffer. */
const MAX_PROLOGUE = 1024;

/**
 * Strips what may legally precede the stream header: a UTF-8 byte-order mark, one XML
 * declaration (RFC 6120 §11.5: entities SHOULD send one; we accept it, though we do not
 * send one, like the draft's examples) and whitespace. The restricted parser of
 * `@xtls/core` would reject the declaration as a processing instruction and whitespace
 * before the root as text outside an element, so they never reach it.
 */
export class StreamPrologue {
  #buffer: Buffer = Buffer.alloc(0);
  #start = true;
  #declared = false;

  take(chunk: Buffer): PrologueResult {
    let buf = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#start) {
        if (buf.length < BOM.length && BOM.subarray(0, buf.length).equals(buf)) return this.#more(buf);
        if (buf.subarray(0, BOM.length).equals(BOM)) buf = buf.subarray(BOM.length);
        this.#start = false;
      }
      let i = 0;
      while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d || buf[i] === 0x0a))
        i++;
      buf = buf.subarray(i);
      if (buf.length === 0) return this.#more(buf);
      const head = buf.subarray(0, XML_DECL.length + 1).toString("latin1");
      if (this.#declared || !head.startsWith(XML_DECL)) {
        if (!this.#declared && head.length <= XML_DECL.length && XML_DECL.startsWith(head))
          return this.#more(buf);
        return this.#done(buf);
      }
      if (head.length === XML_DECL.length) return this.#more(buf);
      // "<?xml-stylesheet …?>" and the like are processing instructions: the parser refuses them.
      if (!/[ \t\r\n]/.test(head[XML_DECL.length] ?? "")) return this.#done(buf);
      const end = buf.indexOf("?>");
      if (end === -1) {
        if (buf.length > MAX_PROLOGUE) {
          return {
            kind: "error",
            problem: { condition: "policy-violation", text: "the XML declaration is too long" },
          };
        }
        return this.#more(buf);
      }
      const declaration = buf.subarray(0, end + 2).toString("latin1");
      const encoding = /\sencoding\s*=\s*["']([^"']*)["']/.exec(declaration)?.[1];
      // RFC 6120 §11.6: UTF-8 only.
      if (encoding !== undefined && encoding.toLowerCase() !== "utf-8") {
        return {
          kind: "error",
          problem: {
            condition: "unsupported-encoding",
            text: `encoding ${encoding} (only UTF-8 is allowed)`,
          },
        };
      }
      this.#declared = true;
      buf = buf.subarray(end + 2);
    }
  }

  #more(buf: Buffer): PrologueResult {
    this.#buffer = Buffer.from(buf);
    return { kind: "more" };
  }

  #done(buf: Buffer): PrologueResult {
    this.#buffer = Buffer.alloc(0);
    return { kind: "done", rest: buf };
  }
}
