// The server-liveness check the fault tests restart Prosody by: a server killed with
// SIGKILL but not yet reaped (a zombie) holds no ports and must count as gone, or the
// restart is skipped and the next connect fails with ECONNREFUSED.
import { spawn } from "node:child_process";
import { alive } from "@xtls/test-servers";
import { describe, expect, it } from "vitest";

describe("alive", () => {
  it("takes a running process for alive and an unreaped dead one (a zombie) for gone", async () => {
    // `sleep 0` exits at once; its parent has exec'd into `sleep 5` and never reaps it.
    const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 5"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const zombie = Number(
      await new Promise<string>((resolve) => parent.stdout.once("data", (d) => resolve(String(d)))),
    );
    await new Promise((r) => setTimeout(r, 300));
    try {
      expect(alive(parent.pid!)).toBe(true);
      expect(alive(zombie)).toBe(false);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
