// Two people in headless Chromium (Debian's, driven by playwright-core), each on their
// own page of the local agent: first contact by a one-time password or by comparing a
// code, a chat, a file with progress and its SHA-256, and a wrong password. Everything
// is asserted on what the pages show; nothing waits for a fixed time.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prosody } from "@xtls/test-servers";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureChromiumInstalled } from "../scripts/chromium.js";
import { startWebDemo, type WebDemo, type WebDemoOptions } from "../src/index.js";

const RESULTS = join(import.meta.dirname, "..", "test-results");
const PASSWORD = "wherefore-1597";

let browser: Browser;
let scratch: string;
let demo: WebDemo | undefined;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  const executablePath = ensureChromiumInstalled();
  browser = await chromium.launch({
    executablePath,
    headless: true,
    // Without the background-networking flags Chromium keeps trying Google's hosts.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
  scratch = await mkdtemp(join(tmpdir(), "xtls-web-test-"));
  await mkdir(RESULTS, { recursive: true });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  await demo?.close();
  demo = undefined;
  expect(pageErrors.splice(0)).toEqual([]);
});

/** The agent, and one browser (context) per person, each on their own page. */
async function open(options: WebDemoOptions = {}): Promise<{ romeo: Page; juliet: Page; demo: WebDemo }> {
  demo = await startWebDemo(options);
  const page = async (url: string) => {
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1100, height: 900 },
    });
    contexts.push(context);
    const p = await context.newPage();
    p.on("pageerror", (error) => pageErrors.push(error.message));
    await p.goto(url);
    await p.locator("#me-line").filter({ hasText: "You are " }).waitFor();
    return p;
  };
  return { romeo: await page(demo.urls.romeo), juliet: await page(demo.urls.juliet), demo };
}

const text = (page: Page, selector: string) => page.locator(selector).textContent();
const see = (page: Page, selector: string, hasText: string | RegExp) =>
  page.locator(selector).filter({ hasText }).first().waitFor();
const colons = (hex: string) => (hex.toUpperCase().match(/.{2}/g) ?? []).join(":");

async function say(from: Page, to: Page, line: string): Promise<void> {
  await from.getByLabel("Message").fill(line);
  await from.getByLabel("Message").press("Enter");
  await see(from, "#messages li.out", line);
  await see(to, "#messages li.in", line);
}

async function screenshots(pages: Record<string, Page>, suffix: string): Promise<void> {
  for (const [name, page] of Object.entries(pages)) {
    await page.screenshot({ path: join(RESULTS, `${name}-${suffix}.png`), fullPage: true });
  }
}

describe("the web demo in headless Chromium", () => {
  it("first contact with a one-time password typed in both pages; a chat; a file with progress and SHA-256", async () => {
    const { romeo, juliet, demo } = await open();
    await see(romeo, "#me-line", demo.people.romeo.jid);
    await see(romeo, "#peer", "Not verified.");

    await romeo.getByRole("button", { name: "Start chat with a one-time password" }).click();
    const request = juliet.getByTestId("chat-request");
    await request.filter({ hasText: demo.people.romeo.jid }).waitFor();
    await request.getByRole("button", { name: "Accept" }).click();

    // Each page asks its person; each is shown the other's not-yet-verified certificate.
    for (const [page, peer] of [
      [romeo, demo.people.juliet],
      [juliet, demo.people.romeo],
    ] as const) {
      const prompt = page.getByTestId("password-prompt");
      await prompt.filter({ hasText: colons(peer.fingerprint) }).waitFor();
      await prompt.getByLabel("One-time password").fill(PASSWORD);
      await prompt.getByRole("button", { name: "Use this password" }).click();
    }

    await see(romeo, "#peer", `Verified: ${demo.people.juliet.jid}`);
    await see(juliet, "#peer", `Verified: ${demo.people.romeo.jid}`);
    expect(await text(romeo, "#peer")).toContain("one-time password you both typed (srp)");
    expect(await text(romeo, "#peer")).toContain(colons(demo.people.juliet.fingerprint));
    expect(await text(juliet, "#peer")).toContain(colons(demo.people.romeo.fingerprint));
    await see(romeo, "#status", "TLSv1.3");
    expect(await text(romeo, "#status")).toMatch(/over a (SOCKS5|in-band) bytestream/);
    expect(await romeo.getByTestId("password-prompt").count()).toBe(0);

    await say(romeo, juliet, "Did my heart love till now? Forswear it, sight!");
    await say(juliet, romeo, "For I ne'er saw true beauty till this night.");

    // A file of a few hundred KiB, picked in Romeo's page.
    const bytes = randomBytes(300 * 1024 + 17);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const picked = join(scratch, "balcony-scene.bin");
    await writeFile(picked, bytes);
    await romeo.locator("#file").setInputFiles(picked);
    await romeo.getByRole("button", { name: "Send file" }).click();

    const offer = juliet.locator("#transfers li").filter({ hasText: "balcony-scene.bin" });
    await offer.filter({ hasText: "Romeo offers a file" }).waitFor();
    expect(await offer.textContent()).toContain("300.0 KiB");
    await offer.getByRole("button", { name: "Accept file" }).click();

    await offer.getByTestId("progress").filter({ hasText: "(100%)" }).waitFor();
    await offer.getByTestId("sha256").filter({ hasText: sha256 }).waitFor();
    expect(await offer.textContent()).toContain("Received and verified by your agent");
    expect(
      await offer
        .locator("progress")
        .evaluate(
          (p) =>
            (p as unknown as { value: number; max: number }).value === (p as unknown as { max: number }).max,
        ),
    ).toBe(true);

    const sent = romeo.locator("#transfers li").filter({ hasText: "balcony-scene.bin" });
    await sent.getByTestId("sha256-match").waitFor();
    expect(await sent.getByTestId("sha256").textContent()).toContain(sha256);
    expect(await sent.getByTestId("progress").textContent()).toContain("(100%)");

    // Juliet downloads it from her agent: the same octets.
    const [download] = await Promise.all([
      juliet.waitForEvent("download"),
      offer.getByRole("link", { name: "Download balcony-scene.bin" }).click(),
    ]);
    expect((await readFile(await download.path())).equals(bytes)).toBe(true);

    await screenshots({ romeo, juliet }, "password");
  });

  it("first contact by comparing the code: both pages show the same digits and emoji, both click they match", async () => {
    const { romeo, juliet, demo } = await open();
    await romeo.getByRole("button", { name: "Start chat and compare a code" }).click();
    await juliet.getByTestId("chat-request").getByRole("button", { name: "Accept" }).click();

    await romeo.getByTestId("sas-prompt").waitFor();
    await juliet.getByTestId("sas-prompt").waitFor();
    const romeoDigits = await text(romeo, "[data-testid=sas-digits]");
    expect(romeoDigits).toMatch(/^\d{3} \d{3}$/);
    expect(await text(juliet, "[data-testid=sas-digits]")).toBe(romeoDigits);
    const romeoEmoji = await text(romeo, "[data-testid=sas-emoji]");
    expect(await romeo.locator("[data-testid=sas-emoji] li").count()).toBe(7);
    expect(await text(juliet, "[data-testid=sas-emoji]")).toBe(romeoEmoji);
    await screenshots({ romeo, juliet }, "sas-prompt");

    await romeo.getByRole("button", { name: "They match" }).click();
    // Romeo confirmed, Juliet not yet: nobody is verified.
    await see(romeo, "#status", "waiting for Juliet");
    expect(await romeo.locator("#peer").getAttribute("data-verified")).toBe("false");
    expect(await juliet.locator("#peer").getAttribute("data-verified")).toBe("false");
    await juliet.getByRole("button", { name: "They match" }).click();

    await see(romeo, "#peer", `Verified: ${demo.people.juliet.jid}`);
    await see(juliet, "#peer", `Verified: ${demo.people.romeo.jid}`);
    expect(await text(juliet, "#peer")).toContain("code you both compared (sas)");
    await say(romeo, juliet, "O, speak again, bright angel!");
    await say(juliet, romeo, "Wherefore art thou Romeo?");

    // A second chat needs no code: each pinned the other.
    await romeo.getByRole("button", { name: "End chat" }).click();
    await see(juliet, "#status", "The chat ended.");
    await see(romeo, "#status", "The chat ended.");
    await romeo.getByRole("button", { name: "Start chat and compare a code" }).click();
    await juliet.getByTestId("chat-request").getByRole("button", { name: "Accept" }).click();
    await see(juliet, "#peer", "pinned: verified in an earlier session (sas)");
    await see(romeo, "#peer", "pinned: verified in an earlier session (sas)");
    expect(await romeo.getByTestId("sas-prompt").count()).toBe(0);
    await say(romeo, juliet, "Thou knowest the mask of night is on my face.");

    await screenshots({ romeo, juliet }, "sas");
  });

  it("a wrong password fails clearly in both pages; nothing is verified and no message is delivered", async () => {
    const { romeo, juliet, demo } = await open();
    await romeo.getByRole("button", { name: "Start chat with a one-time password" }).click();
    await juliet.getByTestId("chat-request").getByRole("button", { name: "Accept" }).click();
    for (const [page, password] of [
      [romeo, PASSWORD],
      [juliet, "wherefore-1596"],
    ] as const) {
      const prompt = page.getByTestId("password-prompt");
      await prompt.getByLabel("One-time password").fill(password);
      await prompt.getByRole("button", { name: "Use this password" }).click();
    }

    for (const page of [romeo, juliet]) {
      await see(page, "#status", "No chat: Not verified");
      expect(await text(page, "#status")).toContain("the passwords differ, or someone is in the middle");
      expect(await page.locator("#peer").getAttribute("data-verified")).toBe("false");
      expect(await page.getByLabel("Message").isDisabled()).toBe(true);
      expect(await page.getByRole("button", { name: "Send", exact: true }).isDisabled()).toBe(true);
      expect(await page.locator("#messages li.in, #messages li.out").count()).toBe(0);
      // They may try again.
      expect(
        await page.getByRole("button", { name: "Start chat with a one-time password" }).isEnabled(),
      ).toBe(true);
    }
    // Nothing was pinned on either side.
    expect(await demo.people.romeo.xtls.trustStore.entries(demo.people.juliet.jid)).toEqual([]);
    expect(await demo.people.juliet.xtls.trustStore.entries(demo.people.romeo.jid)).toEqual([]);

    await screenshots({ romeo, juliet }, "wrong-password");
  });

  it("over a real XMPP server (the project's Prosody): first contact with a password and a chat", async () => {
    const resource = randomBytes(3).toString("hex");
    const { romeo, juliet, demo } = await open({
      server: {
        service: prosody.service,
        romeo: { jid: `romeo@montague.lit/web-${resource}`, password: prosody.password },
        juliet: { jid: `juliet@capulet.lit/web-${resource}`, password: prosody.password },
      },
    });
    await see(romeo, "#me-line", `on ${prosody.service}`);
    await romeo.getByRole("button", { name: "Start chat with a one-time password" }).click();
    await juliet.getByTestId("chat-request").getByRole("button", { name: "Accept" }).click();
    for (const page of [romeo, juliet]) {
      const prompt = page.getByTestId("password-prompt");
      await prompt.getByLabel("One-time password").fill(PASSWORD);
      await prompt.getByRole("button", { name: "Use this password" }).click();
    }
    await see(romeo, "#peer", `Verified: ${demo.people.juliet.jid}`);
    await see(juliet, "#peer", `Verified: ${demo.people.romeo.jid}`);
    await say(romeo, juliet, "With love's light wings did I o'erperch these walls.");
    await say(juliet, romeo, "If they do see thee, they will murder thee.");
  });
});
