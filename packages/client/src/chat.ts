/**
 * An end-to-end encrypted chat: an XML stream (XEP-0246) inside a Jingle + XTLS session,
 * with the handful of things a chat needs on top — text messages in, text messages out,
 * who the peer is, and closing.
 */
import { EventEmitter } from "node:events";
import { type Element, xml } from "@xtls/core";
import type { JingleSession } from "@xtls/jingle";
import type { XtlsChannel } from "@xtls/jingle-xtls";
import type { PeerIdentity } from "@xtls/tls";
import type { XmlStream } from "@xtls/xmlstream";

export interface ChatMessage {
  /** The peer's full JID (as authenticated by TLS). */
  readonly from: string;
  readonly body: string;
  readonly type: string;
  readonly id: string | undefined;
  /** The whole `<message/>`, for extensions (chat states, receipts…). */
  readonly stanza: Element;
}

export interface ChatEvents {
  message: [message: ChatMessage];
  /** Presence and other stanzas than messages with a body. */
  stanza: [stanza: Element];
  /** The chat ended: cleanly (no error) or not. */
  close: [error?: Error];
}

export class Chat extends EventEmitter<ChatEvents> {
  /** The peer's full JID. */
  readonly peer: string;
  /** The end-to-end XML stream itself (an XmppLink: IQ handlers, requests, disco). */
  readonly stream: XmlStream;
  readonly session: JingleSession;
  /** Resolves when the chat ended cleanly, rejects with what ended it. */
  readonly closed: Promise<void>;

  constructor(stream: XmlStream, session: JingleSession) {
    super();
    this.stream = stream;
    this.session = session;
    this.peer = stream.peerJid;
    stream.on("stanza", (stanza) => {
      const body = stanza.name === "message" ? stanza.getChildText("body") : null;
      if (body !== null) {
        this.emit("message", {
          from: stanza.attrs.from ?? this.peer,
          body,
          type: stanza.attrs.type ?? "normal",
          id: stanza.attrs.id,
          stanza,
        });
      } else this.emit("stanza", stanza);
    });
    this.closed = Promise.all([stream.closed, session.done]).then(() => undefined);
    this.closed.then(
      () => this.emit("close"),
      (error: Error) => this.emit("close", error),
    );
  }

  /** Who the peer is: its certificate's fingerprint and what made it trusted. */
  get peerIdentity(): PeerIdentity | undefined {
    return (this.session.secured as XtlsChannel | undefined)?.peer;
  }

  /** TLS details: protocol, cipher, whether the session was resumed. */
  get tls(): { protocol: string; cipher: string; resumed: boolean } | undefined {
    const channel = this.session.secured as XtlsChannel | undefined;
    return channel
      ? { protocol: channel.protocol, cipher: channel.cipher, resumed: channel.resumed }
      : undefined;
  }

  /** Sends a chat message (or any stanza). Resolves once it is written to the tunnel. */
  send(message: string | Element): Promise<void> {
    return this.stream.send(
      typeof message === "string" ? xml("message", { type: "chat" }, xml("body", {}, message)) : message,
    );
  }

  /** Ends the chat: `</stream:stream>`, TLS close_notify, session-terminate `<success/>`. */
  async close(): Promise<void> {
    await this.stream.close();
    await this.session.done.catch(() => {});
  }
}
