/** `xtls identity show|new`: this device's certificate. */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createIdentity, formatFingerprint, loadIdentity, saveIdentity } from "@xtls/tls";
import { ACCOUNT_HELP, ACCOUNT_OPTIONS, EXIT, resolveAccount, UsageError } from "../account.js";
import type { CommandIo } from "./io.js";

export const IDENTITY_HELP = `xtls identity show|new — this device's certificate (what peers pin)

  xtls identity show [--json]     print the JID and the SHA-256 fingerprint (creates none)
  xtls identity new [--force]     make a new key and certificate (peers must verify it again)

${ACCOUNT_HELP}
`;

export async function identityCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      ...ACCOUNT_OPTIONS,
      json: { type: "boolean" },
      force: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(IDENTITY_HELP);
    return EXIT.ok;
  }
  const [action] = positionals;
  if (action !== "show" && action !== "new")
    throw new UsageError('use "xtls identity show" or "xtls identity new"');
  const account = resolveAccount(values, io.env, false);
  const dir = join(account.dir, "identity");
  if (action === "new") {
    const existing = await loadIdentity(dir).catch(() => undefined);
    if (existing && !values.force) {
      throw new UsageError(
        `an identity exists already (${formatFingerprint(existing.fingerprint)}); --force replaces it, and every peer must verify you again`,
      );
    }
    if (existing) await rm(dir, { recursive: true, force: true });
    await saveIdentity(createIdentity(account.jid), dir);
  }
  const identity = await loadIdentity(dir).catch(() => undefined);
  if (!identity) {
    io.stderr.write(
      `xtls identity: no identity in ${dir} yet ("xtls identity new" makes one; any session does too)\n`,
    );
    return EXIT.failed;
  }
  if (values.json) {
    io.stdout.write(
      `${JSON.stringify({ jid: identity.jid, fingerprint: identity.fingerprint, dir }, null, 2)}\n`,
    );
  } else {
    io.stdout.write(
      `${identity.jid}\nSHA-256 ${formatFingerprint(identity.fingerprint)}\n${io.style.dim(dir)}\n`,
    );
  }
  return EXIT.ok;
}
