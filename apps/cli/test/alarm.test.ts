// Which failures of an accepted session end `receive --count 0` with exit 3 (an alarm
// about who the peer is) and which are one line (a channel or transport that broke).
import { classifyEnd, FileTransferError } from "@xtls/file-transfer";
import { SessionTerminatedError } from "@xtls/jingle";
import { S5bConnectionLostError } from "@xtls/socks5";
import {
  CertificateChangedError,
  MethodDowngradeError,
  SrpAuthenticationError,
  TlsChannelError,
  TruncationError,
} from "@xtls/tls";
import { describe, expect, it } from "vitest";
import { exitCodeOf, isVerificationAlarm } from "../src/commands/common.js";

const ROMEO = "romeo@montague.lit/orchard";
/** What a session that ended on our side with `cause` looks like to the receive loop. */
const endedLocally = (cause: unknown) =>
  classifyEnd(
    new SessionTerminatedError({ condition: "security-error", text: String(cause) }, "local", cause),
  );

describe("isVerificationAlarm", () => {
  it("a changed key, a failed password proof, a downgrade, or the peer saying it could not verify us: an alarm", () => {
    expect(
      isVerificationAlarm(
        endedLocally(new CertificateChangedError(ROMEO, "ab".repeat(32), ["cd".repeat(32)])),
      ),
    ).toBe(true);
    expect(isVerificationAlarm(endedLocally(new SrpAuthenticationError(ROMEO, "local")))).toBe(true);
    expect(
      isVerificationAlarm(endedLocally(new MethodDowngradeError(ROMEO, "srp", ["sas"], "password-in-hand"))),
    ).toBe(true);
    expect(
      isVerificationAlarm(classifyEnd(new SessionTerminatedError({ condition: "security-error" }, "peer"))),
    ).toBe(true);
    // …and the same while our own handshake had found the changed key (the peer's terminate
    // came first): our verdict is the cause.
    const changed = new CertificateChangedError(ROMEO, "ab".repeat(32), ["cd".repeat(32)]);
    expect(
      isVerificationAlarm(
        classifyEnd(new SessionTerminatedError({ condition: "security-error" }, "peer", changed)),
      ),
    ).toBe(true);
  });

  it("a secure channel or transport that broke — cut off, garbled, or a SOCKS5 connection reset during the handshake by a sender that went away: one line, though still exit 3 for send", () => {
    for (const cause of [
      new TruncationError("the carrier ended"),
      new S5bConnectionLostError(
        ROMEO,
        "s5b1",
        Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      ),
      new TlsChannelError("the secure channel with romeo failed: bad record mac", {
        reason: "bad record mac",
      }),
    ]) {
      const error = endedLocally(cause);
      expect(exitCodeOf(error)).toBe(3);
      expect(isVerificationAlarm(error)).toBe(false);
    }
  });

  it("a declined, cancelled or broken transfer: not an alarm", () => {
    expect(isVerificationAlarm(new FileTransferError("declined", "the peer declined the file"))).toBe(false);
    expect(
      isVerificationAlarm(classifyEnd(new SessionTerminatedError({ condition: "cancel" }, "peer"))),
    ).toBe(false);
    expect(isVerificationAlarm(new FileTransferError("transport", "the tunnel failed"))).toBe(false);
  });
});
