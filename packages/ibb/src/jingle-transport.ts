/**
 * XEP-0261 Jingle In-Band Bytestreams transport: a thin adapter that lets a Jingle
 * session use {@link InBandBytestreams} (XEP-0261 §2.2).
 *
 *   <transport xmlns='urn:xmpp:jingle:transports:ibb:1' sid='…' block-size='4096'/>
 *
 * The IBB sid is the transport's own, distinct from the Jingle sid. The responder may
 * lower block-size in its accept. With `ibb:1` the initiator sends the XEP-0047
 * `<open/>` after the accept, and the transport is open when the open is answered.
 * The draft's `ibb:0` (accepted on input) has no open: data flows after session-accept.
 */

import type { Duplex } from "node:stream";
import { type Element, NS, randomId, xml } from "@xtls/core";
import {
  type ContentContext,
  JingleReasonError,
  TransportFailedError,
  type TransportHandle,
  type TransportMethod,
} from "@xtls/jingle";
import { DEFAULT_BLOCK_SIZE, MAX_OFFERED_BLOCK_SIZE } from "./elements.js";
import type { InBandBytestreams } from "./service.js";
import type { IbbStream } from "./stream.js";

/** The namespace of the draft (no `<open/>` round trip); accepted, never offered. */
export const NS_JINGLE_IBB_0 = "urn:xmpp:jingle:transports:ibb:0";

export interface IbbTransportOptions {
  readonly ibb: InBandBytestreams;
  /** Block size we offer (initiator) or accept at most (responder). Default 4096. */
  readonly blockSize?: number;
  /** Data IQs in flight; default: the IBB service's. */
  readonly window?: number;
}

export class IbbTransport implements TransportMethod {
  readonly namespaces = [NS.JINGLE_IBB, NS_JINGLE_IBB_0] as const;
  readonly #ibb: InBandBytestreams;
  readonly #blockSize: number;
  readonly #window: number | undefined;

  constructor(options: IbbTransportOptions) {
    this.#ibb = options.ibb;
    this.#blockSize = Math.min(options.blockSize ?? DEFAULT_BLOCK_SIZE, MAX_OFFERED_BLOCK_SIZE);
    this.#window = options.window;
  }

  offer(ctx: ContentContext): TransportHandle {
    const sid = `ibb${randomId(8, "hex")}`;
    let blockSize = this.#blockSize;
    let legacy = false;
    return this.#handle(ctx, {
      element: () => transportElement(NS.JINGLE_IBB, sid, blockSize),
      accepted: (answer) => {
        // The responder may lower block-size (XEP-0261 §2); never raise it.
        const theirs = Number(answer.attrs["block-size"]);
        if (Number.isInteger(theirs) && theirs > 0) blockSize = Math.min(blockSize, theirs);
        legacy = answer.getNS() === NS_JINGLE_IBB_0;
      },
      open: (signal) =>
        legacy
          ? this.#ibb.attach(ctx.peer, sid, { blockSize, window: this.#window })
          : this.#ibb.open(ctx.peer, { sid, blockSize, window: this.#window, signal }),
    });
  }

  accept(ctx: ContentContext, offer: Element): TransportHandle {
    const sid = offer.attrs.sid;
    const offered = Number(offer.attrs["block-size"]);
    if (!sid || !Number.isInteger(offered) || offered <= 0) {
      throw new JingleReasonError(
        "incompatible-parameters",
        "the IBB transport needs a sid and a positive block-size",
      );
    }
    if (offer.attrs.stanza === "message") {
      // We receive the message flavour of XEP-0047 but never agree to send with it
      // (docs/protocol/ibb.md#message-stanzas): no acks, so no flow control for TLS.
      throw new JingleReasonError(
        "incompatible-parameters",
        "stanza='message' is not accepted for an XTLS transport",
      );
    }
    const legacy = offer.getNS() === NS_JINGLE_IBB_0;
    const blockSize = Math.min(offered, this.#blockSize);
    return this.#handle(ctx, {
      element: () => transportElement(legacy ? NS_JINGLE_IBB_0 : NS.JINGLE_IBB, sid, blockSize),
      open: (signal) =>
        legacy
          ? Promise.resolve(this.#ibb.attach(ctx.peer, sid, { blockSize, window: this.#window }))
          : this.#ibb.expect(ctx.peer, sid, { blockSize, window: this.#window, signal }),
    });
  }

  #handle(
    ctx: ContentContext,
    parts: {
      element(): Element;
      accepted?(answer: Element): void;
      open(signal: AbortSignal): IbbStream | Promise<IbbStream>;
    },
  ): TransportHandle {
    let stream: IbbStream | undefined;
    const abort = new AbortController();
    ctx.signal.addEventListener("abort", () => abort.abort(ctx.signal.reason), { once: true });
    return {
      element: parts.element,
      accepted: parts.accepted,
      connect: async (): Promise<Duplex> => {
        try {
          stream = await parts.open(abort.signal);
          return stream;
        } catch (error) {
          throw new TransportFailedError(
            `the in-band bytestream could not be opened: ${(error as Error).message}`,
            {
              cause: error,
              condition: "failed-transport",
            },
          );
        }
      },
      close: () => {
        abort.abort();
        if (stream && !stream.destroyed && stream.state === "open" && stream.writableEnded === false)
          stream.destroy();
      },
    };
  }
}

function transportElement(ns: string, sid: string, blockSize: number): Element {
  return xml("transport", { xmlns: ns, sid, "block-size": String(blockSize) });
}
