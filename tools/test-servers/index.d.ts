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
