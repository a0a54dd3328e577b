/**
 * What every `XmppLink` implementation shares: the IQ engine (handlers, requests,
 * exactly one reply), the disco#info responder, stanza and close listeners. A
 * subclass only puts stanzas on its wire (`send`) and feeds what arrives to
 * {@link LinkBase.deliver}.
 */
import { type DiscoIdentity, DiscoInfo } from "./disco.js";
import { IqEngine } from "./iq-engine.js";
import type { IqHandler, IqType, RequestOptions, StanzaListener, Unsubscribe, XmppLink } from "./link.js";
import { NS } from "./namespaces.js";
import type { Element } from "./xml.js";

export abstract class LinkBase implements XmppLink {
  readonly disco: DiscoInfo;
  protected readonly engine: IqEngine;
  readonly #listeners = new Set<StanzaListener>();
  readonly #closeListeners = new Set<(error?: Error) => void>();

  constructor(identity?: DiscoIdentity) {
    this.disco = new DiscoInfo(identity);
    this.engine = new IqEngine({
      ownJid: () => this.jid,
      write: (stanza) => this.send(stanza),
      onHandlerError: (error) => this.warn("IQ handler", error),
    });
    this.engine.handle("get", NS.DISCO_INFO, "query", this.disco.answer);
  }

  abstract get jid(): string;
  abstract send(stanza: Element): Promise<void>;

  request(iq: Element, options?: RequestOptions): Promise<Element> {
    return this.engine.request(iq, options);
  }

  handle(type: IqType, ns: string, name: string, handler: IqHandler): Unsubscribe {
    return this.engine.handle(type, ns, name, handler);
  }

  onStanza(listener: StanzaListener): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onClose(listener: (error?: Error) => void): Unsubscribe {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Hands an incoming stanza to the IQ engine, or else to the stanza listeners. */
  protected deliver(stanza: Element): void {
    if (stanza.name === "iq") {
      this.engine.receive(stanza);
      return;
    }
    this.notify(stanza);
  }

  /** Calls the stanza listeners; one that throws does not stop the others. */
  protected notify(stanza: Element): void {
    for (const listener of this.#listeners) {
      try {
        listener(stanza);
      } catch (error) {
        this.warn("stanza listener", error);
      }
    }
  }

  /** Tells the close listeners the connection is gone. */
  protected fireClose(error?: Error, forget = false): void {
    for (const listener of [...this.#closeListeners]) listener(error);
    if (forget) {
      this.#closeListeners.clear();
      this.#listeners.clear();
    }
  }

  private warn(what: string, error: unknown): void {
    process.emitWarning(
      `${what} of ${this.jid} threw: ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
}
