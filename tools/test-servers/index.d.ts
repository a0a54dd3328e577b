export interface ProsodyInfo {
  readonly host: string;
  readonly c2sPort: number;
  readonly httpPort: number;
  readonly proxy65Port: number;
  readonly service: string;
  readonly websocket: string;
  readonly password: string;
  readonly hosts: readonly string[];
  readonly users: readonly string[];
}
export declare const prosody: ProsodyInfo;
export declare const REPO_ROOT: string;
export declare const PROSODY_DIR: string;
export function ensureProsodyInstalled(): void;
export function startProsody(env?: Record<string, string>): Promise<number>;
export function stopProsody(): Promise<void>;
export function prosodyStatus(): ProsodyInfo & { running: boolean; pid: number | undefined; dir: string };
export function acquireProsody(pid?: number): Promise<ReturnType<typeof prosodyStatus>>;
export function releaseProsody(pid?: number): Promise<void>;
export function prosodyLogTail(lines?: number): string;
export interface ConnectOptions {
  username: string;
  domain: string;
  resource?: string;
  password?: string;
  [extra: string]: unknown;
}
// biome-ignore lint/suspicious/noExplicitAny: @xmpp/client ships no types.
export type XmppClient = any;
export function connectXmppClient(options: ConnectOptions): Promise<XmppClient>;

/** Debian's python3, which sees Debian's python3-slixmpp. */
export declare const SYSTEM_PYTHON: string;
/** Whether Debian's python3 can import slixmpp. */
export declare function slixmppAvailable(): boolean;
/** Installs python3-slixmpp with apt-get when missing (root only; otherwise throws saying how). */
export declare function ensureSlixmppInstalled(): void;

/** The test ejabberd 23.01 (ejabberd.js): its own ports, same hosts, users and password as Prosody. */
export interface EjabberdInfo {
  readonly host: string;
  readonly c2sPort: number;
  readonly httpPort: number;
  readonly proxy65Port: number;
  readonly service: string;
  readonly websocket: string;
  readonly bosh: string;
  readonly password: string;
  readonly hosts: readonly string[];
  readonly users: readonly string[];
  /** XEP-0198 `max_ack_queue`: the stream is closed past this many unacknowledged stanzas. */
  readonly maxAckQueue: number;
}
export declare const ejabberd: EjabberdInfo;
export declare const EJABBERD_DIR: string;
/** Whether Debian's ejabberd (its Erlang applications and `erl`) is installed. */
export function ejabberdInstalled(): boolean;
/** Installs Debian's ejabberd with apt-get when missing (root only; otherwise throws saying how). */
export function ensureEjabberdInstalled(): void;
export function startEjabberd(): Promise<number>;
export function stopEjabberd(): Promise<void>;
export function ejabberdStatus(): EjabberdInfo & {
  running: boolean;
  pid: number | undefined;
  dir: string;
  version: string | undefined;
};
export function acquireEjabberd(pid?: number): Promise<ReturnType<typeof ejabberdStatus>>;
export function releaseEjabberd(pid?: number): Promise<void>;
export function ejabberdLogTail(lines?: number): string;
/** connectXmppClient against the test ejabberd (c2s port, password `secret` by default). */
export function connectEjabberdClient(
  options: Omit<ConnectOptions, "password"> & { password?: string },
): Promise<XmppClient>;
/** Whether `pid` is a running process; a zombie (dead, not yet reaped) counts as gone. */
export function alive(pid: number): boolean;
/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port: number): Promise<boolean>;

/** A fenced code block of a README. */
export interface ReadmeBlock {
  /** The README's absolute path. */
  readonly readme: string;
  /** 1-based, among the blocks of the languages asked for. */
  readonly index: number;
  readonly lang: string;
  /** The README line of the block's first line of code (1-based). */
  readonly line: number;
  readonly code: string;
}
/** The fenced blocks of `readme` in `lang` (default "ts"), in order. */
export function readmeBlocks(readme: string, lang?: string | readonly string[]): ReadmeBlock[];

/** One command of a README's ```sh blocks (continuation lines joined, the trailing comment apart). */
export interface ReadmeCommand {
  readonly readme: string;
  readonly line: number;
  readonly command: string;
  /** The command split into words as a shell would (quotes removed; `&&`, `|` and `VAR=x` stay words). */
  readonly words: readonly string[];
  readonly comment?: string;
}
export function readmeCommands(readme: string): ReadmeCommand[];
export function shellWords(command: string): string[];

export interface ReadmeRunnerOptions {
  /** Path of the README. */
  readme: string;
  /** The package whose imports and tsconfig.json the blocks use; default: the README's directory. */
  dir?: string;
  /** Which fences run; default "ts". */
  lang?: string | readonly string[];
  /** Per block; default 20 000 ms. */
  timeoutMs?: number;
  /** How long the handles a block opened may take to close once it finished; default 5 000 ms. */
  settleMs?: number;
}
export interface ReadmeRun {
  /** console.log/info/warn/error/debug calls, one string each (util.format). */
  readonly logs: string[];
  /** What was written to process.stdout / process.stderr. */
  readonly stdout: string;
  readonly stderr: string;
  /** The block's module namespace. */
  readonly exports: Record<string, unknown>;
  readonly block: ReadmeBlock;
}
export interface ReadmeRunOptions {
  timeoutMs?: number;
  settleMs?: number;
  /** Working directory while the block runs (relative paths in the example). */
  cwd?: string;
}
/**
 * Runs a README's blocks verbatim inside vitest: each is written to
 * `<dir>/test/.readme/` (gitignored) and imported, so workspace imports resolve.
 */
export class ReadmeRunner {
  constructor(options: ReadmeRunnerOptions);
  readonly readme: string;
  readonly dir: string;
  /** The README's path relative to `dir`, as errors name it. */
  readonly name: string;
  readonly blocks: readonly ReadmeBlock[];
  /** The temporary file of each block. */
  readonly files: readonly string[];
  block(index: number): ReadmeBlock;
  /** "README.md block 2 (line 34)". */
  where(index: number): string;
  /**
   * Runs block `index` (1-based); resolves once it finished and the sockets, servers and
   * files it opened are closed. Rejects naming the block and README line on an exception,
   * a timeout, or handles left open (with what it printed).
   */
  run(index: number, options?: ReadmeRunOptions): Promise<ReadmeRun>;
  /** Type-checks every block (one program, the package's tsconfig); the diagnostics, README lines. */
  typecheck(): Promise<string[]>;
  /** The blocks run() was never called for, e.g. `expect(readme.notRun()).toEqual([])` last. */
  notRun(): number[];
  /** Removes the temporary files. */
  cleanup(): void;
}
export function readmeRunner(options: ReadmeRunnerOptions): ReadmeRunner;

export { deadlines } from "./deadlines.js";
export { type StartedCommand, startCommand } from "./processes.js";

/** Starts an xmpp.js client under `deadlines.loginMs`; a missed deadline reports the last stanzas. */
export function startWithin(xmpp: XmppClient, what: string, ms?: number): Promise<void>;
