import { CLIENT_STREAM_HEADER, type Element, NS, StanzaStreamParser, xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import { buildJingle, jingleError, namespaceOf, parseJingle } from "../src/index.js";

function parse(text: string): Element {
  const p = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER });
  let out: Element | undefined;
  p.on("stanza", (s) => {
    out = s;
  });
  p.write(text);
  return out!;
}

// The draft's session-initiate (§3), corrected and with our own identifiers.
const INITIATE = `<iq type='set' id='j-1' from='alice@a.example/desk' to='bob@b.example/pda'>
  <jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='alice@a.example/desk' sid='jx8k2m4q'>
    <content creator='initiator' name='chat' senders='both'>
      <description xmlns='urn:xmpp:jingle:apps:xmlstream:0'/>
      <transport xmlns='urn:xmpp:jingle:transports:ibb:1' sid='ibb7f3a9c' block-size='4096'/>
      <security xmlns='urn:xmpp:jingle:security:xtls:0'>
        <fingerprint algo='sha-256'>9f2c4e0b7a1d3c5e8f6a2b4d0c1e3f5a7b9d2c4e6f8a0b1c3d5e7f9a2b4c6d8e</fingerprint>
        <method name='x509'/>
        <method name='srp'/>
      </security>
    </content>
  </jingle>
</iq>`;

describe("the <jingle/> model (XEP-0166 §7)", () => {
  it("reads a session-initiate with description, transport and security", () => {
    const j = parseJingle(parse(INITIATE).getChild("jingle", NS.JINGLE)!);
    expect(j).toMatchObject({
      action: "session-initiate",
      sid: "jx8k2m4q",
      initiator: "alice@a.example/desk",
    });
    const c = j.contents[0]!;
    expect([c.creator, c.name, c.senders]).toEqual(["initiator", "chat", "both"]);
    expect(namespaceOf(c.description)).toBe(NS.JINGLE_XMLSTREAM);
    expect(c.transport?.attrs).toMatchObject({ sid: "ibb7f3a9c", "block-size": "4096" });
    expect(c.security?.getChildren("method").map((m) => m.attrs.name)).toEqual(["x509", "srp"]);
  });

  it("round-trips: build(parse(x)) parses back to the same model", () => {
    const j = parseJingle(parse(INITIATE).getChild("jingle", NS.JINGLE)!);
    const again = parseJingle(parse(xml("iq", {}, buildJingle(j)).toString()).getChild("jingle", NS.JINGLE)!);
    expect(again.contents[0]?.security?.toString()).toBe(j.contents[0]?.security?.toString());
    expect({ ...again, contents: [] }).toEqual({ ...j, contents: [] });
  });

  it("reads reasons with text and an application-specific child, and builds them", () => {
    const el = parse(`<iq><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'>
      <reason><media-error/><text>too big</text><file-too-large xmlns='urn:xmpp:jingle:apps:file-transfer:errors:0'/></reason></jingle></iq>`);
    const j = parseJingle(el.getChild("jingle", NS.JINGLE)!);
    expect(j.reason?.condition).toBe("media-error");
    expect(j.reason?.text).toBe("too big");
    expect(j.reason?.extra?.getNS()).toBe(NS.JFT_ERRORS);
    const built = buildJingle({
      action: "session-terminate",
      sid: "s",
      contents: [],
      reason: { condition: "security-error", text: "pin mismatch" },
    });
    expect(built.toString()).toBe(
      `<jingle xmlns="${NS.JINGLE}" action="session-terminate" sid="s"><reason><security-error/><text>pin mismatch</text></reason></jingle>`,
    );
  });

  it("emits initiator= only on session-initiate and responder= only on session-accept", () => {
    const base = { sid: "s", contents: [], initiator: "a@b/c", responder: "d@e/f" };
    expect(buildJingle({ ...base, action: "session-initiate" }).attrs).toMatchObject({ initiator: "a@b/c" });
    expect(buildJingle({ ...base, action: "session-initiate" }).attrs.responder).toBeUndefined();
    expect(buildJingle({ ...base, action: "session-accept" }).attrs).toMatchObject({ responder: "d@e/f" });
    expect(buildJingle({ ...base, action: "session-accept" }).attrs.initiator).toBeUndefined();
    expect(buildJingle({ ...base, action: "security-info" }).attrs.initiator).toBeUndefined();
  });

  it("maps the draft's namespaces to ours when looking up plug-ins (never when emitting)", () => {
    expect(namespaceOf(xml("transport", { xmlns: "urn:xmpp:jingle:transports:ibb:0" }))).toBe(NS.JINGLE_IBB);
    expect(namespaceOf(xml("security", { xmlns: "urn:xmpp:jingle:security:xtls:1" }))).toBe(NS.XTLS_JINGLE);
    expect(namespaceOf(xml("description", { xmlns: "urn:xmpp:jingle:apps:xmlstream:1" }))).toBe(
      NS.JINGLE_XMLSTREAM,
    );
  });

  it("builds Jingle errors with the stanza condition XEP-0166 §10 pairs them with", () => {
    expect(jingleError("unknown-session").toElement().toString()).toBe(
      `<error type="cancel"><item-not-found xmlns="${NS.STANZAS}"/><unknown-session xmlns="${NS.JINGLE_ERRORS}"/></error>`,
    );
    expect(jingleError("out-of-order").condition).toBe("unexpected-request");
    expect(jingleError("tie-break").condition).toBe("conflict");
    expect(jingleError("unsupported-info").condition).toBe("feature-not-implemented");
    expect(jingleError("security-required").condition).toBe("not-acceptable");
  });
});
