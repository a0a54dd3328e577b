/**
 * XEP-0047 In-Band Bytestreams v2.0.1 on one {@link XmppLink}: the IQ handlers for
 * `<open/>` (§2.1), `<data/>` (§2.2) and `<close/>` (§2.3), `<data/>` inside `<message/>`
 * (§4), the disco feature `http://jabber.org/protocol/ibb`, and the registry of
 * bytestreams keyed by (peer full JID, sid) — never by sid alone, so a third party that
 * learns a sid cannot touch the session (docs/protocol/ibb.md#receiver-errors).
 *
 *   initiator                                           responder
 *   <open sid block-size='4096' stanza='iq'/> ─────────►  accept? (policy, expect(), attach())
 *                            ◄─────────────────────────  result | resource-constraint | not-acceptable
 *   (resource-constraint: retry with half the block size, not below 512 — docs/protocol/ibb.md#block-size)
 *   <data seq='0'/> … ◄════════════════════════════════► … <data seq='0'/>   (each acked)
 *   <close/> ──────────────────────────────────────────►  result
 */
import { EventEmitter } from "node:events";
import {
  AbortError,
  deadline,
  type Element,
  type IqRequest,
  LinkClosedError,
  NS,
  randomId,
  StanzaError,
  tryParseJid,
  type Unsubscribe,
  type XmppLink,
  xml,
} from "@xtls/core";
import {
  closeElement,
  DEFAULT_BLOCK_SIZE,
  type IbbStanzaKind,
  isValidSid,
  MAX_BLOCK_SIZE,
  MAX_OFFERED_BLOCK_SIZE,
  MIN_RETRY_BLOCK_SIZE,
  openElement,
  parseOpen,
} from "./elements.js";
import { IbbClosedError, IbbRefusedError, IbbSidInUseError } from "./errors.js";
import { IbbStream } from "./stream.js";

/**
 * `<data/>` IQs in flight per stream unless told otherwise. Measured through the project's
 * Prosody (README, "Choosing the window"): 1.8× the throughput of waiting for every ack,
 * at the top of the 4–8 of docs/protocol/ibb.md#sending for bulk data. Larger windows go faster still,
 * but put more unacknowledged stanzas in front of server rate limits, which is why
 * XEP-0047 §2.2 RECOMMENDS waiting at all.
 */
export const DEFAULT_WINDOW = 8;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_ACK_TIMEOUT_MS = 60_000;
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

/** An unsolicited `<open/>`, as the `accept` policy sees it. */
export interface IbbOpenRequest {
  /** The peer's full JID (normalised). */
  readonly peer: string;
  readonly sid: string;
  readonly blockSize: number;
  readonly stanza: IbbStanzaKind;
}

export interface InBandBytestreamsOptions {
  /**
   * Decides unsolicited `<open/>`s (those no `expect()` waits for). Default: decline
   * (`not-acceptable`). Accepted streams are emitted as `"stream"`.
   */
  readonly accept?: (request: IbbOpenRequest) => boolean | Promise<boolean>;
  /** Default `window` of every stream. Default {@link DEFAULT_WINDOW}. */
  readonly window?: number;
  /** Largest block size we accept in an unsolicited `<open/>`; more gets `resource-constraint`. Default 32767. */
  readonly maxBlockSize?: number;
  /** For `<open/>` and `<close/>`. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /**
   * For each `<data/>` IQ. A receiver withholds its ack while its reader is full, so this
   * is also how long a peer's reader may stall before we give up. Default 60 s.
   */
  readonly ackTimeoutMs?: number;
  /** Octets held for a stream's reader before acks are withheld. Default 64 KiB. */
  readonly highWaterMark?: number;
}

export interface IbbOpenOptions {
  /** Default: a fresh random sid. */
  readonly sid?: string;
  /** Octets per chunk offered in `<open/>`, 1–32767. Default 4096 (XEP-0047 §5). */
  readonly blockSize?: number;
  /** We only ever choose IQs (docs/protocol/ibb.md#message-stanzas); receiving `message` is supported. */
  readonly stanza?: "iq";
  readonly window?: number;
  readonly signal?: AbortSignal;
  /** How long to wait for the answer to each `<open/>`. Default: the service's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface IbbExpectOptions {
  /** The negotiated block size: a larger `<open/>` gets `resource-constraint`, a smaller one is used. */
  readonly blockSize: number;
  readonly window?: number;
  readonly signal?: AbortSignal;
  /** Default: the service's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface IbbAttachOptions {
  readonly blockSize: number;
  readonly window?: number;
}

export interface InBandBytestreamsEvents {
  /** An unsolicited `<open/>` was accepted by the `accept` policy. */
  stream: [stream: IbbStream];
}

interface Expectation {
  readonly kind: "expected";
  readonly blockSize: number;
  readonly window: number | undefined;
  resolve(stream: IbbStream): void;
  reject(error: Error): void;
}

/**
 * Our `<open/>` awaits its answer. The peer may send `<data/>` right behind its result,
 * and both can arrive in one read, before our `await` resumes: such stanzas wait here and
 * are replayed, in order, once the stream exists (or answered `item-not-found` if it
 * never does).
 */
interface Opening {
  readonly kind: "opening";
  readonly early: Array<() => void>;
}

/** A (peer, sid) that is not a stream yet but must not be reused. */
type Reservation = Expectation | Opening | { readonly kind: "deciding" };

function sessionKey(peer: string, sid: string): string {
  return `${peer}\n${sid}`; // a JID has no control characters
}

function fullJid(peer: string): string {
  const jid = tryParseJid(peer);
  if (!jid?.resource) throw new TypeError(`an In-Band Bytestream needs the peer's full JID, got "${peer}"`);
  return jid.full;
}

function checkBlockSize(blockSize: number, max: number): void {
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > max) {
    throw new RangeError(`block size must be an integer from 1 to ${max}, got ${blockSize}`);
  }
}

function checkWindow(window: number | undefined): void {
  if (window !== undefined && (!Number.isInteger(window) || window < 1)) {
    throw new RangeError(`window must be a positive integer, got ${window}`);
  }
}

export class InBandBytestreams extends EventEmitter<InBandBytestreamsEvents> {
  readonly link: XmppLink;
  readonly #options: Required<Omit<InBandBytestreamsOptions, "accept">> &
    Pick<InBandBytestreamsOptions, "accept">;
  readonly #streams = new Map<string, IbbStream>();
  readonly #reserved = new Map<string, Reservation>();
  readonly #unsubscribe: Unsubscribe[];
  #closed = false;

  constructor(link: XmppLink, options: InBandBytestreamsOptions = {}) {
    super();
    checkWindow(options.window);
    if (options.maxBlockSize !== undefined) checkBlockSize(options.maxBlockSize, MAX_BLOCK_SIZE);
    this.link = link;
    this.#options = {
      accept: options.accept,
      window: options.window ?? DEFAULT_WINDOW,
      maxBlockSize: options.maxBlockSize ?? MAX_OFFERED_BLOCK_SIZE,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
      highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    };
    this.#unsubscribe = [
      link.handle("set", NS.IBB, "open", (iq) => this.#onOpen(iq)),
      link.handle("set", NS.IBB, "data", (iq) => this.#onData(iq)),
      link.handle("set", NS.IBB, "close", (iq) => this.#onClose(iq)),
      link.onStanza((stanza) => this.#onStanza(stanza)),
      link.onClose(() => this.#abandonAll("the XMPP connection closed")),
      link.disco.addFeature(NS.IBB),
    ];
  }

  /** The open (or closing) bytestream with `peer` and `sid`, if any. */
  stream(peer: string, sid: string): IbbStream | undefined {
    const jid = tryParseJid(peer);
    return jid ? this.#streams.get(sessionKey(jid.full, sid)) : undefined;
  }

  /** Every bytestream not closed yet. */
  get streams(): IbbStream[] {
    return [...this.#streams.values()];
  }

  /**
   * Opens a bytestream to `peer` (a full JID): sends `<open/>` and resolves once the peer
   * accepted it. On `resource-constraint` it retries with half the block size, down to
   * 512 (docs/protocol/ibb.md#block-size). Rejects with {@link IbbRefusedError} (carrying the
   * `StanzaError`), `TimeoutError`, `AbortError` or {@link IbbSidInUseError}.
   */
  async open(peer: string, options: IbbOpenOptions = {}): Promise<IbbStream> {
    const jid = fullJid(peer);
    const sid = options.sid ?? `ibb-${randomId(8, "hex")}`;
    if (!isValidSid(sid)) throw new TypeError(`sid must be a non-empty NMTOKEN, got "${sid}"`);
    let blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    checkBlockSize(blockSize, MAX_OFFERED_BLOCK_SIZE);
    checkWindow(options.window);
    this.#assertUsable(jid, sid);
    this.#assertFree(jid, sid);
    const what = `opening the In-Band Bytestream '${sid}' with ${jid}`;
    // core's request() writes the IQ before it looks at the signal: check it first.
    if (options.signal?.aborted) throw new AbortError(what, options.signal.reason);
    const key = sessionKey(jid, sid);
    const opening: Opening = { kind: "opening", early: [] };
    this.#reserved.set(key, opening);
    try {
      for (;;) {
        try {
          await this.link.request(
            xml("iq", { type: "set", to: jid }, openElement({ sid, blockSize, stanza: "iq" })),
            { timeoutMs: options.timeoutMs ?? this.#options.requestTimeoutMs, signal: options.signal },
          );
          break;
        } catch (error) {
          if (StanzaError.is(error, "resource-constraint") && blockSize > MIN_RETRY_BLOCK_SIZE) {
            blockSize = Math.max(MIN_RETRY_BLOCK_SIZE, Math.floor(blockSize / 2));
            continue;
          }
          if (error instanceof StanzaError) throw new IbbRefusedError(jid, sid, error);
          // Timed out or aborted: the peer may accept after all; tell it to forget the sid.
          if (!(error instanceof LinkClosedError)) this.#sendCloseBestEffort(jid, sid);
          throw error;
        }
      }
      if (this.#closed) {
        this.#sendCloseBestEffort(jid, sid);
        throw new IbbClosedError(jid, sid, "the In-Band Bytestreams service was closed");
      }
      return this.#createStream(jid, sid, blockSize, "iq", options.window);
    } finally {
      this.#reserved.delete(key);
      for (const replay of opening.early) replay();
    }
  }

  /**
   * Waits for `peer`'s `<open/>` with `sid` (a pre-negotiated session, e.g. a Jingle
   * responder's). Call it before telling the peer to open. The open is accepted when its
   * block size is at most `blockSize` (else `resource-constraint`); the stream uses the
   * open's block size. Rejects with `TimeoutError`, `AbortError`, {@link IbbSidInUseError}.
   */
  expect(peer: string, sid: string, options: IbbExpectOptions): Promise<IbbStream> {
    try {
      const jid = fullJid(peer);
      if (!isValidSid(sid)) throw new TypeError(`sid must be a non-empty NMTOKEN, got "${sid}"`);
      checkBlockSize(options.blockSize, MAX_BLOCK_SIZE);
      checkWindow(options.window);
      this.#assertUsable(jid, sid);
      this.#assertFree(jid, sid);
      const key = sessionKey(jid, sid);
      const what = `waiting for the In-Band Bytestream '${sid}' from ${jid}`;
      const d = deadline(what, options.timeoutMs ?? this.#options.requestTimeoutMs, options.signal);
      return new Promise<IbbStream>((resolve, reject) => {
        const expectation: Expectation = {
          kind: "expected",
          blockSize: options.blockSize,
          window: options.window,
          resolve: (stream) => {
            d.dispose();
            resolve(stream);
          },
          reject: (error) => {
            d.dispose();
            reject(error);
          },
        };
        this.#reserved.set(key, expectation);
        d.promise.catch((error: Error) => {
          // Forget the expectation at once, so a late <open/> gets not-acceptable.
          if (this.#reserved.get(key) === expectation) this.#reserved.delete(key);
          expectation.reject(error);
        });
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A bytestream that is open without an `<open/>` round trip: data may flow at once in
   * both directions (the XTLS draft's `urn:xmpp:jingle:transports:ibb:0`, docs/protocol/ibb.md#under-jingle-xep-0261).
   */
  attach(peer: string, sid: string, options: IbbAttachOptions): IbbStream {
    const jid = fullJid(peer);
    if (!isValidSid(sid)) throw new TypeError(`sid must be a non-empty NMTOKEN, got "${sid}"`);
    checkBlockSize(options.blockSize, MAX_BLOCK_SIZE);
    checkWindow(options.window);
    this.#assertUsable(jid, sid);
    this.#assertFree(jid, sid);
    return this.#createStream(jid, sid, options.blockSize, "iq", options.window);
  }

  /**
   * Closes every bytestream cleanly (as `end()` does), rejects pending `expect()`s, then
   * stops answering: later IBB stanzas get `service-unavailable` from the link.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [key, reservation] of this.#reserved) {
      if (reservation.kind !== "expected") continue;
      this.#reserved.delete(key);
      const [peer = "", sid = ""] = key.split("\n");
      reservation.reject(new IbbClosedError(peer, sid, "the In-Band Bytestreams service was closed"));
    }
    await Promise.allSettled(this.streams.map((s) => s.close()));
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  // --- handlers ---------------------------------------------------------------------

  async #onOpen(iq: IqRequest): Promise<undefined> {
    const peer = this.#peerOf(iq.from);
    const request = parseOpen(iq.payload);
    const key = sessionKey(peer, request.sid);
    const reservation = this.#reserved.get(key);
    if (this.#streams.has(key) || (reservation && reservation.kind !== "expected")) {
      // Not defined by XEP-0047; docs/protocol/ibb.md#opening.
      throw new StanzaError("not-acceptable", {
        type: "cancel",
        text: "this sid is already in use with you",
      });
    }
    if (reservation) {
      // XEP-0261 §2.2, docs/protocol/ibb.md#under-jingle-xep-0261: an open larger than negotiated gets resource-constraint.
      if (request.blockSize > reservation.blockSize) throw this.#tooLarge(reservation.blockSize);
      this.#reserved.delete(key);
      const stream = this.#createStream(
        peer,
        request.sid,
        request.blockSize,
        request.stanza,
        reservation.window,
      );
      // The stream reaches its user through a promise, i.e. after the current turn. A bad
      // <data/> read in the same turn as the <open/> destroys it with an error before anyone
      // could listen, and an 'error' nobody listens to kills the process (found by the fuzz
      // suite). Threat: a peer crashing the client with two stanzas. The error is not lost:
      // the stream is destroyed, and its reader and writers see it.
      stream.on("error", () => {});
      reservation.resolve(stream);
      return undefined;
    }
    if (this.#closed || !this.#options.accept) {
      throw new StanzaError("not-acceptable", { type: "cancel", text: "In-Band Bytestream declined" });
    }
    if (request.blockSize > this.#options.maxBlockSize) throw this.#tooLarge(this.#options.maxBlockSize);
    this.#reserved.set(key, { kind: "deciding" });
    let accepted = false;
    try {
      accepted = await this.#options.accept({ peer, ...request });
    } catch {
      accepted = false;
    } finally {
      this.#reserved.delete(key);
    }
    if (!accepted || this.#closed) {
      throw new StanzaError("not-acceptable", { type: "cancel", text: "In-Band Bytestream declined" });
    }
    // Emitted before our result goes out, so a listener is in place before the first <data/>.
    const stream = this.#createStream(peer, request.sid, request.blockSize, request.stanza, undefined);
    try {
      this.emit("stream", stream);
    } catch (error) {
      stream.abandon(); // a listener threw: the peer gets internal-server-error, nothing dangles
      throw error;
    }
    return undefined;
  }

  #onData(iq: IqRequest): Promise<void> | undefined {
    const { sid } = iq.payload.attrs;
    return this.#whenOpened(iq.from, sid, () => this.#lookup(iq.from, sid).receiveData(iq.payload));
  }

  #onClose(iq: IqRequest): Promise<void> | undefined {
    const { sid } = iq.payload.attrs;
    return this.#whenOpened(iq.from, sid, () => this.#lookup(iq.from, sid).receiveClose());
  }

  // XEP-0047 §4: <data/> inside <message/>; no ack, and nobody to answer a violation to
  // (the stream closes itself on one).
  #onStanza(stanza: Element): void {
    if (stanza.name === "presence") {
      this.#onPresence(stanza);
      return;
    }
    if (stanza.name !== "message" || stanza.attrs.type === "error") return;
    const data = stanza.getChild("data", NS.IBB);
    if (!data) return;
    const deliver = () => this.#lookup(stanza.attrs.from, data.attrs.sid).receiveData(data);
    // Unknown session (dropped) or a violation (the stream has closed itself): nothing to answer.
    try {
      this.#whenOpened(stanza.attrs.from, data.attrs.sid, deliver)?.catch(() => {});
    } catch {}
  }

  // A peer that goes offline takes its bytestreams with it.
  #onPresence(presence: Element): void {
    if (presence.attrs.type !== "unavailable") return;
    const peer = tryParseJid(presence.attrs.from);
    if (!peer?.resource) return;
    for (const stream of this.streams) {
      if (stream.peer === peer.full)
        stream.abandon(new IbbClosedError(stream.peer, stream.sid, "the peer went offline"));
    }
  }

  // --- registry -----------------------------------------------------------------------

  /** Runs `work` now, or, while our `<open/>` for (from, sid) awaits its answer, right after it. */
  #whenOpened(
    from: string | undefined,
    sid: string | undefined,
    work: () => Promise<void> | undefined,
  ): Promise<void> | undefined {
    const peer = tryParseJid(from);
    const reservation =
      peer && sid !== undefined ? this.#reserved.get(sessionKey(peer.full, sid)) : undefined;
    if (reservation?.kind !== "opening") return work();
    return new Promise<void>((resolve, reject) => {
      reservation.early.push(() => {
        try {
          const pending = work();
          if (pending !== undefined) pending.then(resolve, reject);
          else resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  #lookup(from: string | undefined, sid: string | undefined): IbbStream {
    if (!isValidSid(sid)) throw new StanzaError("bad-request", { text: "a 'sid' is required" });
    const peer = tryParseJid(from);
    const stream = peer ? this.#streams.get(sessionKey(peer.full, sid)) : undefined;
    // Unknown sid, or a known sid from anyone but the session's peer (docs/protocol/ibb.md#receiver-errors).
    if (!stream)
      throw new StanzaError("item-not-found", { type: "cancel", text: "no such In-Band Bytestream" });
    return stream;
  }

  #createStream(
    peer: string,
    sid: string,
    blockSize: number,
    stanza: IbbStanzaKind,
    window: number | undefined,
  ): IbbStream {
    const key = sessionKey(peer, sid);
    const stream: IbbStream = new IbbStream({
      link: this.link,
      peer,
      sid,
      blockSize,
      stanza,
      window: window ?? this.#options.window,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      ackTimeoutMs: this.#options.ackTimeoutMs,
      highWaterMark: this.#options.highWaterMark,
      onDetach: () => {
        if (this.#streams.get(key) === stream) this.#streams.delete(key);
      },
    });
    this.#streams.set(key, stream);
    return stream;
  }

  #assertFree(peer: string, sid: string): void {
    const key = sessionKey(peer, sid);
    if (this.#streams.has(key) || this.#reserved.has(key)) throw new IbbSidInUseError(peer, sid);
  }

  #assertUsable(peer: string, sid: string): void {
    if (this.#closed) throw new IbbClosedError(peer, sid, "the In-Band Bytestreams service was closed");
  }

  #peerOf(from: string): string {
    const jid = tryParseJid(from);
    if (!jid) throw new StanzaError("jid-malformed");
    return jid.full;
  }

  #tooLarge(max: number): StanzaError {
    // XEP-0047 §2.1 shows resource-constraint with type 'modify': "retry with a smaller block-size".
    return new StanzaError("resource-constraint", {
      type: "modify",
      text: `block-size larger than ${max}; retry with a smaller one`,
    });
  }

  #sendCloseBestEffort(peer: string, sid: string): void {
    const iq = xml("iq", { type: "set", to: peer }, closeElement(sid));
    this.link.request(iq, { timeoutMs: this.#options.requestTimeoutMs }).catch(() => {});
  }

  #abandonAll(why: string): void {
    for (const [key, reservation] of this.#reserved) {
      if (reservation.kind !== "expected") continue;
      this.#reserved.delete(key);
      const [peer = "", sid = ""] = key.split("\n");
      reservation.reject(new IbbClosedError(peer, sid, why));
    }
    for (const stream of this.streams) stream.abandon(new IbbClosedError(stream.peer, stream.sid, why));
  }
}
