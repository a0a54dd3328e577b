// Two XTLS parties with the real plug-ins: @xtls/ibb's Jingle transport (or a loopback
// transport on an in-memory duplex pair), XtlsSecurity over @xtls/tls with pinned
// certificates, and this package's file-transfer application and service.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { duplexPair, type XmppLink, xml } from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import {
  type ContentContext,
  createJingleManager,
  type JingleManager,
  type TransportHandle,
  type TransportMethod,
} from "@xtls/jingle";
import { XtlsSecurity } from "@xtls/jingle-xtls";
import { createIdentity, type Identity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import {
  advertiseFileTransfer,
  FileTransferApplication,
  FileTransferService,
  type IncomingFileOffer,
} from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";

const identities = new Map<string, Identity>();

/** One long-lived identity per bare JID (key generation is the slow part). */
export function identityOf(jid: string): Identity {
  const bare = jid.split("/")[0]!;
  let id = identities.get(bare);
  if (!id) {
    id = createIdentity(bare);
    identities.set(bare, id);
  }
  return id;
}

export interface Party {
  readonly link: XmppLink;
  readonly ibb: InBandBytestreams;
  readonly transport: TransportMethod;
  readonly security: XtlsSecurity;
  readonly manager: JingleManager;
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

export async function partyOn(link: XmppLink, options: PartyOptions = {}): Promise<Party> {
  const trust = new MemoryTrustStore();
  for (const jid of options.pins ?? [])
    await trust.pin(jid, identityOf(jid).fingerprint, { method: "manual" });
  const engine = new NodeTlsEngine({ identity: identityOf(link.jid), trustStore: trust });
  const security = new XtlsSecurity({ engine, handshakeTimeoutMs: 20_000 });
  const ibb = new InBandBytestreams(link);
  const transport: TransportMethod =
    options.transport === "loopback"
      ? loopbackTransport()
      : new IbbTransport({ ibb, blockSize: options.blockSize ?? 8192 });
  const manager = createJingleManager(link, {
    applications: [new FileTransferApplication({ dir: options.autoAcceptDir })],
    transports: [transport],
    security: [security],
    acceptTimeoutMs: 20_000,
    connectTimeoutMs: 20_000,
  });
  advertiseFileTransfer(link);
  const files = new FileTransferService(manager, {
    transports: [transport],
    security,
    progressIntervalMs: options.progressIntervalMs ?? 20,
  });
  return { link, ibb, transport, security, manager, files };
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

export const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await tick(5);
  }
}
