/** `xtls trust list|verify|forget|export`: who this device trusts, like ssh's known_hosts. */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FileTrustStore, formatFingerprint, tryParseFingerprint } from "@xtls/tls";
import { ACCOUNT_HELP, ACCOUNT_OPTIONS, EXIT, resolveAccount, UsageError } from "../account.js";
import type { CommandIo } from "./io.js";

export const TRUST_HELP = `xtls trust — the certificates this device trusts, per contact

  xtls trust list [JID] [--json]       every pinned certificate (state, how it was verified, when)
  xtls trust verify JID FINGERPRINT    pin a fingerprint you compared out of band (verified, manual)
  xtls trust forget JID [FINGERPRINT]  remove one certificate, or every certificate of JID (how it
                                       was first verified is kept: a new first contact with a peer
                                       first verified by a password needs a password again)
  xtls trust export                    the whole store as JSON (for backups)

${ACCOUNT_HELP}
`;

export async function trustCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...ACCOUNT_OPTIONS, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(TRUST_HELP);
    return EXIT.ok;
  }
  const [action, jid, fingerprint] = positionals;
  const account = resolveAccount(values, io.env, false);
  const store = new FileTrustStore(join(account.dir, "trust.json"));
  switch (action) {
    case "list": {
      const all = await store.all();
      const rows = [...all].filter(([peer]) => !jid || peer === jid);
      if (values.json) {
        io.stdout.write(`${JSON.stringify(Object.fromEntries(rows), null, 2)}\n`);
        return EXIT.ok;
      }
      if (rows.length === 0) io.stdout.write(io.style.dim("no trusted certificates yet\n"));
      for (const [peer, entries] of rows) {
        io.stdout.write(`${io.style.bold(peer)}\n`);
        for (const e of entries) {
          const state =
            e.state === "verified"
              ? io.style.green(e.state)
              : e.state === "revoked"
                ? io.style.red(e.state)
                : io.style.yellow(e.state);
          io.stdout.write(
            `  ${state.padEnd(8)} ${e.method.padEnd(7)} ${e.updatedAt}  ${formatFingerprint(e.fingerprint)}\n`,
          );
        }
      }
      return EXIT.ok;
    }
    case "verify": {
      const fp = fingerprint ? tryParseFingerprint(fingerprint) : undefined;
      if (!jid || !fp || fp.algo !== "sha-256")
        throw new UsageError("xtls trust verify JID FINGERPRINT (the peer's SHA-256, hex, colons allowed)");
      await store.pin(jid, fp.hex, { method: "manual" });
      io.stdout.write(`${jid}: ${formatFingerprint(fp.hex)} is now verified\n`);
      return EXIT.ok;
    }
    case "forget": {
      if (!jid) throw new UsageError("xtls trust forget JID [FINGERPRINT]");
      const fp = fingerprint ? tryParseFingerprint(fingerprint)?.hex : undefined;
      if (fingerprint && !fp) throw new UsageError(`not a fingerprint: ${fingerprint}`);
      await store.forget(jid, fp);
      io.stdout.write(`${jid}: ${fp ? formatFingerprint(fp) : "every certificate"} forgotten\n`);
      return EXIT.ok;
    }
    case "export": {
      const all = await store.all();
      io.stdout.write(`${JSON.stringify({ version: 1, peers: Object.fromEntries(all) }, null, 2)}\n`);
      return EXIT.ok;
    }
    default:
      throw new UsageError('use "xtls trust list", "verify", "forget" or "export"');
  }
}
