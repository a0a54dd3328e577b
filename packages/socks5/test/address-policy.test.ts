// Which addresses the service connects to: the classes of address-policy.ts, and
// Socks5Bytestreams.connect refusing a forbidden one before any packet is sent.
import { createServer } from "node:net";
import { LocalRouter } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import { allowedAddress, classifyAddress, S5bAddressRefusedError, Socks5Bytestreams } from "../src/index.js";

let router: LocalRouter | undefined;
afterEach(() => router?.close());

describe("classifyAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["fd12:3456::1", "private"],
    ["8.8.8.8", "global"],
    ["172.32.0.1", "global"],
    ["2001:db8::1", "global"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["::", "unspecified"],
    ["169.254.169.254", "link-local"],
    ["fe80::1", "link-local"],
    ["::ffff:169.254.169.254", "link-local"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["240.0.0.1", "reserved"],
    ["not-an-ip", "reserved"],
  ])("%s is %s", (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls);
  });
});

describe("the candidate policy", () => {
  it("by default refuses link-local, multicast, unspecified and broadcast addresses, and allows loopback, private and global", async () => {
    for (const host of ["0.0.0.0", "169.254.169.254", "fe80::1", "224.0.0.1", "255.255.255.255", "::"]) {
      await expect(allowedAddress(host, 1080)).rejects.toBeInstanceOf(S5bAddressRefusedError);
    }
    for (const host of ["127.0.0.1", "10.0.0.1", "8.8.8.8", "::1"]) {
      expect(await allowedAddress(host, 1080)).toBe(host);
    }
    await expect(allowedAddress("127.0.0.1", 1080, { allow: ["global"] })).rejects.toThrow(
      /127\.0\.0\.1 is a loopback address, which the candidate policy does not allow \(allowed: global\)/,
    );
    // A host name is resolved and every address it has is checked.
    await expect(allowedAddress("localhost", 1080, { allow: ["global"] })).rejects.toBeInstanceOf(
      S5bAddressRefusedError,
    );
  });

  it("Socks5Bytestreams.connect never opens a connection to a forbidden address (0.0.0.0 reaches loopback on Linux)", async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    router = new LocalRouter();
    const service = new Socks5Bytestreams(router.createLink("juliet@capulet.lit/balcony"), {
      streamhost: false,
    });
    try {
      const error = await service.connect({ host: "0.0.0.0", port }, "a".repeat(40)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(S5bAddressRefusedError);
      expect((error as S5bAddressRefusedError).addressClass).toBe("unspecified");
      // The same listener through an allowed address is reached (the check is not vacuous).
      const narrow = new Socks5Bytestreams(router.createLink("juliet@capulet.lit/tower"), {
        streamhost: false,
        candidatePolicy: { allow: ["loopback"] },
      });
      await narrow.connect({ host: "127.0.0.1", port }, "a".repeat(40)).catch(() => {});
      expect(connections).toBe(1);
      await narrow.close();
    } finally {
      await service.close();
      server.close();
    }
  });
});
