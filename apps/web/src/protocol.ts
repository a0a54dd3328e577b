/**
 * The WebSocket protocol between the page and the local agent: small JSON messages in
 * text frames, and a file's octets in binary frames (README.md, "The WebSocket protocol").
 *
 * The page only shows and asks; the agent does all the XMPP and XTLS work and is the
 * only one that says whether a peer is verified.
 */

/** Who the peer turned out to be, as the agent's TLS layer verified it. */
export interface VerifiedPeer {
  readonly jid: string;
  /** SHA-256 of the peer's certificate, lowercase hex. */
  readonly fingerprint: string;
  /**
   * What made it trusted: `srp` (a one-time password, this session), `sas` (a compared
   * code, this session), `pinned` (already in the trust store from an earlier session,
   * `method` says how it got there), or what else the TLS layer reported.
   */
  readonly source: "srp" | "sas" | "pinned" | "tofu" | "ca";
  /** How the pinned entry was first verified (`srp`, `sas`, `manual`…). */
  readonly method?: string;
}

export type FirstContact = "password" | "code";

export type SessionPhase = "negotiating" | "connecting" | "securing" | "established" | "ended";

/** A transfer as the page draws it. */
export interface TransferView {
  readonly id: string;
  readonly direction: "outgoing" | "incoming";
  readonly name: string;
  readonly size: number;
  readonly mediaType: string;
}

// --- page → agent ------------------------------------------------------------------

export type PageMessage =
  /** Start an encrypted chat with the other person; `method` is used only for first contact. */
  | { readonly type: "open-chat"; readonly method: FirstContact }
  | { readonly type: "chat-answer"; readonly id: string; readonly accept: boolean }
  /** `password: null` refuses (the session ends on both sides). */
  | { readonly type: "password"; readonly id: string; readonly password: string | null }
  | { readonly type: "sas"; readonly id: string; readonly match: boolean }
  | { readonly type: "say"; readonly text: string }
  | { readonly type: "close-chat" }
  /**
   * Starts sending a file; its octets follow as binary frames: a 4-octet big-endian
   * `upload` number, then up to 64 KiB of the file, in order, `size` octets in all.
   */
  | {
      readonly type: "send-file";
      readonly upload: number;
      readonly name: string;
      readonly size: number;
      readonly mediaType: string;
    }
  | { readonly type: "file-answer"; readonly id: string; readonly accept: boolean }
  | { readonly type: "cancel-transfer"; readonly id: string };

// --- agent → page ------------------------------------------------------------------

export type AgentMessage =
  | {
      readonly type: "welcome";
      readonly me: { readonly name: string; readonly jid: string; readonly fingerprint: string };
      readonly peer: { readonly name: string; readonly jid: string };
      /** "the embedded router" or the server's xmpp:// URL. */
      readonly network: string;
    }
  /** The chat session moved on (its Jingle phase; we started it or the peer did). */
  | {
      readonly type: "phase";
      readonly phase: SessionPhase;
      readonly role: "initiator" | "responder";
    }
  | { readonly type: "chat-request"; readonly id: string; readonly peer: string }
  | {
      readonly type: "prompt-password";
      readonly id: string;
      readonly peer: string;
      /** The fingerprint of the peer's not-yet-trusted certificate. */
      readonly fingerprint: string;
    }
  | {
      readonly type: "prompt-sas";
      readonly id: string;
      readonly peer: string;
      readonly fingerprint: string;
      readonly digits: string;
      readonly emoji: readonly { readonly emoji: string; readonly description: string }[];
    }
  /** A prompt or request is over (answered here or in another tab, or the session ended). */
  | { readonly type: "prompt-closed"; readonly id: string }
  | {
      readonly type: "chat-open";
      readonly peer: VerifiedPeer;
      readonly tls: { readonly protocol: string; readonly cipher: string; readonly resumed: boolean };
      /** What carries the TLS records, e.g. "SOCKS5 bytestream (XEP-0065)". */
      readonly transport: string;
    }
  | {
      readonly type: "message";
      readonly direction: "in" | "out";
      readonly from: string;
      readonly body: string;
    }
  /** The chat could not start (`failed`), or it ended (`closed`, with `error` if not cleanly). */
  | { readonly type: "chat-failed"; readonly error: string }
  | { readonly type: "chat-closed"; readonly error?: string }
  | ({ readonly type: "file-offer"; readonly peer: string } & TransferView)
  /** A transfer began: an outgoing file (with the page's `upload` number) or an accepted offer. */
  | ({ readonly type: "transfer-start"; readonly upload?: number } & TransferView)
  | {
      readonly type: "transfer-progress";
      readonly id: string;
      readonly bytes: number;
      readonly total: number;
      /** Octets per second over the last few seconds. */
      readonly rate: number;
    }
  /** To the uploading page only: the agent has taken this many octets of `upload` in all. */
  | { readonly type: "upload-ack"; readonly upload: number; readonly id: string; readonly bytes: number }
  | {
      readonly type: "transfer-done";
      readonly id: string;
      /** SHA-256 of the octets, lowercase hex, as verified by the receiver's agent. */
      readonly sha256: string;
      /** Who was on the other end, verified by TLS for this transfer. */
      readonly peer: VerifiedPeer | undefined;
      /** Receiver: where the page can download the stored file. */
      readonly href?: string;
      readonly storedAs?: string;
    }
  | { readonly type: "transfer-failed"; readonly id: string; readonly error: string }
  | { readonly type: "error"; readonly error: string };

/** Octets of file data in one binary frame, at most (after the 4-octet upload number). */
export const UPLOAD_CHUNK = 64 * 1024;
/** Octets the page may send ahead of the agent's `upload-ack`. */
export const UPLOAD_WINDOW = 1024 * 1024;
