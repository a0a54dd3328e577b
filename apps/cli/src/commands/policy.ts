/**
 * Who `--yes` accepts without asking (the stranger policy). Any account can offer us a
 * session; accepting one starts work for it (a session-accept carrying our SOCKS5
 * candidate addresses, outbound connections to the addresses it names, a temporary file,
 * a password prompt). So `--yes` accepts only:
 *
 * - a verified contact: a certificate of the peer's bare JID is pinned as verified in the
 *   trust store (the TLS handshake then still checks that the peer presents it), or
 * - the one contact a one-time password in hand is for (`--from JID` with XTLS_OTP, or
 *   `--ask-otp` answered at the start): a first contact that must prove it knows the
 *   password (srp). Only that bare JID: a password in hand must not make every other
 *   account's offer start work on our side (connections to its candidates, a temporary
 *   file, a password attempt) before anyone is verified.
 *
 * Everyone else is declined (Jingle `decline`, with a text saying why) before anything
 * else happens, with one line on stderr; the command goes on waiting.
 */

import type { Xtls } from "@xtls/client";
import { bareJid, tryParseJid } from "@xtls/core";
import { UsageError } from "../account.js";
import type { CommandIo } from "./io.js";

/** The text sent to a stranger with the decline. */
export const STRANGER_DECLINE_TEXT =
  "not a verified contact: this client accepts sessions without asking only from verified contacts";

/** How the user can allow a stranger (the end of the stderr line). */
export function howToAllow(peer: string): string {
  return `verify them first with "xtls trust verify ${bareJid(peer)} FINGERPRINT", or run with --from ${bareJid(peer)} and XTLS_OTP or --ask-otp to let a one-time password decide, or without --yes to be asked`;
}

/**
 * The one-time password given up front: XTLS_OTP, else with `ask` the answer to a
 * prompt at the start (hidden on a terminal; the first line of stdin otherwise; no
 * answer or an empty one means none).
 */
export async function oneTimePasswordUpFront(ask: boolean, io: CommandIo): Promise<string | undefined> {
  if (io.env.XTLS_OTP) return io.env.XTLS_OTP;
  if (!ask) return undefined;
  const answer = await io.prompter.ask(
    "One-time password for first contacts (empty: verified contacts only): ",
    { hidden: true },
  );
  return answer ? answer : undefined;
}

/**
 * `--from`: the contact a one-time password in hand is for (a bare JID). A password with
 * `--yes` and no `--from` is a usage error: it would be no one's, or everyone's.
 */
export function firstContactFrom(
  from: string | undefined,
  otp: string | undefined,
  yes: boolean,
): string | undefined {
  if (from === undefined) {
    if (otp !== undefined && yes)
      throw new UsageError("a one-time password with --yes needs --from JID: the contact it is for");
    return undefined;
  }
  const jid = tryParseJid(from);
  if (!jid?.local)
    throw new UsageError(`--from needs the contact's JID, e.g. romeo@montague.lit; got "${from}"`);
  return jid.bare;
}

/** Whether `--yes` may accept a session from `peer` without asking. */
export async function acceptsWithoutAsking(
  xtls: Xtls,
  peer: string,
  otp: string | undefined,
  from: string | undefined,
): Promise<boolean> {
  if (otp !== undefined && from !== undefined && bareJid(peer) === from) return true;
  return xtls.isVerified(peer);
}
