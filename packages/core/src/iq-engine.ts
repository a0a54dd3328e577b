/**
 * The IQ semantics every `XmppLink` shares (RFC 6120 §8.2.3; docs/protocol/core.md#iq-rules-we-rely-on):
 * handler registry, exactly one reply per get/set, never a reply to a result or an
 * error, request/response matching on (id, peer JID), timeouts and aborts.
 */
import { deadline } from "./abort.js";
import { XtlsError } from "./errors.js";
import { sameJid, tryParseJid } from "./jid.js";
import type { IqHandler, IqRequest, IqType, RequestOptions, Unsubscribe } from "./link.js";
import { randomId } from "./random-id.js";
import { StanzaError } from "./stanza-error.js";
import { type Element, iqPayload, xml } from "./xml.js";

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** What to answer an IQ get/set with. */
export type IqReply =
  | { readonly type: "result"; readonly payload?: Element }
  | { readonly type: "error"; readonly error: StanzaError };

export class LinkClosedError extends XtlsError {
  constructor(jid: string, cause?: unknown) {
    super("link-closed", `the XMPP connection of ${jid} is closed`, { cause });
  }
}

interface Pending {
  readonly peer: string | undefined;
  resolve(stanza: Element): void;
  reject(error: Error): void;
}

export interface IqEngineOptions {
  /** Our own full JID (may change until the connection is bound). */
  ownJid(): string;
  /** Puts a stanza on the wire. */
  write(stanza: Element): Promise<void>;
  /** Called with handler exceptions that were not StanzaErrors (they become internal-server-error). */
  onHandlerError?(error: unknown, iq: IqRequest): void;
}

export function newStanzaId(): string {
  return randomId(9);
}

function key(type: IqType, ns: string, name: string): string {
  return `${type} ${ns} ${name}`;
}

export class IqEngine {
  readonly #handlers = new Map<string, IqHandler>();
  readonly #pending = new Map<string, Pending>();
  readonly #options: IqEngineOptions;
  /** Set by `close()`: the error later requests fail with, made on first use. */
  #closed: (() => Error) | undefined;

  constructor(options: IqEngineOptions) {
    this.#options = options;
  }

  handle(type: IqType, ns: string, name: string, handler: IqHandler): Unsubscribe {
    const k = key(type, ns, name);
    if (this.#handlers.has(k)) {
      throw new XtlsError(
        "handler-exists",
        `an IQ ${type} handler for <${name} xmlns='${ns}'/> is already registered`,
      );
    }
    this.#handlers.set(k, handler);
    return () => {
      if (this.#handlers.get(k) === handler) this.#handlers.delete(k);
    };
  }

  hasHandler(type: IqType, ns: string, name: string): boolean {
    return this.#handlers.has(key(type, ns, name));
  }

  async request(iq: Element, options: RequestOptions = {}): Promise<Element> {
    if (this.#closed) throw this.#closed();
    const type = iq.attrs.type;
    if (type !== "get" && type !== "set")
      throw new TypeError(`request() needs an IQ get or set, not type=${type}`);
    if (!iq.attrs.id || this.#pending.has(iq.attrs.id)) iq.attrs.id = newStanzaId();
    const id = iq.attrs.id;
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const d = deadline(
      `IQ ${type} ${iqPayload(iq)?.name ?? ""} to ${iq.attrs.to ?? "server"}`,
      timeoutMs,
      options.signal,
    );
    if (options.signal?.aborted) {
      // Never put a request on the wire that its caller has already given up on.
      d.dispose();
      return d.promise;
    }
    const reply = new Promise<Element>((resolve, reject) => {
      this.#pending.set(id, { peer: iq.attrs.to, resolve, reject });
    });
    // The reply can arrive (and be an error) before the write settles, while nobody
    // awaits `reply` yet; that must not surface as an unhandled rejection.
    reply.catch(() => {});
    try {
      await Promise.race([this.#options.write(iq), d.promise]);
      return await Promise.race([reply, d.promise]);
    } finally {
      d.dispose();
      this.#pending.delete(id);
    }
  }

  /**
   * Offers an incoming IQ result/error to the pending requests. Returns true when it
   * answered one of ours (and came from the peer we asked).
   */
  receiveReply(stanza: Element): boolean {
    const id = stanza.attrs.id;
    if (id === undefined) return false;
    const pending = this.#pending.get(id);
    if (!pending || !this.#replyFromMatches(stanza.attrs.from, pending.peer)) return false;
    this.#pending.delete(id);
    if (stanza.attrs.type === "error") pending.reject(StanzaError.fromStanza(stanza));
    else pending.resolve(stanza);
    return true;
  }

  // RFC 6120 §8.1.2.1: a reply to a request without 'to' comes from our own account
  // (bare or full JID, or its server); otherwise it must come from the JID we asked.
  #replyFromMatches(from: string | undefined, peer: string | undefined): boolean {
    if (peer === undefined || peer === "") {
      if (from === undefined) return true;
      const own = tryParseJid(this.#options.ownJid());
      const f = tryParseJid(from);
      return (
        own !== undefined &&
        f !== undefined &&
        (f.full === own.bare || f.full === own.domain || f.full === own.full)
      );
    }
    if (from === undefined) {
      // Some servers omit 'from' when answering for the user's own bare JID.
      const own = tryParseJid(this.#options.ownJid());
      return own !== undefined && sameJid(peer, own.bare);
    }
    return sameJid(from, peer);
  }

  /**
   * Runs the handler for an incoming get/set and returns what to answer. Never
   * throws. Validation happens here: exactly one payload child, a handler for it.
   */
  dispatch(stanza: Element): Promise<IqReply> | IqReply {
    const type = stanza.attrs.type as IqType;
    const payload = iqPayload(stanza);
    if (!payload)
      return {
        type: "error",
        error: new StanzaError("bad-request", { text: "an IQ get/set carries exactly one payload" }),
      };
    const ns = payload.getNS() ?? "";
    const handler = this.#handlers.get(key(type, ns, payload.getName()));
    if (!handler) return { type: "error", error: new StanzaError("service-unavailable") };
    const request: IqRequest = {
      type,
      id: stanza.attrs.id ?? "",
      from: stanza.attrs.from ?? "",
      to: stanza.attrs.to ?? this.#options.ownJid(),
      payload,
      stanza,
    };
    const fail = (error: unknown): IqReply => {
      if (error instanceof StanzaError) return { type: "error", error };
      this.#options.onHandlerError?.(error, request);
      return { type: "error", error: new StanzaError("internal-server-error") };
    };
    try {
      // The handler's synchronous part runs now, in arrival order; bytestreams rely on it.
      const result = handler(request);
      if (result instanceof Promise) {
        return result.then((payload) => ({ type: "result", payload: payload ?? undefined }) as IqReply, fail);
      }
      return { type: "result", payload: result ?? undefined };
    } catch (error) {
      return fail(error);
    }
  }

  /**
   * Handles any incoming stanza that is an IQ: replies are matched, get/set are
   * dispatched and answered through `write`. Returns false for non-IQ stanzas.
   */
  receive(stanza: Element): boolean {
    if (stanza.name !== "iq") return false;
    const type = stanza.attrs.type;
    if (type === "result" || type === "error") {
      this.receiveReply(stanza); // unmatched replies are dropped, never answered
      return true;
    }
    if (type !== "get" && type !== "set") {
      // RFC 6120 §8.2.3: the type is required; answer a bogus one like any bad request.
      void this.#reply(stanza, {
        type: "error",
        error: new StanzaError("bad-request", { text: "invalid IQ type" }),
      });
      return true;
    }
    const reply = this.dispatch(stanza);
    if (reply instanceof Promise) void reply.then((r) => this.#reply(stanza, r));
    else void this.#reply(stanza, reply);
    return true;
  }

  async #reply(request: Element, reply: IqReply): Promise<void> {
    try {
      await this.#options.write(buildIqReply(request, reply));
    } catch {
      // The connection went away; the requester will time out or see it close.
    }
  }

  /**
   * Rejects every pending request (the connection dropped; it may come back). `error` may
   * be a function that makes it: it is called only if a request is pending (an Error's
   * stack trace costs more than the rest of closing an idle link).
   */
  failPending(error: Error | (() => Error)): void {
    if (this.#pending.size === 0) return;
    const reason = typeof error === "function" ? error() : error;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(reason);
    }
  }

  /** Rejects every pending request; later requests fail at once (`error` as for `failPending`). */
  close(error: Error | (() => Error)): void {
    let made: Error | undefined = typeof error === "function" ? undefined : error;
    const reason = () => {
      made ??= (error as () => Error)();
      return made;
    };
    this.#closed = reason;
    this.failPending(reason);
  }
}

/** The `<iq type='result'/>` or `<iq type='error'/>` answering `request`. */
export function buildIqReply(request: Element, reply: IqReply): Element {
  const attrs = { type: reply.type, id: request.attrs.id, to: request.attrs.from, from: request.attrs.to };
  if (reply.type === "result") return xml("iq", attrs, reply.payload);
  // RFC 6120 §8.3.1: the error may include the original payload; we do not echo it
  // (data IQs would double the traffic of a failing bytestream).
  return xml("iq", attrs, reply.error.toElement());
}
