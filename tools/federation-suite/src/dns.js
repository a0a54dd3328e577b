// The federation suite's own DNS server: a few lines of RFC 1035 over UDP on a loopback port,
// answering only for the suite's test domains, so that Prosody (libunbound, `unbound.forward`)
// and ejabberd (the Erlang VM's inetrc `{nameserver, …}`) find each other over s2s without
// /etc/hosts, without root and without any query leaving the machine.
//
//   _xmpp-server._tcp.<domain>  SRV  0 0 <s2s port> <the server's IPv4 address, as a name>
//   <domain>, <proxy domain>    A    <the server's address>
//   <an IPv4 literal>           A    itself (ejabberd resolves an SRV target with getaddrinfo)
//   anything else               NXDOMAIN
//
// Run as a script (`node dns.js PORT JSON`) it serves until killed; servers.js starts it so.
import dgram from "node:dgram";

const TYPE_A = 1;
const TYPE_SRV = 33;

/** Reads a (never compressed, in a question) name at `offset`: [lowercased name, end offset]. */
function readName(buf, offset) {
  const labels = [];
  let i = offset;
  for (;;) {
    const len = buf[i];
    if (len === undefined || len > 63) throw new Error("bad name");
    i++;
    if (len === 0) break;
    labels.push(buf.subarray(i, i + len).toString("latin1"));
    i += len;
  }
  return [labels.join(".").toLowerCase(), i];
}

function encodeName(name) {
  const parts = name.split(".").filter(Boolean);
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "latin1")])),
    Buffer.from([0]),
  ]);
}

const u16 = (n) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const ipBytes = (ip) => Buffer.from(ip.split(".").map(Number));
const isIpv4 = (name) => /^\d{1,3}(\.\d{1,3}){3}$/.test(name);

/**
 * `zone`: { domains: { [domain]: { address, s2sPort } }, aliases: { [name]: domain } }.
 * Returns the answer records for (name, type), or null for NXDOMAIN.
 */
function lookup(zone, name, type) {
  const srv = /^_xmpp-server\._tcp\.(.+)$/.exec(name);
  if (srv) {
    const domain = zone.aliases[srv[1]] ?? srv[1];
    const entry = zone.domains[domain];
    if (!entry) return null;
    if (type !== TYPE_SRV) return [];
    const rdata = Buffer.concat([u16(0), u16(0), u16(entry.s2sPort), encodeName(entry.address)]);
    return [{ type: TYPE_SRV, rdata }];
  }
  const domain = zone.aliases[name] ?? name;
  const address = isIpv4(name) ? name : zone.domains[domain]?.address;
  if (!address) return null;
  return type === TYPE_A ? [{ type: TYPE_A, rdata: ipBytes(address) }] : [];
}

function answer(zone, query) {
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  const [name, end] = readName(query, 12);
  const type = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const records = lookup(zone, name, type);
  const rcode = records === null ? 3 : 0;
  // QR, the query's opcode and RD, AA, RA.
  const outFlags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode;
  const answers = (records ?? []).map((r) =>
    Buffer.concat([
      u16(0xc00c),
      u16(r.type),
      u16(1),
      Buffer.from([0, 0, 0, 60]),
      u16(r.rdata.length),
      r.rdata,
    ]),
  );
  return Buffer.concat([
    u16(id),
    u16(outFlags),
    u16(1),
    u16(answers.length),
    u16(0),
    u16(0),
    question,
    ...answers,
  ]);
}

/** Serves `zone` on 127.0.0.1:`port` (UDP). Resolves with the socket once it listens. */
export function serveDns(port, zone, host = "127.0.0.1") {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, from) => {
    try {
      socket.send(answer(zone, msg), from.port, from.address);
    } catch {
      // not a query we understand: no answer
    }
  });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, host, () => resolve(socket));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [port, zone] = process.argv.slice(2);
  await serveDns(Number(port), JSON.parse(zone));
  process.stdout.write(`dns ready on 127.0.0.1:${port}\n`);
}
