/**
 * Process-wide guards for the fuzz run:
 *
 * - every unhandled rejection, uncaught exception and "handler threw" warning (a stanza
 *   handler or listener that crashed; core turns it into internal-server-error) is
 *   recorded, so a property can fail on the case that caused it;
 * - outgoing TCP connections are allowed to loopback addresses only: fuzzed SOCKS5
 *   streamhosts and candidates name arbitrary hosts, and the fuzzer must never resolve
 *   or reach them. A blocked connection fails like a refused one.
 */
import net from "node:net";
import { inspect } from "node:util";

interface GuardState {
  readonly escaped: string[];
  /** How much of `escaped` a case has already reported as its own. */
  reported: number;
  blockedConnections: number;
}

const KEY = Symbol.for("@xtls/fuzz/guards");
type GlobalWithGuards = typeof globalThis & { [KEY]?: GuardState };

function describe(value: unknown): string {
  return value instanceof Error ? (value.stack ?? value.message) : inspect(value, { depth: 3 });
}

function isLoopback(host: string | undefined): boolean {
  if (host === undefined || host === "" || host === "localhost") return true;
  if (net.isIPv4(host)) return host.startsWith("127.");
  return net.isIPv6(host) && (host === "::1" || host === "0:0:0:0:0:0:0:1");
}

function install(): GuardState {
  const state: GuardState = { escaped: [], reported: 0, blockedConnections: 0 };
  process.on("unhandledRejection", (reason) => {
    state.escaped.push(`unhandled rejection: ${describe(reason)}`);
  });
  process.on("uncaughtException", (error) => {
    state.escaped.push(`uncaught exception: ${describe(error)}`);
  });
  process.on("warning", (warning) => {
    // LinkBase's and XmlStream's reports of a handler or listener that threw.
    if (/ threw: /.test(warning.message)) state.escaped.push(`a handler threw: ${warning.message}`);
  });
  const connect = net.Socket.prototype.connect as (...args: unknown[]) => net.Socket;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    let first = args[0];
    if (Array.isArray(first)) first = first[0]; // net.connect() passes its normalised arguments
    const host =
      typeof first === "object" && first !== null
        ? ((first as { host?: string; path?: string }).path ?? (first as { host?: string }).host)
        : typeof args[1] === "string"
          ? args[1]
          : undefined;
    if (!isLoopback(host)) {
      state.blockedConnections++;
      const error = Object.assign(new Error(`fuzz guard: no connection to ${String(host)}`), {
        code: "ECONNREFUSED",
      });
      process.nextTick(() => this.destroy(error));
      return this;
    }
    return connect.apply(this, args);
  } as typeof net.Socket.prototype.connect;
  return state;
}

// Errors are thrown by the thousand here (every refused stanza is one); vitest asks for
// 100-frame stacks, which made building them a tenth of the run. 16 frames still show
// where a failure came from.
Error.stackTraceLimit = 16;

const holder = globalThis as GlobalWithGuards;
/** Installed once per worker process, whichever test file imports it first. */
export const guards: GuardState = holder[KEY] ?? install();
holder[KEY] = guards;

/** What escaped since `mark` (an index into the log); it counts as reported. */
export function escapedSince(mark: number): string[] {
  guards.reported = guards.escaped.length;
  return guards.escaped.slice(mark);
}

/** What escaped outside any case (after the last one looked), e.g. from a late timer. */
export function unreportedEscapes(): string[] {
  const late = guards.escaped.slice(guards.reported);
  guards.reported = guards.escaped.length;
  return late;
}

export function escapeMark(): number {
  return guards.escaped.length;
}
