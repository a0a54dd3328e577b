// A stand-in for Prosody's mod_proxy65 on the embedded router, written from its source
// (Prosody 0.12): the greeting and the CONNECT request must each come in ONE read of
// exactly their size (so a client that coalesces them fails, as with the real one); the
// first connection of a hash is the target's, the second the requester's; bytes wait
// (unread) until the requester activates; activation errors as Prosody sends them; and
// no half-close: the first FIN closes both sides.
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { type LocalLink, type LocalRouter, NS, StanzaError, xml } from "@xtls/core";
import type { StreamHost } from "../src/index.js";

interface Transfer {
  target?: Socket;
  initiator?: Socket;
  activated: boolean;
}

export class TestProxy65 {
  readonly link: LocalLink;
  readonly server: Server;
  readonly port: number;
  /** When set, every activation is answered with this error. */
  refuseActivation: StanzaError | undefined;
  /** Reads that did not have the exact size of the SOCKS5 message expected (a coalescing client). */
  badReads = 0;
  readonly activations: Array<{ from: string; sid: string; target: string }> = [];
  readonly #transfers = new Map<string, Transfer>();
  readonly #sockets = new Set<Socket>();

  private constructor(link: LocalLink, server: Server, port: number) {
    this.link = link;
    this.server = server;
    this.port = port;
    link.handle("get", NS.S5B, "query", () =>
      xml(
        "query",
        { xmlns: NS.S5B },
        xml("streamhost", { jid: link.jid, host: "127.0.0.1", port: String(port) }),
      ),
    );
    link.handle("set", NS.S5B, "query", (iq) => {
      const sid = iq.payload.attrs.sid;
      const target = iq.payload.getChildText("activate")?.trim();
      if (!sid || !target) throw new StanzaError("bad-request");
      const sha = createHash("sha1").update(`${sid}${iq.from}${target}`).digest("hex");
      const transfer = this.#transfers.get(sha);
      if (!transfer) throw new StanzaError("item-not-found", { type: "modify" });
      if (!transfer.initiator || !transfer.target) {
        throw new StanzaError("not-allowed", { text: "The sender (you) is not connected to the proxy" });
      }
      if (this.refuseActivation) throw this.refuseActivation;
      this.activations.push({ from: iq.from, sid, target });
      transfer.activated = true;
      relay(transfer.target, transfer.initiator);
      relay(transfer.initiator, transfer.target);
      return undefined;
    });
  }

  static async start(router: LocalRouter, jid = "proxy@localhost/proxy65"): Promise<TestProxy65> {
    const link = router.createLink(jid, { identity: { category: "proxy", type: "bytestreams" } });
    let proxy: TestProxy65 | undefined;
    const server = createServer({ allowHalfOpen: true }, (socket) => proxy?.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new TestProxy65(link, server, (server.address() as { port: number }).port);
    return proxy;
  }

  get streamhost(): StreamHost {
    return { jid: this.link.jid, host: "127.0.0.1", port: this.port };
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.link.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    let state: "greeting" | "request" | "connected" = "greeting";
    let sha = "";
    socket.on("close", () => {
      this.#sockets.delete(socket);
      const transfer = this.#transfers.get(sha);
      if (!transfer) return;
      const other = transfer.initiator === socket ? transfer.target : transfer.initiator;
      this.#transfers.delete(sha);
      if (!transfer.activated) other?.destroy();
    });
    const onData = (data: Buffer) => {
      if (state === "greeting") {
        const n = data[1] ?? 0;
        if (data[0] !== 5 || n === 0 || data.length !== 2 + n || !data.subarray(2).includes(0)) {
          this.badReads++;
          socket.end(Buffer.from([5, 0xff]));
          return;
        }
        state = "request";
        socket.write(Buffer.from([5, 0]));
        return;
      }
      if (data.length !== 47 || data.readUInt32BE(0) !== 0x05010003 || data[4] !== 40) {
        this.badReads++;
        socket.end(Buffer.from([5, 1, 0, 3, 0, 0, 0]));
        return;
      }
      sha = data.toString("latin1", 5, 45);
      state = "connected";
      socket.off("data", onData);
      socket.pause(); // Prosody: conn:pause() until activation
      socket.write(Buffer.concat([Buffer.from([5, 0, 0, 3, 40]), data.subarray(5, 45), Buffer.from([0, 0])]));
      const transfer = this.#transfers.get(sha);
      if (!transfer) this.#transfers.set(sha, { target: socket, activated: false });
      else transfer.initiator = socket;
    };
    socket.on("data", onData);
  }
}

function relay(from: Socket, to: Socket): void {
  from.on("data", (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  });
  // Prosody's net.server has no half-close: an EOF is a disconnect, and mod_proxy65
  // then closes the other side too (after flushing what it still holds for it).
  from.on("end", () => {
    from.destroy();
    to.end();
    to.once("finish", () => to.destroy());
  });
  from.on("close", () => {
    if (!to.destroyed && !from.readableEnded) to.destroy();
  });
  from.resume();
}
