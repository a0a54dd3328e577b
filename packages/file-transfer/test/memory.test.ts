// A large file is streamed, never buffered: over a loopback transport (an in-memory
// duplex pair, so XMPP is not the bottleneck) with real XTLS (TLS 1.3) in the path,
// the memory the process holds stays flat while the file moves.
//
// 1 GiB by default (about 10 s on a 2-core machine); XTLS_FT_MEMORY_MIB=<n> picks
// another size (e.g. 64 for a quick run).
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { LocalRouter } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import { isPartialName } from "../src/index.js";
import { content, entries, JULIET, nextOffer, partyOn, ROMEO, removeTempDirs, tempDir } from "./helpers.js";

const MiB = 1024 * 1024;
const SIZE = Number(process.env.XTLS_FT_MEMORY_MIB ?? 1024) * MiB;
/** How much the retained heap + ArrayBuffers may vary while the file moves. */
const HEAP_BOUND = 8 * MiB;
/** RSS is noisier (allocator, OpenSSL, the thread pool): it may not trend up by more than this. */
const RSS_TREND_BOUND = 32 * MiB;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let router: LocalRouter;
afterEach(async () => {
  router?.close();
  await removeTempDirs();
});

/** `size` octets made of one 1 MiB block repeated, produced on demand (no buffering). */
function generated(size: number, block: Buffer): Readable {
  let left = size;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

function retained(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe("memory bound", () => {
  it(`moves ${SIZE / MiB} MiB through XTLS without holding more than a few MiB`, async () => {
    router = new LocalRouter();
    const romeo = await partyOn(router.createLink(ROMEO), { pins: [JULIET], transport: "loopback" });
    const juliet = await partyOn(router.createLink(JULIET), { pins: [ROMEO], transport: "loopback" });
    const inbox = await tempDir();
    const block = content(MiB, 11);
    const expected = createHash("sha256");
    for (let left = SIZE; left > 0; left -= block.length)
      expected.update(block.subarray(0, Math.min(left, MiB)));
    const digest = expected.digest("base64");

    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(JULIET, generated(SIZE, block), {
      name: "big.bin",
      size: SIZE,
      progressIntervalMs: 100,
    });
    const receiving = await (await offered).accept({ dir: inbox }, { progressIntervalMs: 100 });

    // Sampled beside the transfer, once the pipeline is full (TLS, transport and file
    // buffers allocated): what the process retains after a full GC. ArrayBuffers freed
    // by a GC are released by V8 a moment later, hence the second GC a tick after.
    const samples: number[] = [];
    const rssSamples: number[] = [];
    let received = 0;
    receiving.on("progress", ({ bytes }) => {
      received = bytes;
    });
    let finished = false;
    const t0 = performance.now();
    const transfer = Promise.all([sending.done, receiving.done]).finally(() => {
      finished = true;
    });
    while (!finished) {
      await new Promise((r) => setTimeout(r, 100));
      if (finished || received < 16 * MiB || received === SIZE) continue;
      gc();
      await new Promise((r) => setImmediate(r));
      samples.push(retained());
      rssSamples.push(process.memoryUsage().rss);
    }
    const [ours, theirs] = await transfer;
    const seconds = (performance.now() - t0) / 1000;
    const growth = Math.max(...samples) - Math.min(...samples);
    const half = Math.floor(rssSamples.length / 2);
    const rssTrend = Math.max(...rssSamples.slice(half)) - Math.max(...rssSamples.slice(0, half));
    const rssRange = Math.max(...rssSamples) - Math.min(...rssSamples);

    expect(ours.hash.value).toBe(digest);
    expect(theirs.hash.value).toBe(digest);
    expect((await stat(join(inbox, "big.bin"))).size).toBe(SIZE);
    expect((await entries(inbox)).filter(isPartialName)).toEqual([]);
    expect(samples.length).toBeGreaterThanOrEqual(2);
    console.log(
      `${SIZE / MiB} MiB in ${seconds.toFixed(1)} s (${(SIZE / MiB / seconds).toFixed(0)} MiB/s); ` +
        `retained heap+buffers varied by ${(growth / MiB).toFixed(2)} MiB over ${samples.length} samples; ` +
        `RSS varied by ${(rssRange / MiB).toFixed(1)} MiB (second half vs first: ${(rssTrend / MiB).toFixed(1)} MiB)`,
    );
    expect(growth).toBeLessThan(HEAP_BOUND);
    expect(rssTrend).toBeLessThan(RSS_TREND_BOUND);
  }, 600_000);
});
