import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileTrustStore, MemoryTrustStore, type TrustStore, TrustStoreError } from "../src/index.js";

const FP = (n: number) => n.toString(16).padStart(64, "0");

describe.each([
  ["MemoryTrustStore", async () => new MemoryTrustStore()],
  [
    "FileTrustStore",
    async () => new FileTrustStore(join(await mkdtemp(join(tmpdir(), "xtls-trust-")), "trust.json")),
  ],
])("%s", (_name, make: () => Promise<TrustStore>) => {
  it("pins per bare JID, updates in place, revokes and forgets", async () => {
    const store = await make();
    const first = await store.pin("juliet@capulet.lit/balcony", FP(1), { method: "srp" });
    expect(first).toMatchObject({ fingerprint: FP(1), state: "verified", method: "srp" });
    await store.pin("Juliet@Capulet.lit", FP(1).toUpperCase(), { method: "sas", state: "verified" });
    await store.pin("juliet@capulet.lit", FP(2), { method: "tofu", state: "tofu" });
    const entries = await store.entries("juliet@capulet.lit/chamber");
    expect(entries.map((e) => [e.fingerprint, e.state, e.method])).toEqual([
      [FP(1), "verified", "sas"],
      [FP(2), "tofu", "tofu"],
    ]);
    expect(entries[0]?.addedAt).toBe(first.addedAt);
    await store.revoke("juliet@capulet.lit", FP(2));
    expect((await store.entries("juliet@capulet.lit")).find((e) => e.fingerprint === FP(2))?.state).toBe(
      "revoked",
    );
    await store.forget("juliet@capulet.lit", FP(1));
    expect((await store.entries("juliet@capulet.lit")).map((e) => e.fingerprint)).toEqual([FP(2)]);
    await store.forget("juliet@capulet.lit");
    expect(await store.entries("juliet@capulet.lit")).toEqual([]);
    expect((await store.all()).size).toBe(0);
  });

  it("refuses malformed fingerprints", async () => {
    const store = await make();
    await expect(store.pin("juliet@capulet.lit", "not-hex", { method: "manual" })).rejects.toThrow(
      "not hexadecimal",
    );
  });
});

describe("FileTrustStore on disk", () => {
  async function fresh() {
    const dir = await mkdtemp(join(tmpdir(), "xtls-trust-"));
    return { dir, path: join(dir, "trust.json") };
  }

  it("survives a restart: a new instance reads what the old one wrote, in the versioned format", async () => {
    const { dir, path } = await fresh();
    await new FileTrustStore(path).pin("romeo@montague.lit", FP(7), { method: "srp" });
    const reopened = new FileTrustStore(path);
    expect((await reopened.entries("romeo@montague.lit"))[0]?.fingerprint).toBe(FP(7));
    const doc = JSON.parse(await readFile(path, "utf8"));
    expect(doc).toMatchObject({ format: "xtls-trust-store", version: 2 });
    expect(await readdir(dir)).toEqual(["trust.json"]); // no temporary or lock files left
  });

  it("keeps the attempt counts and how each peer was first verified (version 2); forgetting the pins keeps the first method", async () => {
    const { path } = await fresh();
    const store = new FileTrustStore(path);
    await store.saveAttempts("mallory@evil.example/x", { failures: 3, lastFailureAt: Date.UTC(2026, 0, 2) });
    await store.pin("juliet@capulet.lit", FP(1), { method: "srp" });
    await store.pin("juliet@capulet.lit", FP(2), { method: "sas" }); // not the first any more
    await store.forget("juliet@capulet.lit");
    const reopened = new FileTrustStore(path);
    expect(await reopened.loadAttempts("mallory@evil.example")).toEqual({
      failures: 3,
      lastFailureAt: Date.UTC(2026, 0, 2),
    });
    expect(await reopened.firstVerification("juliet@capulet.lit")).toMatchObject({ method: "srp" });
    expect(await reopened.entries("juliet@capulet.lit")).toEqual([]);
    await reopened.saveAttempts("mallory@evil.example", undefined);
    expect(await new FileTrustStore(path).loadAttempts("mallory@evil.example")).toBeUndefined();
  });

  it("reads a version-1 file (pins only) and rewrites it as version 2 on the next change", async () => {
    const { path } = await fresh();
    const entry = {
      fingerprint: FP(4),
      state: "verified",
      method: "srp",
      addedAt: "2025-01-01T00:00:00.000Z",
      updatedAt: "2025-01-01T00:00:00.000Z",
    };
    await writeFile(
      path,
      JSON.stringify({ format: "xtls-trust-store", version: 1, peers: { "romeo@montague.lit": [entry] } }),
    );
    const store = new FileTrustStore(path);
    expect(await store.entries("romeo@montague.lit")).toEqual([entry]);
    expect(await store.loadAttempts("romeo@montague.lit")).toBeUndefined();
    await store.saveAttempts("romeo@montague.lit", { failures: 1, lastFailureAt: 0 });
    const doc = JSON.parse(await readFile(path, "utf8"));
    expect(doc).toMatchObject({ version: 2, peers: { "romeo@montague.lit": [entry] } });
  });

  it("loses nothing when two stores write at once (the file lock serialises them)", async () => {
    const { path } = await fresh();
    const a = new FileTrustStore(path);
    const b = new FileTrustStore(path);
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b).pin(`peer${i % 3}@example.org`, FP(i + 1), { method: "manual" }),
      ),
    );
    const all = await new FileTrustStore(path).all();
    expect([...all.values()].flat()).toHaveLength(60);
  });

  it("breaks a stale lock left by a dead process", async () => {
    const { path } = await fresh();
    await writeFile(`${path}.lock`, "999999999");
    await new FileTrustStore(path, { lockTimeoutMs: 2000 }).pin("romeo@montague.lit", FP(1), {
      method: "manual",
    });
    expect(await new FileTrustStore(path).entries("romeo@montague.lit")).toHaveLength(1);
  });

  it("treats a corrupt file as an error and never resets it", async () => {
    const { path } = await fresh();
    for (const garbage of [
      '{"format":"xtls-trust-store","version":1,"peers":{"a@b":[{"fingerprint":"zz"}]}}',
      "{oops",
      '{"format":"xtls-trust-store","version":9,"peers":{}}',
    ]) {
      await writeFile(path, garbage);
      const store = new FileTrustStore(path);
      await expect(store.entries("a@b")).rejects.toBeInstanceOf(TrustStoreError);
      await expect(store.pin("a@b", FP(1), { method: "manual" })).rejects.toThrow("corrupt");
      expect(await readFile(path, "utf8")).toBe(garbage);
    }
  });

  it("writes the file owner-only (0600), pretty JSON with timestamps, via rename", async () => {
    const { dir, path } = await fresh();
    const entry = await new FileTrustStore(path).pin("juliet@capulet.lit", FP(3), { method: "sas" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(Date.parse(entry.addedAt)).not.toBeNaN();
    const doc = JSON.parse(await readFile(path, "utf8"));
    expect(doc.peers["juliet@capulet.lit"][0]).toMatchObject({ state: "verified", method: "sas" });
    expect(await readdir(dir)).toEqual(["trust.json"]);
  });

  it("an empty file (a crash, a bad copy) is corrupt, not an empty store", async () => {
    const { path } = await fresh();
    await writeFile(path, "");
    await expect(new FileTrustStore(path).entries("a@b")).rejects.toMatchObject({
      code: "trust-store-corrupt",
    });
  });

  it("a file from a newer version names the version it cannot read", async () => {
    const { path } = await fresh();
    await writeFile(path, '{"format":"xtls-trust-store","version":3,"peers":{}}');
    await expect(new FileTrustStore(path).all()).rejects.toThrow(/schema version 3 is not supported/);
  });
});
