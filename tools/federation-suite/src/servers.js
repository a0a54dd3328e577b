// The federation suite's own servers (see ../README.md): a Prosody serving montague.lit and an
// ejabberd serving capulet.lit, federated over s2s, both requiring STARTTLS with certificates of
// a test CA made here, plus a "stranger" Prosody that also claims montague.lit with a certificate
// of another CA (what a man in the middle of a STARTTLS connection would present).
//
// Each server listens on a loopback test address of its own (127.0.0.2, 127.0.0.3, 127.0.0.4),
// away from the shared test servers on 127.0.0.1. Each finds the other domain through the
// suite's own DNS server (dns.js, UDP 127.0.0.1:26053), which answers only for the test domains
// (SRV _xmpp-server._tcp.<domain> -> the server's address and s2s port): Prosody's libunbound
// forwards to it (`unbound = { forward = … }`), ejabberd's Erlang VM asks it (ERL_INETRC with
// `{nameserver, {127,0,0,1}, 26053}`). No /etc/hosts edit, no root, no query leaves the machine.
//
// Plain JS, like tools/test-servers, so that a vitest globalSetup and `bin/servers.js` load it
// without a build step.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ejabberdInstalled, REPO_ROOT } from "@xtls/test-servers";
// Whether a pid is a live process (not a zombie): the shared servers' own check.
import { alive } from "@xtls/test-servers/sharing";

const HERE = dirname(fileURLToPath(import.meta.url));
const PKG = join(HERE, "..");
const TEST_SERVERS = join(REPO_ROOT, "tools", "test-servers");
export const FED_DIR = process.env.XTLS_FEDERATION_DIR ?? join(REPO_ROOT, ".servers", "federation");
const CERTS = join(FED_DIR, "certs");
/** The suite's DNS server (UDP, 127.0.0.1). */
export const DNS_PORT = 26053;
const PASSWORD = "secret";
const USERS = ["romeo", "juliet", "mallory", "benvolio", "nurse"];

export const montague = Object.freeze({
  vendor: "Prosody",
  domain: "montague.lit",
  address: "127.0.0.2",
  c2sPort: 26222,
  proxy65Port: 26000,
  s2sPort: 26269,
  proxy: "proxy.montague.lit",
  service: "xmpp://127.0.0.2:26222",
  password: PASSWORD,
  users: USERS,
  dir: join(FED_DIR, "prosody"),
});

export const capulet = Object.freeze({
  vendor: "ejabberd",
  domain: "capulet.lit",
  address: "127.0.0.3",
  c2sPort: 27222,
  httpPort: 27280,
  proxy65Port: 27000,
  s2sPort: 27269,
  proxy: "proxy.capulet.lit",
  service: "xmpp://127.0.0.3:27222",
  password: PASSWORD,
  users: USERS,
  dir: join(FED_DIR, "ejabberd"),
});

/** A Prosody that also says it is montague.lit, with a certificate of another CA (no s2s). */
export const stranger = Object.freeze({
  vendor: "Prosody",
  domain: "montague.lit",
  address: "127.0.0.4",
  c2sPort: 26722,
  proxy65Port: 26500,
  service: "xmpp://127.0.0.4:26722",
  password: PASSWORD,
  users: USERS,
  dir: join(FED_DIR, "stranger"),
});

/** The suite's test CA (PEM): what `--ca` / NODE_EXTRA_CA_CERTS are given. */
export const CA_FILE = join(CERTS, "ca.pem");
/** The other CA, which signed the stranger's certificate. */
export const OTHER_CA_FILE = join(CERTS, "other-ca.pem");

const log = (msg) => process.stderr.write(`[federation] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function which(cmd) {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Whether something accepts TCP connections on `host`:`port`. */
export function portOpen(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Whether this machine lets us listen on `address` (any 127.0.0.0/8 address on Linux). */
function canBind(address) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (e) => resolve(e.code === "EADDRINUSE"));
    server.listen(0, address, () => server.close(() => resolve(true)));
  });
}

/**
 * What is missing for the suite to run, or undefined when everything is there. Nothing is
 * installed here: the shared scripts install Prosody and ejabberd as root (the shared
 * suites need them too); `ensureInstalled` does it for this suite.
 */
export async function missing() {
  const lacks = [];
  if (!which("prosody")) lacks.push("Prosody (`apt-get install -y prosody`)");
  if (!ejabberdInstalled()) lacks.push("ejabberd (`apt-get install -y ejabberd`)");
  if (!which("openssl")) lacks.push("the openssl command (`apt-get install -y openssl`)");
  for (const a of [montague.address, capulet.address, stranger.address]) {
    if (!(await canBind(a)))
      lacks.push(`a loopback test address to listen on: ${a} (Linux routes all of 127.0.0.0/8 to lo)`);
  }
  if (lacks.length === 0) return undefined;
  const root = process.getuid?.() === 0;
  return `the federation suite needs ${lacks.join(", ")}${root ? "" : " — run the tests as root to have them installed, or install them yourself"}`;
}

/** Installs Prosody and ejabberd with apt-get when missing, as root (CI); otherwise does nothing. */
export function ensureInstalled() {
  if (process.getuid?.() !== 0) return;
  const need = [];
  if (!which("prosody")) need.push("prosody");
  if (!ejabberdInstalled()) need.push("ejabberd");
  if (!which("openssl")) need.push("openssl");
  if (need.length === 0) return;
  log(`installing ${need.join(" ")} (apt-get install -y)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "-qq", ...need], { stdio: "inherit", env });
  } catch {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", ...need], { stdio: "inherit", env });
  }
}

// --- certificates -------------------------------------------------------------------------

function openssl(args) {
  execFileSync("openssl", args, { cwd: CERTS, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(name, subject) {
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "30",
    "-subj",
    `/CN=${subject}`,
  ]);
}

/** A server certificate for `domain` and its subdomains (the proxy65 component), signed by `ca`. */
function makeServerCert(ca, domain, file) {
  writeFileSync(
    join(CERTS, `${file}.ext`),
    `subjectAltName=DNS:${domain},DNS:*.${domain}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n`,
  );
  openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${file}.key`,
    "-out",
    `${file}.csr`,
    "-subj",
    `/CN=${domain}`,
  ]);
  openssl([
    "x509",
    "-req",
    "-in",
    `${file}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${file}.crt`,
    "-days",
    "30",
    "-extfile",
    `${file}.ext`,
  ]);
  // ejabberd wants the certificate and its key in one file.
  writeFileSync(
    join(CERTS, `${file}.pem`),
    readFileSync(join(CERTS, `${file}.crt`), "utf8") + readFileSync(join(CERTS, `${file}.key`), "utf8"),
  );
}

/** A fresh test CA, the other CA, and the three servers' certificates, under .servers/federation/certs. */
export function makeCertificates() {
  rmSync(CERTS, { recursive: true, force: true });
  mkdirSync(CERTS, { recursive: true });
  makeCa("ca", "XTLS federation test CA");
  makeCa("other-ca", "Someone else's CA");
  makeServerCert("ca", montague.domain, montague.domain);
  makeServerCert("ca", capulet.domain, capulet.domain);
  makeServerCert("other-ca", stranger.domain, "stranger");
}

// --- processes ----------------------------------------------------------------------------

const pidFile = (server) => join(server.dir, "run.pid");

/** The PID this suite recorded for `server`, when that process still runs `what` (prosody, beam). */
function recordedPid(server, what) {
  try {
    const pid = Number(readFileSync(pidFile(server), "utf8"));
    if (!(pid > 0) || !alive(pid)) return undefined;
    if (existsSync(`/proc/${pid}/cmdline`) && !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(what))
      return undefined;
    return pid;
  } catch {
    return undefined;
  }
}

async function stopPid(server, what, graceMs) {
  const pid = recordedPid(server, what);
  if (!pid) return;
  process.kill(pid, "SIGTERM");
  const t0 = Date.now();
  while (alive(pid) && Date.now() - t0 < graceMs) await sleep(25);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  while (alive(pid) && Date.now() - t0 < graceMs + 2000) await sleep(25);
  rmSync(pidFile(server), { force: true });
}

function tail(file, lines = 60) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

async function waitForPorts(pid, host, ports, ms, logs) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (!alive(pid)) throw new Error(`exited during start:\n${logs()}`);
    const open = await Promise.all(ports.map((p) => portOpen(host, p)));
    if (open.every(Boolean)) return Date.now() - t0;
    await sleep(25);
  }
  process.kill(pid, "SIGKILL");
  throw new Error(`did not open ${host} ports ${ports.join(", ")} within ${ms} ms:\n${logs()}`);
}

async function ensurePortsFree(host, ports) {
  for (const port of ports) {
    if (await portOpen(host, port))
      throw new Error(
        `${host}:${port} is already in use (a federation server left running? \`node tools/federation-suite/bin/servers.js stop\`)`,
      );
  }
}

// Prosody's datamanager stores a path component with every non-alphanumeric byte as %xx.
const encode = (s) => s.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** Starts a Prosody for `server` (montague or stranger) with the suite's config. */
async function startProsodyFor(server, { certFile, s2s }) {
  await stopPid(server, "prosody", 3000);
  const ports = [server.c2sPort, server.proxy65Port, ...(s2s ? [server.s2sPort] : [])];
  await ensurePortsFree(server.address, ports);
  rmSync(server.dir, { recursive: true, force: true });
  const accounts = join(server.dir, "data", encode(server.domain), "accounts");
  mkdirSync(accounts, { recursive: true });
  for (const user of server.users)
    writeFileSync(
      join(accounts, `${encode(user)}.dat`),
      `return {\n\t["password"] = "${server.password}";\n};\n`,
    );
  // Certificates where the config looks for them: certs/<domain>.crt and .key, and the CA.
  const certs = join(server.dir, "certs");
  mkdirSync(certs, { recursive: true });
  for (const [from, to] of [
    [`${certFile}.crt`, `${server.domain}.crt`],
    [`${certFile}.key`, `${server.domain}.key`],
    ["ca.pem", "ca.pem"],
  ])
    writeFileSync(join(certs, to), readFileSync(join(CERTS, from)));
  const out = openSync(join(server.dir, "stdout.log"), "w");
  const child = spawn("prosody", ["--config", join(PKG, "prosody", "federation.cfg.lua"), "-F"], {
    detached: true,
    stdio: ["ignore", out, out],
    env: {
      ...process.env,
      FED_DIR: server.dir,
      FED_PROSODY_ADDR: server.address,
      FED_PROSODY_PORT_BASE: String(server.proxy65Port),
      FED_PROSODY_DOMAIN: server.domain,
      FED_S2S: s2s ? "1" : "0",
      FED_S2S_PORT: String(server.s2sPort ?? 0),
      FED_DNS_PORT: String(DNS_PORT),
      PROSODY_PLUGIN_DIR: join(TEST_SERVERS, "prosody"),
    },
  });
  child.unref();
  writeFileSync(pidFile(server), String(child.pid));
  const ms = await waitForPorts(child.pid, server.address, ports, 10_000, () =>
    [tail(join(server.dir, "stdout.log")), tail(join(server.dir, "prosody.log"))].join("\n"),
  );
  log(
    `Prosody ${server.domain} (pid ${child.pid}) ready in ${ms} ms on ${server.address}: c2s ${server.c2sPort}, proxy65 ${server.proxy65Port}${s2s ? `, s2s ${server.s2sPort}` : ""}`,
  );
}

/** Where Debian keeps ejabberd's Erlang applications and which `erl` runs them (from ejabberdctl). */
function ejabberdRuntime() {
  const script = readFileSync("/usr/sbin/ejabberdctl", "utf8");
  const erlLibs = /^ERL_LIBS=['"]?([^'"\n]+)/m.exec(script)?.[1];
  const erl = /^ERL=['"]?([^'"\n]+)/m.exec(script)?.[1] ?? which("erl");
  return { erl, erlLibs };
}

/** Starts the ejabberd for capulet.lit; resolves once its ports accept and the accounts exist. */
async function startEjabberdFor(server) {
  await stopPid(server, "beam", 10_000);
  const ports = [server.c2sPort, server.httpPort, server.proxy65Port, server.s2sPort];
  await ensurePortsFree(server.address, ports);
  rmSync(server.dir, { recursive: true, force: true });
  const spool = join(server.dir, "spool");
  mkdirSync(spool, { recursive: true });
  mkdirSync(join(server.dir, "logs"), { recursive: true });
  const values = {
    DOMAIN: server.domain,
    ADDR: server.address,
    CERTS,
    C2S_PORT: server.c2sPort,
    HTTP_PORT: server.httpPort,
    PROXY65_PORT: server.proxy65Port,
    S2S_PORT: server.s2sPort,
    OUT_S2S_PORT: montague.s2sPort,
    LOG_LEVEL: process.env.XTLS_EJABBERD_LOG_LEVEL ?? "info",
  };
  const config = readFileSync(join(PKG, "ejabberd", "federation.yml"), "utf8").replace(
    /__([A-Z0-9_]+)__/g,
    (m, name) => (name in values ? String(values[name]) : m),
  );
  writeFileSync(join(server.dir, "ejabberd.yml"), config);
  // The VM's resolver asks the suite's DNS server only (not the machine's resolv.conf).
  writeFileSync(
    join(server.dir, "inetrc"),
    // (resolv_conf first: loading it replaces the nameserver list.)
    `{resolv_conf, "/dev/null"}.\n{hosts_file, "/dev/null"}.\n{nameserver, {127,0,0,1}, ${DNS_PORT}}.\n{lookup, [dns]}.\n`,
  );
  const { erl, erlLibs } = ejabberdRuntime();
  const out = openSync(join(server.dir, "stdout.log"), "w");
  const erlString = (s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const child = spawn(
    erl,
    ["+K", "true", "+P", "250000", "-noinput", "-mnesia", "dir", erlString(spool), "-s", "ejabberd"],
    {
      cwd: spool,
      detached: true,
      stdio: ["ignore", out, out],
      env: {
        ...process.env,
        EJABBERD_CONFIG_PATH: join(server.dir, "ejabberd.yml"),
        EJABBERD_LOG_PATH: join(server.dir, "logs", "ejabberd.log"),
        CONTRIB_MODULES_PATH: join(server.dir, "modules"),
        ERL_LIBS: erlLibs,
        ERL_INETRC: join(server.dir, "inetrc"),
        ERL_CRASH_DUMP_BYTES: "0",
        ERL_MAX_PORTS: "32000",
        ERL_MAX_ETS_TABLES: "1400",
      },
    },
  );
  child.unref();
  writeFileSync(pidFile(server), String(child.pid));
  const logs = () =>
    [tail(join(server.dir, "stdout.log")), tail(join(server.dir, "logs", "ejabberd.log"))].join("\n");
  const ms = await waitForPorts(child.pid, server.address, ports, 30_000, logs);
  const url = `http://${server.address}:${server.httpPort}/api/register`;
  await Promise.all(
    server.users.map(async (user) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user, host: server.domain, password: server.password }),
      });
      const body = await res.text();
      if (!res.ok && !body.includes("already registered"))
        throw new Error(`registering ${user}@${server.domain} failed: HTTP ${res.status} ${body}\n${logs()}`);
    }),
  );
  log(
    `ejabberd ${server.domain} (pid ${child.pid}) ready in ${ms} ms on ${server.address}: c2s ${server.c2sPort}, proxy65 ${server.proxy65Port}, s2s ${server.s2sPort}, http ${server.httpPort}`,
  );
}

const dnsServer = { dir: join(FED_DIR, "dns") };

/** The zone dns.js serves: both domains and their proxy65 components. */
const zone = () => ({
  domains: Object.fromEntries(
    [montague, capulet].map((s) => [s.domain, { address: s.address, s2sPort: s.s2sPort }]),
  ),
  aliases: Object.fromEntries([montague, capulet].map((s) => [s.proxy, s.domain])),
});

/** Starts dns.js as a process of its own (it must outlive a `bin/servers.js start`). */
async function startDns() {
  await stopPid(dnsServer, "dns.js", 2000);
  mkdirSync(dnsServer.dir, { recursive: true });
  const out = openSync(join(dnsServer.dir, "stdout.log"), "w");
  const child = spawn(process.execPath, [join(HERE, "dns.js"), String(DNS_PORT), JSON.stringify(zone())], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  child.unref();
  writeFileSync(pidFile(dnsServer), String(child.pid));
  const t0 = Date.now();
  while (!tail(join(dnsServer.dir, "stdout.log")).includes("dns ready")) {
    if (!alive(child.pid) || Date.now() - t0 > 10_000)
      throw new Error(
        `the suite's DNS server did not start on 127.0.0.1:${DNS_PORT}:\n${tail(join(dnsServer.dir, "stdout.log"))}`,
      );
    await sleep(25);
  }
}

/** Makes the certificates and starts the three servers. */
export async function startFederation() {
  ensureInstalled();
  const lacks = await missing();
  if (lacks) throw new Error(lacks);
  mkdirSync(FED_DIR, { recursive: true });
  makeCertificates();
  await startDns();
  const started = await Promise.allSettled([
    startProsodyFor(montague, { certFile: montague.domain, s2s: true }),
    startEjabberdFor(capulet),
    startProsodyFor(stranger, { certFile: "stranger", s2s: false }),
  ]);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stopFederation();
    throw failed.reason;
  }
}

/** Stops the three servers (by the PIDs this suite recorded). */
export async function stopFederation() {
  await Promise.all([
    stopPid(montague, "prosody", 3000),
    stopPid(stranger, "prosody", 3000),
    stopPid(capulet, "beam", 10_000),
  ]);
  await stopPid(dnsServer, "dns.js", 2000);
}

export function federationLogs(lines = 40) {
  return [
    `--- Prosody ${montague.domain}:\n${tail(join(montague.dir, "prosody.log"), lines)}`,
    `--- ejabberd ${capulet.domain}:\n${tail(join(capulet.dir, "logs", "ejabberd.log"), lines)}`,
  ].join("\n");
}
