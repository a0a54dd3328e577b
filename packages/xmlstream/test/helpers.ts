import type { Duplex } from "node:stream";
import { duplexPair, type Element, StanzaStreamParser } from "@xtls/core";
import {
  createIdentity,
  type Identity,
  MemoryTrustStore,
  NodeTlsEngine,
  type SecureChannel,
} from "@xtls/tls";
import { openXmlStream, type XmlStream, type XmlStreamOptions } from "../src/index.js";

// The draft's parties (seed 004 §4), one domain and one resource each.
export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";

export const STREAM_OPEN =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'";

const identities = new Map<string, Identity>();
function identityOf(jid: string): Identity {
  let id = identities.get(jid);
  if (!id) {
    id = createIdentity(jid);
    identities.set(jid, id);
  }
  return id;
}

export type CarrierKind = "duplexPair" | "TLS 1.3";

export interface Connection {
  /** Romeo's (the initiator's) byte stream, and Juliet's. */
  romeo: Duplex;
  juliet: Duplex;
  /** The in-memory pair underneath (the TLS carriers, or the byte streams themselves). */
  carriers: [Duplex, Duplex];
  channels?: [SecureChannel, SecureChannel];
}

/**
 * Two connected byte streams: an in-memory pair, or the plaintext sides of a mutually
 * authenticated TLS 1.3 channel over one (both sides pin each other's certificate).
 */
export async function connect(kind: CarrierKind): Promise<Connection> {
  const [a, b] = duplexPair();
  if (kind === "duplexPair") return { romeo: a, juliet: b, carriers: [a, b] };
  const romeoTrust = new MemoryTrustStore();
  const julietTrust = new MemoryTrustStore();
  await romeoTrust.pin(JULIET, identityOf(JULIET).fingerprint, { method: "manual" });
  await julietTrust.pin(ROMEO, identityOf(ROMEO).fingerprint, { method: "manual" });
  const romeoEngine = new NodeTlsEngine({ identity: identityOf(ROMEO), trustStore: romeoTrust });
  const julietEngine = new NodeTlsEngine({ identity: identityOf(JULIET), trustStore: julietTrust });
  const [r, j] = await Promise.all([
    romeoEngine.secure(a, { role: "initiator", localJid: ROMEO, peerJid: JULIET }),
    julietEngine.secure(b, { role: "responder", localJid: JULIET, peerJid: ROMEO }),
  ]);
  return { romeo: r.stream, juliet: j.stream, carriers: [a, b], channels: [r, j] };
}

/** Both ends of an XML stream, opened concurrently (Romeo initiates). */
export async function openPair(kind: CarrierKind, options: Partial<XmlStreamOptions> = {}) {
  const connection = await connect(kind);
  const [romeo, juliet] = await Promise.all([
    openXmlStream(connection.romeo, { role: "initiator", localJid: ROMEO, peerJid: JULIET, ...options }),
    openXmlStream(connection.juliet, { role: "responder", localJid: JULIET, peerJid: ROMEO, ...options }),
  ]);
  return { romeo, juliet, connection };
}

/** Resolves once `condition` holds, checking after each turn of the event loop. */
export function eventually(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (condition() ? resolve() : setImmediate(check));
    check();
  });
}

/** Collects what a stream delivers. */
export function stanzasOf(stream: XmlStream): Element[] {
  const got: Element[] = [];
  stream.on("stanza", (s) => got.push(s));
  return got;
}

/** How a stream ended: `"clean"` or the error. */
export function outcome(stream: XmlStream): Promise<"clean" | Error> {
  return stream.closed.then(
    () => "clean" as const,
    (error: Error) => error,
  );
}

/**
 * The other end of the wire, scripted by the test: it writes raw text and reads back what
 * our stream sent, parsed (header, elements, closing tag) with the restricted parser.
 */
export class RawPeer {
  readonly duplex: Duplex;
  text = "";
  header: Element | undefined;
  readonly elements: Element[] = [];
  /** We received `</stream:stream>`. */
  closeTag = false;
  /** Our side of the wire ended (the stream ended its Duplex). */
  ended = false;
  readonly #parser = new StanzaStreamParser();
  readonly #waiters = new Set<() => void>();

  constructor(duplex: Duplex) {
    this.duplex = duplex;
    this.#parser.on("header", (h) => {
      this.header = h;
    });
    this.#parser.on("stanza", (s) => this.elements.push(s));
    this.#parser.on("end", () => {
      this.closeTag = true;
    });
    duplex.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("utf8");
      this.#parser.write(chunk);
      this.#check();
    });
    duplex.on("end", () => {
      this.ended = true;
      // Like a transport that is not half-open: when our side ends, so does theirs.
      if (!duplex.writableEnded) duplex.end();
      this.#check();
    });
    duplex.on("close", () => this.#check());
    duplex.on("error", () => this.#check());
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) => this.duplex.write(text, (e) => (e ? reject(e) : resolve())));
  }

  /** Resolves once `condition` holds (checked whenever something arrives). */
  until(condition: (peer: this) => boolean): Promise<void> {
    if (condition(this)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (condition(this)) {
          this.#waiters.delete(check);
          resolve();
        }
      };
      this.#waiters.add(check);
    });
  }

  #check(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/**
 * Our stream on one end of an in-memory pair, a {@link RawPeer} on the other. The raw
 * peer plays the other role; for an initiator under test it must answer the header.
 */
export function withRawPeer(options: Partial<XmlStreamOptions> & Pick<XmlStreamOptions, "role">) {
  const [ours, theirs] = duplexPair();
  const local = options.role === "initiator" ? ROMEO : JULIET;
  const remote = options.role === "initiator" ? JULIET : ROMEO;
  const peer = new RawPeer(theirs);
  const opening = openXmlStream(ours, { localJid: local, peerJid: remote, ...options });
  opening.catch(() => {});
  return { ours, peer, opening, local, remote };
}

/** An open stream where we are the responder, and the raw peer plays Romeo. */
export async function respondingTo(options: Partial<XmlStreamOptions> = {}) {
  const setup = withRawPeer({ role: "responder", ...options });
  await setup.peer.write(`${STREAM_OPEN} from='${ROMEO}' to='${JULIET}'>`);
  const stream = await setup.opening;
  await setup.peer.until((p) => p.elements.length === 1); // our <stream:features/>
  return { ...setup, stream };
}

/** An open stream where we are the initiator, and the raw peer plays Juliet. */
export async function initiatingTo(options: Partial<XmlStreamOptions> = {}) {
  const setup = withRawPeer({ role: "initiator", ...options });
  await setup.peer.until((p) => p.header !== undefined);
  await setup.peer.write(`${STREAM_OPEN} from='${JULIET}' to='${ROMEO}' id='s1'><stream:features/>`);
  const stream = await setup.opening;
  return { ...setup, stream };
}
