/** One-line summaries of stanzas for the transcript's network column. */
import { type Element, NS, parseJid, StanzaError } from "@xtls/core";
import { formatFingerprint } from "@xtls/tls";

const RECORD_TYPES: Record<number, string> = {
  20: "ChangeCipherSpec",
  21: "alert",
  22: "handshake",
  23: "encrypted record",
};

/** What the TLS records at the start of a chunk are (when it starts on a record boundary). */
export function describeTlsBytes(bytes: Buffer): string {
  const kinds: string[] = [];
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const type = bytes[offset]!;
    const version = bytes.readUInt16BE(offset + 1);
    const length = bytes.readUInt16BE(offset + 3);
    if (!RECORD_TYPES[type] || (version & 0xff00) !== 0x0300) break;
    kinds.push(RECORD_TYPES[type]!);
    offset += 5 + length;
  }
  if (kinds.length === 0) return "TLS bytes";
  const counted = [...new Set(kinds)].map((k) => {
    const n = kinds.filter((x) => x === k).length;
    return n > 1 ? `${n}× ${k}` : k;
  });
  return `TLS ${counted.join(" + ")}`;
}

/**
 * The start of a fingerprint in the one format the CLI prints (colon-separated hex, as
 * in `xtls trust list`), for the story's lines; the full ones are in the headings.
 */
export function shortFingerprint(hex: string): string {
  return `${formatFingerprint(hex).slice(0, 23)}…`;
}

export function who(jid: string | undefined): string {
  if (!jid) return "server";
  try {
    const j = parseJid(jid);
    return j.local || j.domain;
  } catch {
    return jid;
  }
}

export function describeStanza(stanza: Element): string {
  if (stanza.name !== "iq") {
    const body = stanza.getChildText("body");
    return `<${stanza.name}${stanza.attrs.type ? ` type='${stanza.attrs.type}'` : ""}>${body ? ` "${body.slice(0, 40)}"` : ""}`;
  }
  const type = stanza.attrs.type ?? "?";
  if (type === "error") {
    const err = StanzaError.fromStanza(stanza);
    return `iq error <${err.condition}/>`;
  }
  const payload = stanza.getChildElements()[0];
  if (!payload) return "iq result (ack)";
  const ns = payload.getNS();
  if (ns === NS.XTLS_IQ) {
    if (payload.name === "data") {
      const bytes = Buffer.from(payload.getText().trim(), "base64");
      const method = payload.attrs.method ? ` method='${payload.attrs.method}'` : "";
      return `iq set <data${method}> ${bytes.length} B ${describeTlsBytes(bytes)}: ${payload.getText().trim().slice(0, 24)}…`;
    }
    const offer = payload.getChild("offer", NS.C2CTLS);
    if (offer) {
      const names = offer.getChildren("keyinfo", NS.PUBKEY_TMP).map((k) => {
        const name = k.getChildText("name") ?? "";
        return /^[0-9a-f]{64}$/i.test(name) ? shortFingerprint(name) : `${name.slice(0, 8)}…`;
      });
      return `iq ${type} <${payload.name}/> offer: key ${names.join(", ") || "(none)"}${offer.getChild("srp") ? ", srp" : ""}`;
    }
    return `iq ${type} <${payload.name}/>`;
  }
  if (ns === NS.JINGLE) return describeJingle(payload);
  if (ns === NS.IBB) {
    const sid = payload.attrs.sid;
    if (payload.name === "open")
      return `iq set IBB <open sid='${sid}' block-size='${payload.attrs["block-size"]}'/>`;
    if (payload.name === "close") return `iq set IBB <close sid='${sid}'/>`;
    if (payload.name === "data") {
      const bytes = Buffer.from(payload.getText().trim(), "base64");
      return `iq set IBB <data seq='${payload.attrs.seq}'> ${bytes.length} B ${describeTlsBytes(bytes)}: ${payload.getText().trim().slice(0, 16)}…`;
    }
  }
  if (ns === NS.DISCO_INFO) {
    const features = payload.getChildren("feature").length;
    return type === "result" ? `iq result disco#info: ${features} features` : "iq get disco#info";
  }
  return `iq ${type} <${payload.name} xmlns='${ns}'/>`;
}

function describeJingle(jingle: Element): string {
  const action = jingle.attrs.action ?? "?";
  const parts: string[] = [];
  for (const content of jingle.getChildren("content")) {
    for (const child of content.getChildElements()) {
      const ns = child.getNS() ?? "";
      const short = ns.replace(/^urn:xmpp:jingle:(apps:|transports:|security:)?/, "").replace(/:\d+$/, "");
      if (child.getName() === "security") {
        const fp = child.getChildText("fingerprint");
        const methods = child.getChildren("method").map((m) => m.attrs.name);
        parts.push(
          `${short}${fp ? ` fp ${shortFingerprint(fp)}` : ""}${methods.length ? ` [${methods.join(",")}]` : ""}`,
        );
      } else {
        parts.push(short);
      }
    }
  }
  const reason = jingle.getChild("reason")?.getChildElements()[0]?.name;
  return `jingle ${action}${parts.length ? `: ${parts.join(", ")}` : ""}${reason ? ` <${reason}/>` : ""}`;
}
