/**
 * One person's local agent: an XTLS endpoint (the `@xtls/client` facade on an XmppLink)
 * driven by that person's pages over the WebSocket protocol of `protocol.ts`.
 *
 * The agent does every XMPP and XTLS step; the pages only show what it reports and
 * answer what it asks (accept a chat, type a one-time password, compare a code, accept a
 * file). A peer is shown as verified only from what the TLS layer reported for the
 * session (`PeerIdentity.trust`), never from anything the page or the peer says.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { basename } from "node:path";
import { PassThrough } from "node:stream";
import {
  type Chat,
  createXtls,
  type IncomingChat,
  type IncomingFileOffer,
  type IncomingFileTransfer,
  type OutgoingFileTransfer,
  type Xtls,
} from "@xtls/client";
import { NS, type XmppLink } from "@xtls/core";
import type { JingleSession } from "@xtls/jingle";
import type { XtlsChannel } from "@xtls/jingle-xtls";
import type { PasswordRequest, PeerIdentity, SasConfirmRequest } from "@xtls/tls";
import { XmlStreamApplication } from "@xtls/xmlstream";
import type { WebSocket } from "ws";
import { describeFailure } from "./failure.js";
import type { AgentMessage, FirstContact, PageMessage, TransferView, VerifiedPeer } from "./protocol.js";
import { UPLOAD_CHUNK } from "./protocol.js";

export interface PersonOptions {
  /** Short name, used in URLs: `romeo`. */
  readonly name: string;
  /** As shown: `Romeo`. */
  readonly displayName: string;
  /** This person's XMPP connection (a LocalRouter link or an xmpp.js client's). */
  readonly link: XmppLink;
  /** The other person: the full JID the chat and the files go to. */
  readonly peer: { readonly displayName: string; readonly jid: string };
  /** Shown on the page: "the embedded router" or the server's URL. */
  readonly network: string;
  /** Where received files are stored. */
  readonly inbox: string;
  /** Identity and trust store on disk (`dir/identity/`, `dir/trust.json`); default in memory. */
  readonly dir?: string;
}

/** A received file the page may download. */
export interface StoredFile {
  readonly path: string;
  readonly name: string;
}

interface Prompt {
  readonly message: AgentMessage & { readonly id: string };
  readonly answer: (value: unknown) => void;
  /** Ends it with the "no answer" value (no password, not confirmed). */
  readonly cancel: () => void;
}

interface ChatRequest {
  readonly id: string;
  readonly incoming: IncomingChat;
  /** The Jingle session behind it, to follow its phases once accepted. */
  session?: JingleSession;
}

interface Upload {
  readonly page: WebSocket;
  readonly id: string;
  readonly source: PassThrough;
  readonly size: number;
  received: number;
}

/** How many past messages a newly opened page is shown (a reload redraws from them). */
const HISTORY_LIMIT = 5000;

export class Person {
  readonly name: string;
  readonly displayName: string;
  /** The secret in this person's page URL; a page without it is refused. */
  readonly key = randomBytes(18).toString("base64url");
  readonly #options: PersonOptions;
  #xtls!: Xtls;
  readonly #pages = new Set<WebSocket>();
  readonly #history: AgentMessage[] = [];
  readonly #prompts = new Map<string, Prompt>();
  readonly #chatRequests = new Map<string, ChatRequest>();
  #lastChatRequest: ChatRequest | undefined;
  readonly #offers = new Map<string, IncomingFileOffer>();
  readonly #transfers = new Map<string, OutgoingFileTransfer | IncomingFileTransfer>();
  readonly #uploads = new Map<WebSocket, Map<number, Upload>>();
  readonly #stored = new Map<string, StoredFile>();
  #chat: Chat | undefined;
  #chatStarting = false;
  /** The chat session being set up (to cancel it from the page). */
  #settingUp: JingleSession | undefined;
  #nextId = 1;

  private constructor(options: PersonOptions) {
    this.#options = options;
    this.name = options.name;
    this.displayName = options.displayName;
  }

  static async create(options: PersonOptions): Promise<Person> {
    const person = new Person(options);
    await mkdir(options.inbox, { recursive: true });
    // Both first-contact methods are enabled for sessions the peer starts (it chooses);
    // for the sessions we start, the page picks one (see #openChat).
    person.#xtls = await createXtls(options.link, {
      ...(options.dir ? { dir: options.dir } : {}),
      askPassword: (request) => person.#askPassword(request),
      confirmSas: (request) => person.#confirmSas(request),
    });
    person.#listen();
    return person;
  }

  get jid(): string {
    return this.#options.link.jid;
  }

  get fingerprint(): string {
    return this.#xtls.fingerprint;
  }

  /** The facade, for tests and embedders. */
  get xtls(): Xtls {
    return this.#xtls;
  }

  /** A received file, by the id the page was given. */
  storedFile(id: string): StoredFile | undefined {
    return this.#stored.get(id);
  }

  /** A page connected: greet it and replay what happened so far. */
  attach(page: WebSocket): void {
    this.#pages.add(page);
    this.#sendTo(page, {
      type: "welcome",
      me: { name: this.displayName, jid: this.jid, fingerprint: this.fingerprint },
      peer: { name: this.#options.peer.displayName, jid: this.#options.peer.jid },
      network: this.#options.network,
    });
    for (const message of this.#history) this.#sendTo(page, message);
    page.on("message", (data, isBinary) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) this.#uploadChunk(page, buffer);
      else this.#fromPage(page, buffer.toString("utf8"));
    });
    page.on("close", () => {
      this.#pages.delete(page);
      // A file whose page went away can never be completed.
      for (const upload of this.#uploads.get(page)?.values() ?? []) {
        upload.source.destroy(new Error("the page that was sending the file was closed"));
      }
      this.#uploads.delete(page);
    });
  }

  async close(): Promise<void> {
    for (const prompt of [...this.#prompts.values()]) prompt.cancel();
    for (const page of this.#pages) page.close(1001, "the agent is stopping");
    await this.#chat?.close().catch(() => {});
    await this.#xtls.close().catch(() => {});
  }

  // --- XTLS events -------------------------------------------------------------------

  #listen(): void {
    const xtls = this.#xtls;
    xtls.on("chat", (incoming) => {
      if (this.#chat || this.#chatStarting) {
        void incoming.decline();
        return;
      }
      const id = this.#id("chat");
      const request: ChatRequest = { id, incoming };
      this.#chatRequests.set(id, request);
      this.#lastChatRequest = request;
      this.#broadcast({ type: "chat-request", id, peer: incoming.peer });
    });
    // The facade's own listener (registered first) has just emitted `chat` for this
    // session, synchronously: pair the two, to show the responder's phases too.
    xtls.jingle.on("incoming", (incoming) => {
      const request = this.#lastChatRequest;
      this.#lastChatRequest = undefined;
      if (!(incoming.application instanceof XmlStreamApplication) || !request) return;
      request.session = incoming.session;
      incoming.session.once("terminated", () => {
        if (this.#chatRequests.delete(request.id)) this.#broadcast({ type: "prompt-closed", id: request.id });
      });
    });
    xtls.on("file", (offer) => {
      const id = this.#id("file");
      this.#offers.set(id, offer);
      offer.session.once("terminated", () => {
        if (this.#offers.delete(id)) {
          this.#broadcast({ type: "transfer-failed", id, error: `${offer.peer} withdrew the offer` });
        }
      });
      this.#broadcast({
        type: "file-offer",
        id,
        peer: offer.peer,
        direction: "incoming",
        name: offer.name,
        size: offer.size,
        mediaType: offer.mediaType,
      });
    });
  }

  // The password prompt (srp): asked of whoever is on the page; the password goes
  // straight to the TLS layer and is never logged, stored or echoed.
  #askPassword(request: PasswordRequest): Promise<string | null> {
    return this.#prompt<string | null>(
      {
        type: "prompt-password",
        id: this.#id("prompt"),
        peer: request.peer,
        fingerprint: request.fingerprint,
      },
      request.signal,
      null,
    );
  }

  #confirmSas(request: SasConfirmRequest): Promise<boolean> {
    return this.#prompt<boolean>(
      {
        type: "prompt-sas",
        id: this.#id("prompt"),
        peer: request.peer,
        fingerprint: request.fingerprint,
        digits: request.digits,
        emoji: request.emoji.map(({ emoji, description }) => ({ emoji, description })),
      },
      request.signal,
      false,
    );
  }

  #prompt<T>(message: AgentMessage & { id: string }, signal: AbortSignal, onAbort: T): Promise<T> {
    return new Promise<T>((resolve) => {
      const finish = (value: unknown) => {
        if (!this.#prompts.delete(message.id)) return;
        signal.removeEventListener("abort", abort);
        this.#broadcast({ type: "prompt-closed", id: message.id });
        resolve(value as T);
      };
      const abort = () => finish(onAbort);
      this.#prompts.set(message.id, { message, answer: finish, cancel: abort });
      signal.addEventListener("abort", abort, { once: true });
      this.#broadcast(message);
      if (signal.aborted) abort();
    });
  }

  // --- what the page asks ------------------------------------------------------------

  #fromPage(page: WebSocket, text: string): void {
    let message: PageMessage;
    try {
      message = JSON.parse(text) as PageMessage;
    } catch {
      this.#sendTo(page, { type: "error", error: "the agent could not read a message from the page" });
      return;
    }
    const fail = (error: unknown) =>
      this.#sendTo(page, { type: "error", error: error instanceof Error ? error.message : String(error) });
    try {
      switch (message.type) {
        case "open-chat":
          void this.#openChat(message.method === "code" ? "code" : "password");
          return;
        case "chat-answer":
          void this.#answerChat(String(message.id), message.accept === true);
          return;
        case "password": {
          const password = typeof message.password === "string" ? message.password : null;
          this.#answerPrompt(String(message.id), "prompt-password", password);
          return;
        }
        case "sas":
          this.#answerPrompt(String(message.id), "prompt-sas", message.match === true);
          return;
        case "say":
          this.#say(String(message.text)).catch(fail);
          return;
        case "close-chat":
          // Ends the open chat, or withdraws the one being set up.
          if (this.#chat) void this.#chat.close().catch(() => {});
          else void this.#settingUp?.terminate({ condition: "cancel" }).catch(() => {});
          return;
        case "send-file":
          this.#sendFile(page, message);
          return;
        case "file-answer":
          this.#answerOffer(String(message.id), message.accept === true).catch(fail);
          return;
        case "cancel-transfer":
          void this.#transfers.get(String(message.id))?.cancel();
          return;
        default:
          fail(`unknown message type ${JSON.stringify((message as { type?: unknown }).type)}`);
      }
    } catch (error) {
      fail(error);
    }
  }

  #answerPrompt(id: string, type: "prompt-password" | "prompt-sas", value: string | boolean | null): void {
    const prompt = this.#prompts.get(id);
    if (!prompt || prompt.message.type !== type) return; // answered elsewhere, or over
    prompt.answer(value);
  }

  async #openChat(method: FirstContact): Promise<void> {
    if (this.#chat || this.#chatStarting) {
      this.#broadcast({ type: "error", error: "a chat is already open or starting" });
      return;
    }
    this.#chatStarting = true;
    try {
      // The person chose one method for first contact, so this session offers only that
      // one (and certificates, which win when the peer is already pinned).
      const chat = await this.#xtls.openChat(this.#options.peer.jid, {
        firstContact: method === "password" ? "srp" : "sas",
        onSession: (session) => {
          this.#followPhases(session, "initiator");
          this.#settingUp = session;
        },
      });
      this.#chatOpened(chat);
    } catch (error) {
      this.#broadcast({ type: "chat-failed", error: describeFailure(error, this.#options.peer.displayName) });
    } finally {
      this.#chatStarting = false;
      this.#settingUp = undefined;
    }
  }

  async #answerChat(id: string, accept: boolean): Promise<void> {
    const request = this.#chatRequests.get(id);
    if (!request) return;
    this.#chatRequests.delete(id);
    this.#broadcast({ type: "prompt-closed", id });
    if (!accept) {
      await request.incoming.decline().catch(() => {});
      return;
    }
    if (this.#chat || this.#chatStarting) {
      await request.incoming.decline().catch(() => {});
      this.#broadcast({ type: "error", error: "a chat is already open" });
      return;
    }
    this.#chatStarting = true;
    if (request.session) this.#followPhases(request.session, "responder");
    this.#settingUp = request.session;
    try {
      this.#chatOpened(await request.incoming.accept());
    } catch (error) {
      this.#broadcast({ type: "chat-failed", error: describeFailure(error, this.#options.peer.displayName) });
    } finally {
      this.#chatStarting = false;
      this.#settingUp = undefined;
    }
  }

  #followPhases(session: JingleSession, role: "initiator" | "responder"): void {
    this.#broadcast({ type: "phase", phase: session.phase, role });
    session.on("phase", (phase) => this.#broadcast({ type: "phase", phase, role }));
  }

  #chatOpened(chat: Chat): void {
    const peer = verifiedPeer(chat.peerIdentity);
    if (!peer) {
      // Cannot happen with XTLS (the XML stream application refuses plaintext); if it
      // ever did, nothing is shown as a chat.
      void chat.close().catch(() => {});
      this.#broadcast({ type: "chat-failed", error: "the session has no verified peer; it was closed" });
      return;
    }
    this.#chat = chat;
    this.#broadcast({
      type: "chat-open",
      peer,
      tls: chat.tls ?? { protocol: "?", cipher: "?", resumed: false },
      transport: transportName(chat.session.transportNamespace),
    });
    chat.on("message", (m) =>
      this.#broadcast({ type: "message", direction: "in", from: m.from, body: m.body }),
    );
    chat.on("close", (error) => {
      if (this.#chat === chat) this.#chat = undefined;
      this.#broadcast({
        type: "chat-closed",
        ...(error ? { error: describeFailure(error, this.#options.peer.displayName) } : {}),
      });
    });
  }

  async #say(text: string): Promise<void> {
    const chat = this.#chat;
    if (!chat) throw new Error("there is no open chat: start one first");
    if (text.length === 0 || text.length > 10_000) throw new Error("a message has 1 to 10 000 characters");
    await chat.send(text);
    this.#broadcast({ type: "message", direction: "out", from: this.jid, body: text });
  }

  // --- files -------------------------------------------------------------------------

  #sendFile(page: WebSocket, message: Extract<PageMessage, { type: "send-file" }>): void {
    const upload = Number(message.upload);
    const size = Number(message.size);
    const name = String(message.name);
    const mediaType =
      typeof message.mediaType === "string" && message.mediaType ? message.mediaType : undefined;
    if (!Number.isInteger(upload) || upload < 0 || upload > 0xffffffff) throw new Error("bad upload number");
    if (!Number.isSafeInteger(size) || size < 0) throw new Error("bad file size");
    if (!name) throw new Error("a file needs a name");
    const id = this.#id("file");
    // The page's octets, with backpressure: each chunk is acknowledged only once the
    // transfer took it, and the page keeps at most UPLOAD_WINDOW octets unacknowledged.
    const source = new PassThrough({ highWaterMark: 4 * UPLOAD_CHUNK });
    const uploads = this.#uploads.get(page) ?? new Map<number, Upload>();
    this.#uploads.set(page, uploads);
    uploads.set(upload, { page, id, source, size, received: 0 });
    if (size === 0) source.end();
    const view: TransferView = { id, direction: "outgoing", name, size, mediaType: mediaType ?? "" };
    this.#broadcast({ type: "transfer-start", upload, ...view });
    const forget = () => uploads.get(upload)?.source === source && uploads.delete(upload);
    this.#xtls
      .sendFile(this.#options.peer.jid, source, { name, size, ...(mediaType ? { mediaType } : {}) })
      .then(
        (transfer) => this.#follow(id, transfer, forget),
        (error: unknown) => {
          forget();
          source.destroy();
          this.#broadcast({ type: "transfer-failed", id, error: describeFailure(error, this.#peerName) });
        },
      );
  }

  #uploadChunk(page: WebSocket, frame: Buffer): void {
    if (frame.length < 4) return;
    const upload = this.#uploads.get(page)?.get(frame.readUInt32BE(0));
    if (!upload || upload.source.destroyed) return; // cancelled or failed: the page stops soon
    const chunk = frame.subarray(4);
    if (upload.received + chunk.length > upload.size) {
      upload.source.destroy(new Error("the page sent more octets than the file's size"));
      return;
    }
    upload.received += chunk.length;
    const total = upload.received;
    const done = total === upload.size;
    upload.source.write(chunk, () => {
      if (page.readyState === page.OPEN) {
        this.#sendTo(page, {
          type: "upload-ack",
          upload: frame.readUInt32BE(0),
          id: upload.id,
          bytes: total,
        });
      }
    });
    if (done) upload.source.end();
  }

  async #answerOffer(id: string, accept: boolean): Promise<void> {
    const offer = this.#offers.get(id);
    if (!offer) return;
    this.#offers.delete(id);
    if (!accept) {
      await offer.decline();
      this.#broadcast({ type: "transfer-failed", id, error: "you declined the file" });
      return;
    }
    let transfer: IncomingFileTransfer;
    try {
      transfer = await offer.accept({ dir: this.#options.inbox });
    } catch (error) {
      this.#broadcast({ type: "transfer-failed", id, error: describeFailure(error, this.#peerName) });
      return;
    }
    this.#broadcast({
      type: "transfer-start",
      id,
      direction: "incoming",
      name: offer.name,
      size: offer.size,
      mediaType: offer.mediaType,
    });
    this.#follow(id, transfer);
  }

  #follow(
    id: string,
    transfer: OutgoingFileTransfer | IncomingFileTransfer,
    onEnd: () => void = () => {},
  ): void {
    this.#transfers.set(id, transfer);
    transfer.on("progress", ({ bytes, total, rate }) =>
      this.#broadcast({ type: "transfer-progress", id, bytes, total, rate }),
    );
    transfer.done.then(
      (result) => {
        onEnd();
        this.#transfers.delete(id);
        const peer = verifiedPeer((transfer.session?.secured as XtlsChannel | undefined)?.peer);
        const sha256 =
          result.hash.algo === "sha-256" ? Buffer.from(result.hash.value, "base64").toString("hex") : "";
        let stored: { href: string; storedAs: string } | undefined;
        if (result.path) {
          this.#stored.set(id, { path: result.path, name: basename(result.path) });
          stored = {
            href: `/files/${encodeURIComponent(id)}?as=${encodeURIComponent(this.name)}&key=${this.key}`,
            storedAs: basename(result.path),
          };
        }
        this.#broadcast({ type: "transfer-done", id, sha256, peer, ...stored });
      },
      (error: unknown) => {
        onEnd();
        this.#transfers.delete(id);
        this.#broadcast({ type: "transfer-failed", id, error: describeFailure(error, this.#peerName) });
      },
    );
  }

  // --- plumbing ------------------------------------------------------------------------

  get #peerName(): string {
    return this.#options.peer.displayName;
  }

  #id(kind: string): string {
    return `${kind}-${this.#nextId++}`;
  }

  #broadcast(message: AgentMessage): void {
    this.#history.push(message);
    if (this.#history.length > HISTORY_LIMIT) this.#history.splice(0, this.#history.length - HISTORY_LIMIT);
    for (const page of this.#pages) this.#sendTo(page, message);
  }

  #sendTo(page: WebSocket, message: AgentMessage): void {
    if (page.readyState === page.OPEN) page.send(JSON.stringify(message));
  }
}

/** What the page may call verified: only what TLS reported for this session. */
export function verifiedPeer(identity: PeerIdentity | undefined): VerifiedPeer | undefined {
  if (!identity) return undefined;
  const trust = identity.trust;
  const entry = "entry" in trust ? trust.entry : undefined;
  const source = trust.source === "trust-store" ? "pinned" : trust.source;
  return {
    jid: identity.jid,
    fingerprint: identity.fingerprint,
    source,
    ...(entry ? { method: entry.method } : {}),
  };
}

function transportName(namespace: string): string {
  if (namespace === NS.JINGLE_S5B) return "SOCKS5 bytestream (XEP-0065)";
  if (namespace === NS.JINGLE_IBB) return "in-band bytestream (XEP-0047)";
  return namespace;
}
