/**
 * The account a command acts as: JID, password, server, resource, and the directory that
 * holds its identity and trust store — from options or the environment.
 */

import type { SrvRecord } from "node:dns";
import { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createXtls, type Xtls } from "@xtls/client";
import { bareJid, type Element, StanzaError, tryParseJid, xml } from "@xtls/core";
import type { AllowableAddressClass } from "@xtls/socks5";
import {
  FileTrustStore,
  formatFingerprint,
  generatePairingCode,
  type PasswordRequest,
  type SasConfirmRequest,
  tryParseFingerprint,
} from "@xtls/tls";
import type { Prompter } from "./prompt.js";
import { isUnverifiedCertificate, serverCas, trustServerCas } from "./server-tls.js";
import type { Style } from "./style.js";

export class UsageError extends Error {}

/** Exit codes: documented in --help and the README. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** The peer could not be verified (wrong password, codes differ, man in the middle). */
  security: 3,
  /** The peer declined or cancelled. */
  declined: 4,
  /** The XMPP server is unreachable, refused our login, or went away (the connection was lost). */
  connection: 5,
  /**
   * The peer is offline: the server answered for it (service-unavailable,
   * recipient-unavailable, item-not-found) — no such resource online, or one that does
   * not take Jingle sessions. Nobody declined anything.
   */
  offline: 6,
} as const;

/** The stanza errors a server (or a client without Jingle) answers for a JID nobody is at. */
const OFFLINE_CONDITIONS = new Set(["service-unavailable", "recipient-unavailable", "item-not-found"]);

/** The peer this command contacted is not online (see EXIT.offline). */
export class PeerOfflineError extends Error {
  constructor(
    readonly peer: string,
    readonly condition: string,
    cause?: unknown,
  ) {
    super(
      `${peer} is offline: the server answered ${condition} (no such resource online, or it does not take XTLS sessions; is "xtls receive" or "xtls chat" running there?)`,
      { cause },
    );
  }
}

export const ACCOUNT_OPTIONS = {
  jid: { type: "string" },
  password: { type: "string" },
  server: { type: "string" },
  resource: { type: "string" },
  dir: { type: "string" },
  candidates: { type: "string" },
  ca: { type: "string" },
} as const;

export const ACCOUNT_HELP = `Account (options or environment):
  --jid JID            your account, e.g. romeo@montague.lit       [XTLS_JID]
                       (default: the account stored by "xtls login")
  --password PW        its password                                [XTLS_PASSWORD]
  --server URL         xmpp://host:port (default: the domain's _xmpp-client._tcp SRV
                       records, else xmpp://<domain>:5222)          [XTLS_SERVER]
                       (XTLS_DNS_SERVER=host[:port]: the DNS server asked, for tests)
  --resource NAME      this device's resource (default xtls-cli)   [XTLS_RESOURCE]
  --dir DIR            identity and trust store (default ~/.config/xtls/<jid>) [XTLS_DIR]
  --candidates CLASSES the SOCKS5 addresses a peer may make us connect to, after the session
                       is accepted: a comma list of loopback, private, global (default all
                       three; link-local, multicast and the like never)  [XTLS_CANDIDATES]
  --ca FILE            also trust this CA (PEM) for the server's STARTTLS certificate,
                       next to the system's roots and NODE_EXTRA_CA_CERTS  [XTLS_CA]
Without a password, it is asked without echo on a terminal (exit 2 otherwise).
First contact: the one-time password is asked without echo (or read from XTLS_OTP, or from
stdin when it is not a terminal); a short code is shown as 6 digits and emoji.`;

/** `--transport auto|ibb|s5b` of chat and send. */
export const TRANSPORT_OPTION = { transport: { type: "string" } } as const;

export const TRANSPORT_HELP = `  --transport auto|ibb|s5b   how the bytes travel           [XTLS_TRANSPORT]
                             auto (default): what the peer advertises, SOCKS5 first, in-band
                             bytestreams (IBB) as the fallback; ibb: in-band only (and a
                             waiting chat takes only IBB); s5b: SOCKS5 only, no fallback`;

const TRANSPORTS = ["auto", "ibb", "s5b"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** The transport given with --transport or XTLS_TRANSPORT (default auto); anything else is a usage error. */
export function transportOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv): TransportName {
  const given = str(values.transport) ?? str(env.XTLS_TRANSPORT) ?? "auto";
  if (!(TRANSPORTS as readonly string[]).includes(given)) {
    throw new UsageError(`--transport must be one of ${TRANSPORTS.join(", ")}, got "${given}"`);
  }
  return given as TransportName;
}

/** `--accept-new-key FINGERPRINT` of chat, send and receive. */
export const ACCEPT_NEW_KEY_OPTION = { "accept-new-key": { type: "string" } } as const;

export const ACCEPT_NEW_KEY_HELP = `  --accept-new-key FINGERPRINT   a pinned peer's certificate changed and you compared the
                                 new fingerprint with them out of band: accept exactly that
                                 one (pinned as verified, method manual; the old pin goes)`;

/** The fingerprint given with --accept-new-key, normalized (lowercase hex), if any. */
export function acceptNewKeyOf(values: Record<string, unknown>): string | undefined {
  const given = str(values["accept-new-key"]);
  if (given === undefined) return undefined;
  const fp = tryParseFingerprint(given, "sha-256");
  if (!fp) {
    throw new UsageError(
      `--accept-new-key needs the peer's new SHA-256 fingerprint (64 hex digits, colons allowed), got "${given}"`,
    );
  }
  return fp.hex;
}

export interface Account {
  readonly jid: string;
  readonly password: string | undefined;
  readonly server: string;
  /**
   * No server was given: `server` is the fallback `xmpp://<domain>:5222`, tried after the
   * domain's `_xmpp-client._tcp` SRV records (RFC 6120 §3.2.1), looked up by {@link connect}.
   */
  readonly discover?: boolean;
  readonly resource: string;
  readonly dir: string;
  /** `--candidates`: the address classes SOCKS5 connections may go to (default: all three). */
  readonly candidates?: readonly AllowableAddressClass[];
  /** `--ca FILE`: the CA certificates the server's TLS certificate may chain to (Node's roots included). */
  readonly serverCas?: readonly string[];
}

const ADDRESS_CLASSES: readonly AllowableAddressClass[] = ["loopback", "private", "global"];

/**
 * `--candidates loopback,private,global`: which addresses a peer's (or a compromised
 * server's) SOCKS5 candidates may make us connect to. Narrowing it (e.g. `global` on a
 * host with sensitive local services) stops an accepted peer from using us to reach
 * loopback or LAN services before TLS has verified it.
 */
export function candidatesOf(given: string | undefined): readonly AllowableAddressClass[] | undefined {
  if (given === undefined) return undefined;
  const classes = given
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  const unknown = classes.filter((c) => !ADDRESS_CLASSES.includes(c as AllowableAddressClass));
  if (classes.length === 0 || unknown.length > 0) {
    throw new UsageError(`--candidates takes a comma list of ${ADDRESS_CLASSES.join(", ")}; got "${given}"`);
  }
  return [...new Set(classes as AllowableAddressClass[])];
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

/** What `xtls login` stored: the account later commands use when no --jid is given. */
export interface SavedAccount {
  readonly jid: string;
  readonly server?: string;
  readonly resource?: string;
  /** Only with `xtls login --save-password`. */
  readonly password?: string;
}

/** `~/.config/xtls/account.json` (mode 0600, in a 0700 directory). */
export const savedAccountPath = () => join(homedir(), ".config", "xtls", "account.json");

/** The account `xtls login` stored, if any (an unreadable or malformed file counts as none). */
export function savedAccount(): SavedAccount | undefined {
  try {
    const saved = JSON.parse(readFileSync(savedAccountPath(), "utf8")) as SavedAccount;
    return typeof saved.jid === "string" ? saved : undefined;
  } catch {
    return undefined;
  }
}

export function resolveAccount(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  needPassword: boolean,
  useSaved = true,
): Account {
  // Options first, then the environment, then what `xtls login` stored (for its account only).
  const stored = useSaved ? savedAccount() : undefined;
  const jid = str(values.jid) ?? str(env.XTLS_JID) ?? stored?.jid;
  if (!jid) throw new UsageError('which account? give --jid (or set XTLS_JID, or run "xtls login" once)');
  const parsed = tryParseJid(jid);
  if (!parsed?.local)
    throw new UsageError(`--jid must be a user's JID like romeo@montague.lit, got "${jid}"`);
  const saved = stored?.jid === parsed.bare ? stored : undefined;
  const password = str(values.password) ?? str(env.XTLS_PASSWORD) ?? str(saved?.password);
  if (needPassword && !password)
    throw new UsageError("the account's password is missing: --password (or XTLS_PASSWORD)");
  const given = str(values.server) ?? str(env.XTLS_SERVER) ?? str(saved?.server);
  const server = given ?? `xmpp://${parsed.domain}:5222`;
  const candidates = candidatesOf(str(values.candidates) ?? str(env.XTLS_CANDIDATES));
  const cas = serverCas(str(values.ca) ?? str(env.XTLS_CA), env);
  if (!/^(xmpp|xmpps|ws|wss):\/\//.test(server))
    throw new UsageError(`--server must look like xmpp://host:port, got "${server}"`);
  return {
    jid: parsed.bare,
    password,
    server,
    // A bare --jid has the resource "" (not undefined): the documented default applies then.
    resource:
      str(values.resource) ??
      str(env.XTLS_RESOURCE) ??
      str(parsed.resource) ??
      str(saved?.resource) ??
      "xtls-cli",
    dir: str(values.dir) ?? str(env.XTLS_DIR) ?? join(homedir(), ".config", "xtls", parsed.bare),
    ...(candidates ? { candidates } : {}),
    ...(cas ? { serverCas: cas } : {}),
    ...(given === undefined ? { discover: true } : {}),
  };
}

/**
 * The account of a command that logs in: {@link resolveAccount}, and when no password was
 * given, the password asked without echo on a terminal (a usage error, exit 2, otherwise).
 */
export async function accountFor(
  values: Record<string, unknown>,
  io: { env: NodeJS.ProcessEnv; stdin?: { isTTY?: boolean }; prompter: Prompter },
  useSaved = true,
): Promise<Account> {
  const account = resolveAccount(values, io.env, !io.stdin?.isTTY, useSaved);
  if (account.password) return account;
  const password = await io.prompter.ask(`Password for ${account.jid}: `, { hidden: true });
  if (!password) throw new UsageError("the account's password is missing: --password (or XTLS_PASSWORD)");
  return { ...account, password };
}

/**
 * Where to log in when no server was given: the targets of the domain's
 * `_xmpp-client._tcp` SRV records (lowest priority first, the heaviest first within one),
 * then `fallback`. A lookup that fails or finds nothing leaves only `fallback`. A single
 * record with the target "." says the domain offers no XMPP service (RFC 2782): an error.
 * `XTLS_DNS_SERVER` (host or host:port) sends the lookup to that DNS server instead of the
 * system's — for tests and diagnostics.
 */
export async function discoverServers(
  domain: string,
  fallback: string,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  const dnsServer = str(env.XTLS_DNS_SERVER);
  if (dnsServer) resolver.setServers([dnsServer]);
  let records: SrvRecord[];
  try {
    records = await resolver.resolveSrv(`_xmpp-client._tcp.${domain}`);
  } catch {
    return [fallback];
  }
  if (records.length === 1 && records[0]!.name === ".") {
    throw new ConnectionError(`${domain} offers no XMPP service (its _xmpp-client._tcp SRV record is ".")`);
  }
  const urls = records
    .filter((r) => r.name !== "." && r.name !== "")
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .map((r) => `xmpp://${r.name.includes(":") ? `[${r.name}]` : r.name}:${r.port}`);
  return [...new Set([...urls, fallback])];
}

export function checkPeer(jid: string | undefined, what = "--to"): string {
  const parsed = jid ? tryParseJid(jid) : undefined;
  if (!parsed?.local || !parsed.resource) {
    throw new UsageError(
      `${what} needs the peer's full JID (with its resource), e.g. juliet@capulet.lit/balcony; got "${jid ?? ""}"`,
    );
  }
  return parsed.full;
}

export class ConnectionError extends Error {}

/** How long the server has to answer each step of the login (@xmpp/client's `timeout`). */
const LOGIN_STEP_TIMEOUT_MS = 10_000;

/** How long the server has to answer the ping that tells a broken transport from a lost server. */
const PING_TIMEOUT_MS = 3000;

interface XmppClient {
  jid?: { toString(): string } | null;
  /** @xmpp/connection's wait for each step (stream open, a request's answer, closing). */
  timeout: number;
  reconnect: { stop(): void };
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(el: Element): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export interface Connected {
  readonly xtls: Xtls;
  readonly client: XmppClient;
  /**
   * Rejects with a {@link ConnectionError} when the connection to the server goes away
   * (the server stopped or died, the network dropped it, a stream error) before
   * `close()`; never resolves. Commands race their waits against it, so every way the
   * server can go away ends them with exit code 5 and one line.
   */
  readonly lost: Promise<never>;
  /** Whether {@link lost} has rejected. */
  readonly isLost: () => boolean;
  /**
   * What a failure means to the user: when the connection to the server is gone (or
   * the server no longer answers a ping), the {@link ConnectionError} that says so —
   * a transport the server carried (in-band bytestreams, its SOCKS5 proxy) breaks at the
   * same moment as the connection, and the user must hear that the server went away,
   * not what that broke; otherwise `error` itself.
   */
  readonly explain: (error: unknown) => Promise<unknown>;
  close(): Promise<void>;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The one-time password for first contacts, when the user gave it up front. */
  readonly otp?: string;
  /** `--accept-new-key`: the one new fingerprint of a pinned peer the user compared out of band. */
  readonly acceptNewKey?: string;
  /** `--transport ibb`: no SOCKS5 at all (neither offered, advertised nor accepted). */
  readonly ibbOnly?: boolean;
  /**
   * The peer this command contacts (`send --to`, `chat JID`): at first contact (not a
   * verified contact yet) and with no password in hand, a one-time code is generated,
   * shown for the user to tell the peer, and used (srp) — see {@link oneTimeCode}.
   */
  readonly peer?: string;
}

/**
 * A one-time code for a first contact: 8 random digits (crypto.randomInt, no bias; 10^8
 * codes, about 26.6 bits), shown as `1234-5678`. SRP gives someone in the middle one guess
 * per session and nothing to test offline, and failed attempts are limited across runs
 * (the trust store's counts): the chance of a guess is 1 in 100 million per attempt.
 */
export function oneTimeCode(): string {
  return generatePairingCode({ alphabet: "digits", length: 8 });
}

/** `1234-5678` as shown. */
export const showCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/**
 * A one-time password as typed: one made only of digits, spaces and dashes (a generated
 * code, `1234-5678` or `1234 5678`) counts by its digits, on both sides alike; any other
 * is used exactly as given.
 */
export function normalizeOneTimePassword(typed: string): string {
  const digits = typed.replace(/[\s-]/g, "");
  return /^[\d\s-]+$/.test(typed) && /^\d{6,}$/.test(digits) ? digits : typed;
}

/** Connects the account and wires XTLS with the terminal's prompts. */
export async function connect(
  account: Account,
  prompter: Prompter,
  style: Style,
  err: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv,
  options: ConnectOptions = {},
): Promise<Connected> {
  // @ts-expect-error -- @xmpp/client ships no type declarations; the shape used is XmppClient above.
  const { client } = (await import("@xmpp/client")) as unknown as {
    client: (o: Record<string, unknown>) => XmppClient;
  };
  const [local, domain] = account.jid.split("@") as [string, string];
  const services = account.discover ? await discoverServers(domain, account.server, env) : [account.server];
  let xmpp!: XmppClient;
  let service!: string;
  let lastError: Error | undefined;
  for (const [i, candidate] of services.entries()) {
    service = candidate;
    xmpp = client({
      service,
      domain,
      username: local,
      password: account.password,
      resource: account.resource,
      // Each step of the login (the stream header after STARTTLS, each SASL round) may take this
      // long: @xmpp/client's default of 2 s failed logins over STARTTLS on a loaded machine.
      timeout: LOGIN_STEP_TIMEOUT_MS,
    });
    xmpp.reconnect.stop();
    if (account.serverCas) trustServerCas(xmpp, account.serverCas);
    lastError = undefined;
    xmpp.on("error", (error: Error) => {
      lastError = error;
    });
    try {
      await xmpp.start();
      // Past the login, the library's own 2 s again: closing the stream and the socket of a
      // server that no longer answers must not hold the command's exit for 2 × 10 s.
      xmpp.timeout = 2000;
      break;
    } catch (error) {
      await xmpp.stop().catch(() => {});
      if (isUnverifiedCertificate(error)) {
        // STARTTLS met a certificate that does not chain to a CA we trust, or does not name the
        // domain: someone in the middle, or a server with a private CA the user must name.
        // Final: another SRV target of the same domain is no reason to trust it.
        throw new ConnectionError(
          `the TLS certificate of the server ${domain} at ${service} could not be verified (${(error as Error).message}); not logging in. If that server uses a private CA, give it with --ca FILE (or XTLS_CA, NODE_EXTRA_CA_CERTS)`,
        );
      }
      // The next SRV target (or the fallback) when this one cannot be reached; a refused
      // login is final.
      const code = (error as { code?: string }).code;
      const unreachable = typeof code === "string" && /^E[A-Z]+$/.test(code);
      if (!unreachable || i === services.length - 1) {
        const why =
          (error as Error).message ||
          ((error as Error).name === "TimeoutError"
            ? `no answer within ${LOGIN_STEP_TIMEOUT_MS / 1000} s`
            : String((error as Error).name ?? error));
        throw new ConnectionError(`cannot log in to ${service} as ${account.jid}: ${why}`);
      }
    }
  }
  let closing = false;
  let isLost = false;
  let loseConnection!: (error: ConnectionError) => void;
  const lost = new Promise<never>((_, reject) => {
    loseConnection = reject;
  });
  lost.catch(() => {}); // observed by the commands that race against it
  xmpp.on("disconnect", ({ reason }: { clean?: boolean; reason?: unknown } = {}) => {
    if (closing) return;
    const why = lastError?.message ?? (reason instanceof Error ? reason.message : undefined);
    gone(
      new ConnectionError(
        `lost the connection to ${service}${why ? ` (${why})` : " (the server closed it)"}`,
      ),
    );
  });
  const gone = (error: ConnectionError) => {
    if (isLost) return;
    isLost = true;
    loseConnection(error);
  };
  const explain = async (error: unknown): Promise<unknown> => {
    if (error instanceof ConnectionError || error instanceof UsageError) return error;
    if (!isLost) {
      try {
        await Promise.race([
          xtls.link.request(xml("iq", { type: "get", to: domain }, xml("ping", { xmlns: "urn:xmpp:ping" })), {
            timeoutMs: PING_TIMEOUT_MS,
          }),
          lost,
        ]);
      } catch (failure) {
        // An error reply is an answer: the server is there.
        if (!(failure instanceof StanzaError)) {
          gone(
            failure instanceof ConnectionError
              ? failure
              : new ConnectionError(`lost the connection to ${service} (the server no longer answers)`),
          );
        }
      }
    }
    if (isLost) return await lost.catch((e: unknown) => e);
    // The server answered for the peer with an error to our offer: nobody is there.
    let stanzaError: unknown = error;
    for (let depth = 0; stanzaError && depth < 10 && !(stanzaError instanceof StanzaError); depth++) {
      stanzaError = (stanzaError as { cause?: unknown }).cause;
    }
    if (options.peer && stanzaError instanceof StanzaError && OFFLINE_CONDITIONS.has(stanzaError.condition)) {
      return new PeerOfflineError(options.peer, stanzaError.condition, error);
    }
    return error;
  };
  // First contact with the peer this command contacts, no password in hand: a code of ours.
  let code: string | undefined;
  if (options.peer && options.otp === undefined && !env.XTLS_OTP) {
    const pins = await new FileTrustStore(join(account.dir, "trust.json")).entries(bareJid(options.peer));
    if (!pins.some((e) => e.state === "verified")) {
      code = oneTimeCode();
      err.write(
        `Tell ${bareJid(options.peer)} this one-time code: ${style.bold(showCode(code))}\n` +
          style.dim(
            "  (first contact: they type it when asked; 8 digits, about 26.6 bits, one guess per attempt)\n",
          ),
      );
    }
  }
  const inHand = options.otp ?? code ?? (env.XTLS_OTP || undefined);
  const xtls = await createXtls(xmpp as never, {
    dir: account.dir,
    ...(account.candidates ? { candidatePolicy: { allow: account.candidates } } : {}),
    ...(options.ibbOnly ? { socks5: false as const } : {}),
    ...(options.acceptNewKey ? { acceptNewKey: options.acceptNewKey } : {}),
    // A one-time password given up front (XTLS_OTP, --ask-otp): a first contact must be srp; a
    // negotiation without it is a downgrade (exit 3), never a fall-back to a short code.
    ...(inHand !== undefined ? { passwordInHand: true } : {}),
    askPassword: async (req: PasswordRequest) => {
      if (inHand !== undefined) return normalizeOneTimePassword(inHand);
      const typed = await prompter.ask(
        `First contact with ${req.peer} (certificate ${formatFingerprint(req.fingerprint)}).\nOne-time password or code they gave you: `,
        { hidden: true },
      );
      return typed === null ? null : normalizeOneTimePassword(typed);
    },
    confirmSas: async (req: SasConfirmRequest) => {
      err.write(
        `\nCompare this code with ${req.peer}:\n  ${style.bold(req.digits.replace(/(\d{3})(\d{3})/, "$1 $2"))}\n  ${req.emoji.map((e) => `${e.emoji} ${e.description}`).join("  ")}\n`,
      );
      return prompter.confirm("Does their screen show the same code?");
    },
  });
  return {
    xtls,
    client: xmpp,
    lost,
    isLost: () => isLost,
    explain,
    close: async () => {
      closing = true;
      await xtls.close().catch(() => {});
      await xmpp.stop().catch(() => {});
    },
  };
}

export { bareJid };
