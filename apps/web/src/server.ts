/**
 * The local agent's web side: serves the page (plain HTML, CSS and an ES module, no
 * bundler) over HTTP on 127.0.0.1, and one WebSocket endpoint through which each page
 * drives its person's XTLS endpoint (protocol.ts).
 *
 * Only loopback: the server listens on 127.0.0.1 and nowhere else. Any web page the
 * browser shows could try to talk to it, so every request must name this server in its
 * Host header (against DNS rebinding), every WebSocket must come from this server's own
 * origin, and a page acts for a person only with that person's key (in the URL printed
 * at start). Received files are always served as downloads, never rendered.
 */

import { timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import { embeddedNetwork, type Network, type ServerOptions, serverNetwork } from "./network.js";
import { Person } from "./person.js";
import { UPLOAD_CHUNK } from "./protocol.js";

export const LOOPBACK = "127.0.0.1";
const PUBLIC_DIR = new URL("../public/", import.meta.url);
const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

export interface WebDemoOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** A real XMPP server and the two accounts; the embedded router when absent. */
  readonly server?: ServerOptions;
  /**
   * Keep identities, trust stores and received files in `dir/romeo/` and `dir/juliet/`
   * (so a second run needs no password). Default: in memory, received files in a
   * temporary directory removed at close.
   */
  readonly dir?: string;
}

export interface WebDemo {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Each person's page, with its key. */
  readonly urls: { readonly romeo: string; readonly juliet: string };
  readonly people: { readonly romeo: Person; readonly juliet: Person };
  readonly network: string;
  close(): Promise<void>;
}

export async function startWebDemo(options: WebDemoOptions = {}): Promise<WebDemo> {
  const network: Network = options.server ? await serverNetwork(options.server) : embeddedNetwork();
  const scratch = options.dir ? undefined : await mkdtemp(join(tmpdir(), "xtls-web-"));
  const base = options.dir ?? scratch!;
  const people: Person[] = [];
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: UPLOAD_CHUNK + 4096 });
  const close = async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await Promise.allSettled(people.map((p) => p.close()));
    await network.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  };
  try {
    const person = async (name: "romeo" | "juliet", peer: "romeo" | "juliet") => {
      await mkdir(join(base, name), { recursive: true });
      return Person.create({
        name,
        displayName: name === "romeo" ? "Romeo" : "Juliet",
        link: network[name],
        peer: { displayName: peer === "romeo" ? "Romeo" : "Juliet", jid: network[peer].jid },
        network: network.description,
        inbox: join(base, name, "inbox"),
        ...(options.dir ? { dir: join(base, name) } : {}),
      });
    };
    const romeo = await person("romeo", "juliet");
    people.push(romeo);
    const juliet = await person("juliet", "romeo");
    people.push(juliet);
    const byName = new Map(people.map((p) => [p.name, p]));

    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(options.port ?? 0, LOOPBACK, () => resolve());
    });
    const { port } = http.address() as AddressInfo;
    const origin = `http://${LOOPBACK}:${port}`;
    const hosts = new Set([`${LOOPBACK}:${port}`, `localhost:${port}`]);
    const origins = new Set([...hosts].map((h) => `http://${h}`));

    // The person a request acts for, if its `as` and `key` are right.
    const personFor = (url: URL): Person | undefined => {
      const p = byName.get(url.searchParams.get("as") ?? "");
      const key = Buffer.from(url.searchParams.get("key") ?? "");
      const expected = Buffer.from(p?.key ?? "");
      return p && key.length === expected.length && timingSafeEqual(key, expected) ? p : undefined;
    };

    http.on("request", (req: IncomingMessage, res: ServerResponse) => {
      void serve(req, res, { hosts, personFor, port }).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    http.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", origin);
      const person = personFor(url);
      const refuse = (status: string) => {
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      };
      if (url.pathname !== "/ws") return refuse("404 Not Found");
      if (!hosts.has(req.headers.host ?? "") || !origins.has(req.headers.origin ?? "")) {
        return refuse("403 Forbidden");
      }
      if (!person) return refuse("403 Forbidden");
      wss.handleUpgrade(req, socket, head, (ws) => person.attach(ws));
    });

    const urls = {
      romeo: `${origin}/?as=romeo&key=${romeo.key}`,
      juliet: `${origin}/?as=juliet&key=${juliet.key}`,
    };
    return { origin, urls, people: { romeo, juliet }, network: network.description, close };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: { hosts: Set<string>; personFor: (url: URL) => Person | undefined; port: number },
): Promise<void> {
  const common = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
  };
  if (!ctx.hosts.has(req.headers.host ?? "")) {
    res.writeHead(403, common).end("this agent answers only at its own address");
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...common, Allow: "GET, HEAD" }).end();
    return;
  }
  const url = new URL(req.url ?? "/", `http://${LOOPBACK}:${ctx.port}`);
  const asset = STATIC[url.pathname];
  if (asset) {
    const body = await readFile(new URL(asset.file, PUBLIC_DIR));
    res
      .writeHead(200, {
        ...common,
        "Content-Type": asset.type,
        "Content-Security-Policy":
          `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; ` +
          `connect-src ws://${LOOPBACK}:${ctx.port} ws://localhost:${ctx.port}; base-uri 'none'; ` +
          `form-action 'none'; frame-ancestors 'none'`,
      })
      .end(req.method === "HEAD" ? undefined : body);
    return;
  }
  const file = /^\/files\/([\w-]+)$/.exec(url.pathname);
  const person = file ? ctx.personFor(url) : undefined;
  const stored = file && person ? person.storedFile(file[1]!) : undefined;
  if (!stored) {
    res.writeHead(404, { ...common, "Content-Type": "text/plain; charset=utf-8" }).end("not found");
    return;
  }
  const { size } = await stat(stored.path);
  // Always a download of opaque octets: a peer's file must never run as a page here.
  res.writeHead(200, {
    ...common,
    "Content-Type": "application/octet-stream",
    "Content-Length": String(size),
    "Content-Disposition": `attachment; filename*=UTF-8''${encodeURIComponent(stored.name)}`,
  });
  if (req.method === "HEAD") res.end();
  else createReadStream(stored.path).pipe(res);
}
