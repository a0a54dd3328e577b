-- Prosody 0.12 for the federation suite (tools/federation-suite): serves montague.lit only,
-- requires STARTTLS on c2s and s2s with certificates of the suite's own test CA, and reaches
-- capulet.lit (the suite's ejabberd) over s2s. Loopback test address only; libunbound asks the
-- suite's own DNS server (src/dns.js) and nothing else.
-- tools/federation-suite/src/servers.ts writes the certificates and sets the variables below.
local base = assert(os.getenv("FED_DIR"), "set FED_DIR")
local addr = assert(os.getenv("FED_PROSODY_ADDR"), "set FED_PROSODY_ADDR")
local port_base = tonumber((assert(os.getenv("FED_PROSODY_PORT_BASE"), "set FED_PROSODY_PORT_BASE")))
local domain = os.getenv("FED_PROSODY_DOMAIN") or "montague.lit"
local certs = base .. "/certs"

run_as_root = true
data_path = base .. "/data"
pidfile = base .. "/prosody.pid"
log = {
  { levels = { min = os.getenv("PROSODY_LOG_LEVEL") or "info" }, to = "file", filename = base .. "/prosody.log" };
}
admin_socket = base .. "/data/prosody.sock"

interfaces = { addr }
local_interfaces = { addr }
c2s_interfaces = { addr }
s2s_interfaces = { addr }
proxy65_interfaces = { addr }
c2s_ports = { port_base + 222 }
c2s_direct_tls_ports = { }
local s2s = os.getenv("FED_S2S") ~= "0"
s2s_ports = s2s and { tonumber(os.getenv("FED_S2S_PORT")) } or { }
s2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
proxy65_ports = { port_base }
network_settings = { nagle = false }
network_default_read_size = 262144

-- Name resolution for s2s: only the suite's DNS server (SRV _xmpp-server._tcp.capulet.lit ->
-- the ejabberd's address and s2s port); no /etc/hosts, no resolv.conf, no root hints.
unbound = { hoststxt = false; resolvconf = false; forward = "127.0.0.1@" .. assert(os.getenv("FED_DNS_PORT"), "set FED_DNS_PORT") }
use_ipv6 = false

plugin_paths = { assert(os.getenv("PROSODY_PLUGIN_DIR"), "set PROSODY_PLUGIN_DIR") }
local mods = {
  "disco"; "roster"; "saslauth"; "tls"; "ping"; "time"; "version"; "uptime"; "pep"; "carbons";
  "smacks"; "posix"; "proxy65_flush";
}
if s2s then mods[#mods + 1] = "dialback" end
modules_enabled = mods
modules_disabled = s2s and { "offline" } or { "offline"; "s2s" }

authentication = "internal_plain"
-- STARTTLS required on both sides, certificates verified against the suite's CA.
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = true
allow_unencrypted_plain_auth = false
ssl = {
  cafile = certs .. "/ca.pem";
  certificate = certs .. "/" .. domain .. ".crt";
  key = certs .. "/" .. domain .. ".key";
}
c2s_stanza_size_limit = 1024 * 1024
-- s2s_stanza_size_limit: Prosody's default (512 KiB), as a federating server would have it.

VirtualHost(domain)
Component("proxy." .. domain) "proxy65"
  proxy65_address = addr
