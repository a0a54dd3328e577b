// Two XTLS parties with the real plug-ins: @xtls/ibb's Jingle transport (or a loopback
// transport on an in-memory duplex pair), XtlsSecurity over @xtls/tls with pinned
// certificates, and this package's file-transfer application and service.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { duplexPair, type XmppLink, xml } from "@xtls/core";
import type { ContentContext, TransportHandle, TransportMethod } from "@xtls/jingle";
import { type Party as XtlsParty, partyOn as xtlsPartyOn } from "@xtls/testkit/parties";
import { until as waitUntil } from "@xtls/testkit/support";
import {
  advertiseFileTransfer,
  FileTransferApplication,
  FileTransferService,
  type IncomingFileOffer,
} from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";

export interface Party extends Omit<XtlsParty, "transport"> {
  /** The transport sessions use: IBB, or the loopback. */
  readonly transport: TransportMethod;
  readonly files: FileTransferService;
}

export interface PartyOptions {
  /** JIDs whose certificates this party has pinned. */
  readonly pins?: readonly string[];
  /** Transport: IBB (default) or the in-memory loopback. */
  readonly transport?: "ibb" | "loopback";
  readonly progressIntervalMs?: number;
  readonly blockSize?: number;
  /** Give the application format a directory to accept into (without the service). */
  readonly autoAcceptDir?: string;
}

/** An XTLS party (@xtls/testkit) whose only application is file transfer, and its service. */
export async function partyOn(link: XmppLink, options: PartyOptions = {}): Promise<Party> {
  const loopback = options.transport === "loopback" ? loopbackTransport() : undefined;
  const party = await xtlsPartyOn(link, {
    pins: options.pins,
    security: { handshakeTimeoutMs: 20_000 },
    blockSize: options.blockSize ?? 8192,
    applications: [new FileTransferApplication({ dir: options.autoAcceptDir })],
    transports: ({ transport }) => [loopback ?? transport],
    jingle: { acceptTimeoutMs: 20_000, connectTimeoutMs: 20_000 },
  });
  const transport = loopback ?? party.transport;
  advertiseFileTransfer(link);
  const files = new FileTransferService(party.manager, {
    transports: [transport],
    security: party.security,
    progressIntervalMs: options.progressIntervalMs ?? 20,
  });
  return { ...party, transport, files };
}

/** The next offer `party` receives. */
export function nextOffer(party: Party): Promise<IncomingFileOffer> {
  return new Promise((resolve) => party.files.once("offer", resolve));
}

// --- a transport on an in-memory duplex pair (no XMPP in the data path) -------------

const LOOPBACK = "urn:xtls:test:loopback";
const pairs = new Map<string, [Duplex, Duplex]>();
let nextPair = 0;

export function loopbackTransport(): TransportMethod {
  const handle = (ctx: ContentContext, id: string): TransportHandle => {
    let pair = pairs.get(id);
    if (!pair) {
      pair = duplexPair({ highWaterMark: 256 * 1024 });
      pairs.set(id, pair);
    }
    const mine = ctx.role === "initiator" ? pair[0] : pair[1];
    return {
      element: () => xml("transport", { xmlns: LOOPBACK, id }),
      connect: async () => mine,
      close: () => {
        pairs.delete(id);
        if (!mine.destroyed) mine.destroy();
      },
    };
  };
  return {
    namespaces: [LOOPBACK],
    offer: (ctx) => handle(ctx, `lb${nextPair++}`),
    accept: (ctx, offer) => handle(ctx, offer.attrs.id!),
  };
}

// --- files ---------------------------------------------------------------------------

const dirs: string[] = [];

export async function tempDir(prefix = "xtls-ft-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Deterministic, incompressible-looking test content. */
export function content(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** `until` (@xtls/testkit/support) with this package's default: 20 s, checking every 5 ms. */
export const until = (cond: () => boolean, ms = 20_000): Promise<void> => waitUntil(cond, ms, 5);
