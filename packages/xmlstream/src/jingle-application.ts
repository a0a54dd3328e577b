/**
 * XEP-0247 Jingle XML Streams: the end-to-end XML stream of XEP-0246 as a Jingle
 * application (`<description xmlns='urn:xmpp:jingle:apps:xmlstream:0'/>`, XEP-0247
 * §2). It never runs without the security precondition: an XML stream in the clear
 * is exactly what XTLS exists to avoid (draft §3, initiator rule 1).
 */
import type { Duplex } from "node:stream";
import { type Element, NS, xml } from "@xtls/core";
import type { ApplicationFormat, ApplicationHandle, ContentContext, SecuredStream } from "@xtls/jingle";
import { openXmlStream, type XmlStream, type XmlStreamOptions } from "./xml-stream.js";

/** The draft's disco namespace (§7), accepted on input only. */
export const NS_JINGLE_XMLSTREAM_DRAFT = "urn:xmpp:jingle:apps:xmlstream:1";

export type XmlStreamSessionOptions = Omit<XmlStreamOptions, "role" | "localJid" | "peerJid" | "signal">;

/** One XML stream session: `stream` resolves once both stream headers are exchanged. */
export class XmlStreamSession implements ApplicationHandle {
  readonly namespace = NS.JINGLE_XMLSTREAM;
  readonly plaintextAllowed = false;
  readonly senders = "both" as const;
  /** The open end-to-end XML stream (rejects if the session ends first). */
  readonly stream: Promise<XmlStream>;
  readonly #options: XmlStreamSessionOptions;
  #resolve!: (s: XmlStream) => void;
  #reject!: (e: Error) => void;

  constructor(options: XmlStreamSessionOptions = {}) {
    this.#options = options;
    this.stream = new Promise<XmlStream>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.stream.catch(() => {});
  }

  description(): Element {
    return xml("description", { xmlns: NS.JINGLE_XMLSTREAM });
  }

  ended(error: Error | undefined): void {
    // A session that ends before the stream opened: the stream will never come.
    this.#reject(error ?? new Error("the session ended before the XML stream was opened"));
  }

  async run(duplex: Duplex, _security: SecuredStream | undefined, ctx: ContentContext): Promise<void> {
    const onAbort = () =>
      this.#reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error("the session ended"));
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const stream = await openXmlStream(duplex, {
        ...this.#options,
        role: ctx.role,
        localJid: ctx.local,
        peerJid: ctx.peer,
        signal: ctx.signal,
      });
      this.#resolve(stream);
      // The application is done when the stream is: cleanly (both </stream:stream>),
      // or with the error that ended it.
      await stream.closed;
    } catch (error) {
      this.#reject(error as Error);
      throw error;
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
    }
  }
}

/** The application format for responders: each accepted session gets its own stream. */
export class XmlStreamApplication implements ApplicationFormat {
  readonly namespaces = [NS.JINGLE_XMLSTREAM, NS_JINGLE_XMLSTREAM_DRAFT] as const;
  readonly plaintextAllowed = false;
  readonly #options: XmlStreamSessionOptions;

  constructor(options: XmlStreamSessionOptions = {}) {
    this.#options = options;
  }

  /** A session handle for initiating. */
  offer(): XmlStreamSession {
    return new XmlStreamSession(this.#options);
  }

  accept(_ctx: ContentContext, _offer: Element): XmlStreamSession {
    return new XmlStreamSession(this.#options);
  }
}
