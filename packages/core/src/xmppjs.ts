/**
 * The xmpp.js adapter: turns an `@xmpp/client` 0.14 client into an {@link XmppLink},
 * using its public surfaces (`send`, `middleware`, `jid`, `socket`, events) and, for one
 * fix (linear parsing, below), its stream parser.
 *
 * The xmpp.js quirks dealt with here (docs/peers.md#the-xmppjs-client):
 *
 * - **Nagle.** xmpp.js never sets TCP no-delay, which caps one-in-flight IQs at ~22/s.
 *   We set it on every (re)connected socket.
 * - **Stream-management miscount.** xmpp.js's `iqCaller` consumes IQ results before the
 *   XEP-0198 counter sees them, so `h` stays too low and ejabberd closes the stream
 *   after 5000 unacknowledged stanzas. Our requests do not go through `iqCaller`: we
 *   send them ourselves and match replies in our own middleware, which runs after the
 *   SM counter, so every stanza of XTLS traffic is counted. (IQ requests an application
 *   makes through `iqCaller` itself are still miscounted by xmpp.js; that is its bug.)
 *   And because xmpp.js only asks the server for an ack after 250 ms of silence, its
 *   queue of unacknowledged stanzas would grow for as long as a bytestream runs; we ask
 *   for an ack (`<r/>`) every {@link SM_ACK_EVERY} stanzas we send.
 * - **Stream management not settled at `online`.** xmpp.js resolves `start()` before
 *   XEP-0198 is enabled; stanzas sent in that window made Prosody close the stream
 *   ("Client acknowledged more stanzas than sent by server"). Our sends wait for
 *   {@link streamManagementSettled} after every `online`.
 * - **Quadratic parsing.** xmpp.js hands each read to ltx, which looks for the end of a
 *   text or attribute value again at every character of one the read cuts off: a Base64
 *   `<data/>` of a 16 KiB IBB block parses at 25 MB/s in 16 KiB reads (230 in one piece),
 *   and a peer's large message body costs CPU quadratic in its size. With
 *   {@link XmppJsLinkOptions.linearParsing} (default on) the parser is handed each read
 *   only up to its last `>`; the rest waits for the next read (see {@link holdToTagEnd}).
 */
import type { DiscoIdentity } from "./disco.js";
import { type IqReply, LinkClosedError } from "./iq-engine.js";
import { LinkBase } from "./link-base.js";
import { NS } from "./namespaces.js";
import { type Element, xml } from "./xml.js";

/** Send `<r xmlns='urn:xmpp:sm:3'/>` after this many outgoing stanzas while SM is on. */
export const SM_ACK_EVERY = 64;

/** The parts of an `@xmpp/client` 0.14 client this adapter uses. */
export interface XmppJsClient {
  readonly jid?: { toString(): string } | null;
  send(stanza: Element): Promise<unknown>;
  readonly middleware: {
    use(fn: (ctx: XmppJsContext, next: () => Promise<unknown>) => unknown): unknown;
  };
  readonly socket?: { setNoDelay?(noDelay?: boolean): unknown } | null;
  readonly streamManagement?: { readonly enabled?: boolean } | null;
  on(event: string, listener: (...args: never[]) => void): unknown;
  removeListener?(event: string, listener: (...args: never[]) => void): unknown;
}

export interface XmppJsContext {
  readonly stanza: Element;
}

export interface XmppJsLinkOptions {
  identity?: DiscoIdentity;
  /** Set TCP no-delay on the client's socket (default true). */
  noDelay?: boolean;
  /**
   * Hand xmpp.js's parser each read only up to its last `>` (default true): parsing stays
   * linear in what the server sends (see the file comment). It reaches into xmpp.js 0.14's
   * connection (`parser`, `_attachParser`); a client without them is left as it is.
   */
  linearParsing?: boolean;
}

/** What {@link holdToTagEnd} needs of a parser: xmpp.js's `Parser` has it. */
export interface ChunkParser {
  write(data: string): void;
}

const HELD = Symbol("xtls.holdToTagEnd");

/**
 * Makes `parser.write` pass on each chunk only up to its last `>`, holding the rest until
 * a later chunk has one. Nothing a `>` completes (a start tag, an end tag, a stanza) is
 * ever held, so events come when they did; what is held is the text or the part of a tag
 * that the chunk cut off, which ltx would otherwise search again at every character
 * (quadratic). Held pieces are joined once, when their `>` arrives. Idempotent.
 *
 * It is exact for a stream whose text and attribute values carry no raw `>`, which is what
 * servers send (Prosody escapes `>` in both): the last `>` of a read then always ends a tag.
 * A raw `>` inside a long text is still correct, only slower (ltx again, from that `>` on).
 * Peer input that no server re-serialised goes through `StanzaStreamParser`, whose scanner
 * knows exactly where an unfinished run begins.
 */
export function holdToTagEnd(parser: ChunkParser): void {
  const marked = parser as ChunkParser & { [HELD]?: true };
  if (marked[HELD]) return;
  marked[HELD] = true;
  const write = parser.write.bind(parser);
  const held: string[] = [];
  parser.write = (data: string) => {
    const cut = data.lastIndexOf(">") + 1;
    if (cut === 0) {
      if (data.length > 0) held.push(data);
      return;
    }
    let ready = cut === data.length ? data : data.slice(0, cut);
    if (held.length > 0) {
      held.push(ready);
      ready = held.join("");
      held.length = 0;
    }
    if (cut < data.length) held.push(data.slice(cut));
    write(ready);
  };
}

/** The xmpp.js 0.14 connection internals linear parsing uses (both may be absent). */
interface ParserInternals {
  parser?: ChunkParser | null;
  _attachParser?: (parser: ChunkParser) => unknown;
}

function parseLinearly(client: XmppJsClient): void {
  const c = client as XmppJsClient & ParserInternals;
  // The parser of the stream open now, and every one a later stream (reconnect) gets.
  if (c.parser) holdToTagEnd(c.parser);
  const attach = c._attachParser;
  if (typeof attach !== "function") return;
  c._attachParser = function (this: unknown, parser: ChunkParser) {
    holdToTagEnd(parser);
    return attach.call(this, parser);
  };
}

export class XmppJsLink extends LinkBase {
  readonly client: XmppJsClient;
  readonly #noDelay: boolean;
  #sentSinceAck = 0;
  #online: boolean;
  /** Resolves once XEP-0198 is enabled (or known not to be) after the last `online`. */
  #settled: Promise<void>;

  constructor(client: XmppJsClient, options: XmppJsLinkOptions = {}) {
    super(options.identity);
    this.client = client;
    this.#noDelay = options.noDelay ?? true;
    if (options.linearParsing ?? true) parseLinearly(client);
    this.#online = client.jid != null;
    this.#settled = this.#online ? streamManagementSettled(client) : Promise.resolve();
    client.middleware.use((ctx, next) => this.#incoming(ctx.stanza, next));
    client.on("online", () => {
      this.#online = true;
      this.#settled = streamManagementSettled(client);
      this.#applyNoDelay();
    });
    client.on("send", (el: Element) => this.#countSent(el));
    client.on("disconnect", () => this.#dropped());
    client.on("offline", () => this.#dropped());
    this.#applyNoDelay();
  }

  get jid(): string {
    return this.client.jid?.toString() ?? "";
  }

  async send(stanza: Element): Promise<void> {
    if (!this.#online) throw new LinkClosedError(this.jid || "xmpp.js client");
    await this.#settled;
    if (!this.#online) throw new LinkClosedError(this.jid || "xmpp.js client");
    await this.client.send(stanza);
  }

  // Every stanza xmpp.js puts on the wire — ours, and the IQ results it sends for the
  // requests we answer (the receiving side of a bytestream sends one per block) — goes
  // into its queue of unacknowledged stanzas. Ask for an ack every SM_ACK_EVERY of them,
  // or that queue grows for as long as a transfer runs (measured against ejabberd: 6146
  // entries on the receiver of 6144 IBB blocks before this counted replies too).
  #countSent(el: Element): void {
    if (el.name !== "iq" && el.name !== "message" && el.name !== "presence") return;
    if (!this.client.streamManagement?.enabled || ++this.#sentSinceAck < SM_ACK_EVERY) return;
    this.#sentSinceAck = 0;
    // A nonza: not counted, not queued by SM; the server answers with <a h=…/>, which
    // lets xmpp.js trim its queue.
    this.client.send(xml("r", { xmlns: NS.SM })).catch(() => {});
  }

  #applyNoDelay(): void {
    if (this.#noDelay) this.client.socket?.setNoDelay?.(true);
  }

  #dropped(): void {
    if (!this.#online) return;
    this.#online = false;
    const error = new LinkClosedError(this.jid || "xmpp.js client");
    this.engine.failPending(error);
    this.fireClose(error);
  }

  // Runs after xmpp.js's iqCallee validation and SM counting (see the file comment).
  // Return values follow iqCallee's convention: an element is the result payload,
  // `true` an empty result, an <error/> element an error reply.
  #incoming(stanza: Element, next: () => Promise<unknown>): unknown {
    if (stanza.name !== "iq") {
      this.notify(stanza);
      return next();
    }
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") return this.engine.receiveReply(stanza) ? undefined : next();
    if (type !== "get" && type !== "set") return next();
    const payload = stanza.getChildElements()[0];
    if (!payload || !this.engine.hasHandler(type, payload.getNS() ?? "", payload.getName())) return next();
    const toCallee = (reply: IqReply) =>
      reply.type === "error" ? reply.error.toElement() : (reply.payload ?? true);
    const reply = this.engine.dispatch(stanza);
    return reply instanceof Promise ? reply.then(toCallee) : toCallee(reply);
  }
}

/**
 * Resolves once xmpp.js's stream management is settled: enabled, or not negotiated.
 *
 * `client.start()` resolves on "online", before the server's `<enabled/>` is processed,
 * and xmpp.js zeroes its inbound counter only when it handles `<enabled/>` — after the
 * stanzas that followed it were already counted. Traffic in that window (presence, a
 * roster push) leaves `h` too low, and Prosody closes the stream ("the client
 * acknowledged less stanzas than already acknowledged"). Measured here with an initial
 * presence sent right after `start()`; waiting for this before any traffic avoids it.
 */
export async function streamManagementSettled(client: XmppJsClient, timeoutMs = 5000): Promise<void> {
  const sm = client.streamManagement as { enabled?: boolean; enableSent?: boolean } | null | undefined;
  if (!sm) return;
  const t0 = Date.now();
  // Give the enable request a moment to go out (it follows bind).
  while (!sm.enabled && Date.now() - t0 < timeoutMs) {
    if (!sm.enableSent && Date.now() - t0 > 200) return; // the server offered no SM
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Wraps a started (or about to start) `@xmpp/client` client as an {@link XmppLink}. */
export function fromXmppClient(client: XmppJsClient, options?: XmppJsLinkOptions): XmppJsLink {
  return new XmppJsLink(client, options);
}
