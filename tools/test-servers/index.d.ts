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
