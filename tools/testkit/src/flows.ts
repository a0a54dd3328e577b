// The flows the server suites run alike against both servers (the packages' Prosody
// tests, and tools/ejabberd-suite against ejabberd): the same steps and checks whichever
// server carries the stanzas.
import { createHash } from "node:crypto";
import { type XmppLink, xml } from "@xtls/core";
import type { IbbStream, InBandBytestreams } from "@xtls/ibb";
import type { XtlsChannel } from "@xtls/jingle-xtls";
import { expect } from "vitest";
import { identityOf } from "./identities.js";
import { inbox, JULIET_LINE, openXmlStreamSession, type Party, partyOn, ROMEO_LINE } from "./parties.js";
import { exchange } from "./streams.js";
import { until } from "./support.js";

/**
 * The whole flow between two parties that pinned each other: an XML stream session over
 * IBB with XTLS, each side verified by its real certificate; a message each way and a
 * ping; then 4 MiB of stanzas Romeo → Juliet, arriving intact and in order (waiting up
 * to `bulkTimeoutMs` for them); then Romeo closes and both sessions end.
 */
export async function xmlStreamFlow(romeo: Party, juliet: Party, options: { bulkTimeoutMs: number }) {
  const opened = await openXmlStreamSession(romeo, juliet);
  expect((opened.session.secured as XtlsChannel).peer.fingerprint).toBe(
    identityOf(juliet.link.jid).fingerprint,
  );
  expect((opened.responder.secured as XtlsChannel).peer.fingerprint).toBe(
    identityOf(romeo.link.jid).fingerprint,
  );
  const atJuliet = inbox(opened.juliet);
  const atRomeo = inbox(opened.romeo);
  await opened.romeo.send(xml("message", { type: "chat" }, xml("body", {}, ROMEO_LINE)));
  await opened.juliet.send(xml("message", { type: "chat" }, xml("body", {}, JULIET_LINE)));
  await until(() => atJuliet.length === 1 && atRomeo.length === 1, 10_000);
  expect(atJuliet[0]?.attrs.from).toBe(romeo.link.jid);
  expect(atRomeo[0]?.getChildText("body")).toBe(JULIET_LINE);
  opened.juliet.handle("get", "urn:xmpp:ping", "ping", () => undefined);
  const pong = await opened.romeo.request(
    xml("iq", { type: "get" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
  );
  expect(pong.attrs.type).toBe("result");

  const sent = createHash("sha256");
  const chunk = 32 * 1024;
  let total = 0;
  let n = 0;
  while (total < 4 * 1024 * 1024) {
    const body = createHash("sha512")
      .update(String(n))
      .digest("hex")
      .repeat(chunk / 128);
    sent.update(body);
    total += body.length;
    await opened.romeo.send(xml("message", { id: `bulk${n++}` }, xml("body", {}, body)));
  }
  await until(() => atJuliet.length === n + 1, options.bulkTimeoutMs);
  const got = createHash("sha256");
  for (const m of atJuliet.slice(1)) got.update(m.getChildText("body") ?? "");
  expect(got.digest("hex")).toBe(sent.digest("hex"));
  expect(atJuliet.slice(1).map((m) => m.attrs.id)).toEqual(Array.from({ length: n }, (_, i) => `bulk${i}`));

  await opened.romeo.close();
  await Promise.all([opened.session.done, opened.responder.done]);
}

/**
 * First contact with srp between two accounts that know nothing of each other (Benvolio
 * and the Nurse in the suites), sharing a password: the first session asks each side for
 * it once and pins the peer's certificate (method "srp"); the second needs no password.
 */
export async function srpFirstContactFlow(a: XmppLink, b: XmppLink) {
  const line = "Here comes the furious Tybalt back again";
  let asked = 0;
  const askPassword = async () => {
    asked++;
    return "a-plague-on-both-your-houses";
  };
  const first = await partyOn(a, { security: { askPassword } });
  const second = await partyOn(b, { security: { askPassword } });
  for (let round = 0; round < 2; round++) {
    const opened = await openXmlStreamSession(first, second);
    const got = inbox(opened.juliet);
    await opened.romeo.send(xml("message", {}, xml("body", {}, line)));
    await until(() => got.length === 1, 10_000);
    expect(got[0]?.getChildText("body")).toBe(line);
    await opened.romeo.close();
    await Promise.all([opened.session.done, opened.responder.done]);
  }
  expect(asked).toBe(2); // once per side, in the first session only
  const [bareA, bareB] = [a.jid.split("/")[0]!, b.jid.split("/")[0]!];
  expect(await first.trust.entries(bareB)).toEqual([
    expect.objectContaining({ fingerprint: identityOf(bareB).fingerprint, method: "srp" }),
  ]);
  expect(await second.trust.entries(bareA)).toEqual([
    expect.objectContaining({ fingerprint: identityOf(bareA).fingerprint, method: "srp" }),
  ]);
}

/**
 * IBB between two real connections: Romeo opens a bytestream to Juliet (whose service
 * accepts him), 4 MiB go each way at once, SHA-256 verified, in 1024 `<data/>` stanzas
 * of 4 KiB each way; both ends are closed after.
 */
export async function ibbFlow(
  romeo: { readonly ibb: InBandBytestreams; readonly link: XmppLink },
  juliet: { readonly ibb: InBandBytestreams; readonly link: XmppLink },
) {
  const incoming = new Promise<IbbStream>((resolve) => juliet.ibb.once("stream", resolve));
  const ours = await romeo.ibb.open(juliet.link.jid);
  const theirs = await incoming;
  expect(theirs.peer).toBe(romeo.link.jid);
  await exchange(ours, theirs, 4 * 1024 * 1024);
  expect([ours.stanzasOut, theirs.stanzasIn]).toEqual([1024, 1024]);
  expect([ours.state, theirs.state]).toEqual(["closed", "closed"]);
}
