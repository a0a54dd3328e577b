/**
 * The three plug-in interfaces of a Jingle session, after Smack's unmerged JET design:
 * a transport produces one byte stream, a security method wraps it, an application
 * consumes it. Each layer sees only the one below it; an application never learns
 * which transport or authentication method carried it.
 *
 *   transport.connect()          → Duplex (the bytes on the wire)
 *   security.secure(duplex)      → SecuredStream (plaintext; the precondition is met)
 *   application.run(stream, …)   → done → session-terminate <success/>
 */
import type { Duplex } from "node:stream";
import type { Element } from "@xtls/core";
import type { Creator } from "./model.js";

/** What a plug-in knows about the session and content it serves. */
export interface ContentContext {
  readonly sid: string;
  /** Our role in the session. */
  readonly role: Creator;
  /** Our full JID. */
  readonly local: string;
  /** The peer's full JID. */
  readonly peer: string;
  readonly initiator: string;
  readonly responder: string;
  readonly content: { readonly creator: Creator; readonly name: string };
  /** Aborted when the session ends. */
  readonly signal: AbortSignal;
  /** Sends a `transport-info`, `security-info` or `description-info` for this content. */
  sendInfo(action: "transport-info" | "security-info" | "description-info", payload: Element): Promise<void>;
}

/** A byte stream in the clear, once the security precondition is met. */
export interface SecuredStream {
  readonly stream: Duplex;
  /** Graceful close (for TLS: close_notify both ways). */
  close(): Promise<void>;
  destroy(error?: Error): void;
  /** Resolves on a clean close, rejects with what ended it. */
  readonly closed: Promise<void>;
}

// --- transports --------------------------------------------------------------------

export interface TransportMethod {
  /** Namespaces handled; the first is the one emitted in offers. */
  readonly namespaces: readonly string[];
  /** Initiator: a fresh transport for a content (in session-initiate or transport-replace). */
  offer(ctx: ContentContext): TransportHandle | Promise<TransportHandle>;
  /**
   * Responder: take the offered `<transport/>`; the handle's element goes into the
   * session-accept (or transport-accept). Throw to refuse it.
   */
  accept(ctx: ContentContext, offer: Element): TransportHandle | Promise<TransportHandle>;
}

export interface TransportHandle {
  /** The `<transport/>` to send. */
  element(): Element;
  /** Initiator: the `<transport/>` the responder accepted with. */
  accepted?(answer: Element): void | Promise<void>;
  /** A `transport-info` payload for this content. */
  info?(payload: Element): void | Promise<void>;
  /**
   * Opens the transport and resolves with its byte stream once it is "open" as its
   * specification defines (XEP-0166 §7.2.20 requires each transport to say when). The
   * responder calls it before sending its accept, so the peer's first move is
   * expected. Rejects with a {@link TransportFailedError} when it cannot open.
   */
  connect(): Promise<Duplex>;
  /** Releases sockets, listeners and streams. */
  close(): void;
}

// --- security ------------------------------------------------------------------------

export interface SecurityMethod {
  readonly namespaces: readonly string[];
  /** Initiator: the `<security/>` of the session-initiate. */
  offer(ctx: ContentContext): SecurityHandle | Promise<SecurityHandle>;
  /** Responder: the initiator offered `offer`; the handle's element goes into the accept. */
  accept(ctx: ContentContext, offer: Element): SecurityHandle | Promise<SecurityHandle>;
}

export interface SecurityHandle {
  element(): Element;
  /** Initiator: the responder's `<security/>` from the session-accept. Throw to refuse. */
  accepted?(answer: Element): void | Promise<void>;
  /** A `security-info` payload. */
  info?(payload: Element): void | Promise<void>;
  /** Runs over the open transport (the TLS handshake); resolves when the precondition is met. */
  secure(stream: Duplex): Promise<SecuredStream>;
}

// --- applications --------------------------------------------------------------------

export interface ApplicationFormat {
  readonly namespaces: readonly string[];
  /**
   * Whether this application may ever run without the security precondition (when the
   * peer answers without `<security/>` and the caller explicitly allowed plaintext).
   * End-to-end XML streams: never.
   */
  readonly plaintextAllowed: boolean;
  /** More disco features to advertise besides `namespaces[0]` (e.g. hash algorithms). */
  readonly features?: readonly string[];
  /**
   * Responder: take the offered `<description/>`. Throw to refuse the session. (The
   * manager does not call it: whoever handles the `incoming` event builds the handle,
   * with this or otherwise.)
   */
  accept(ctx: ContentContext, offer: Element): ApplicationHandle | Promise<ApplicationHandle>;
}

export interface ApplicationHandle {
  /** The namespace of its `<description/>` (for choosing the application format). */
  readonly namespace: string;
  readonly plaintextAllowed: boolean;
  /** `senders` of the content (default both). */
  readonly senders?: "both" | "initiator" | "responder" | "none";
  description(): Element;
  /** Initiator: the `<description/>` the responder accepted with. */
  accepted?(answer: Element): void | Promise<void>;
  /** A `session-info` or `description-info` payload; return false when not understood. */
  info?(payload: Element): boolean | Promise<boolean>;
  /**
   * Runs the application over the established stream; resolve when done (the session
   * then ends with success), reject to end it with a reason ({@link JingleReasonError})
   * or `failed-application`.
   */
  run(stream: Duplex, security: SecuredStream | undefined, ctx: ContentContext): Promise<void>;
  /**
   * Called once when the session ends, whether or not `run` was ever called: with the
   * {@link SessionTerminatedError} unless it ended with success. Lets an application
   * settle what it promised its user (e.g. a stream that will now never open).
   */
  ended?(error: Error | undefined): void;
}
