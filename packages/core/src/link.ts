/**
 * The `XmppLink` port: everything an XTLS package needs from an XMPP connection.
 * Implemented by the embedded {@link LocalRouter}'s links and by the xmpp.js adapter
 * ({@link fromXmppClient}); a transport or application never sees which one it has.
 */
import type { DiscoRegistry } from "./disco.js";
import type { Element } from "./xml.js";

export type IqType = "get" | "set";

/** An incoming IQ get/set, as a handler sees it. */
export interface IqRequest {
  readonly type: IqType;
  readonly id: string;
  /** The sender's JID exactly as the server stamped it. */
  readonly from: string;
  readonly to: string;
  /** The single payload child (validated: exactly one). */
  readonly payload: Element;
  /** The whole `<iq/>`. */
  readonly stanza: Element;
}

/**
 * Answers an IQ get/set: return the result payload (or nothing for an empty result),
 * or throw a `StanzaError` for an error reply. Any other exception becomes
 * `internal-server-error`. Exactly one reply is sent, whatever the handler does.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: handlers that return nothing mean "empty result".
export type IqHandler = (iq: IqRequest) => Element | undefined | void | Promise<Element | undefined | void>;

export type StanzaListener = (stanza: Element) => void;
export type Unsubscribe = () => void;

export interface RequestOptions {
  /** Default 30 000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface XmppLink {
  /** Our own full JID, as bound by the server. */
  readonly jid: string;
  /** Sends a stanza (message, presence, or an IQ whose reply you do not want). */
  send(stanza: Element): Promise<void>;
  /**
   * Sends an IQ get/set and resolves with the `<iq type='result'/>`; rejects with a
   * `StanzaError` on an error reply, `TimeoutError`, or `AbortError`. The reply must
   * come from the JID the request was sent to.
   */
  request(iq: Element, options?: RequestOptions): Promise<Element>;
  /** Registers the handler for IQs of `type` whose payload is `<name xmlns=ns/>`. */
  handle(type: IqType, ns: string, name: string, handler: IqHandler): Unsubscribe;
  /** Every incoming message and presence stanza (IQs go to handlers). */
  onStanza(listener: StanzaListener): Unsubscribe;
  /** Called once when the connection is gone; pending requests have been rejected. */
  onClose(listener: (error?: Error) => void): Unsubscribe;
  /** Our disco#info: identity and features, answered for us. */
  readonly disco: DiscoRegistry;
}
