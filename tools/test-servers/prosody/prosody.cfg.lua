-- Prosody 0.12 config for the XTLS integration tests (see docs/peers.md#prosody).
-- Loopback only, no TLS, no s2s, no rate limits, three local VirtualHosts so that
-- romeo@montague.lit and juliet@capulet.lit talk through one server without s2s.
-- tools/test-servers/prosody.js sets the environment variables below.
local base = assert(os.getenv("PROSODY_TEST_DIR"), "set PROSODY_TEST_DIR")
local port_base = tonumber(os.getenv("PROSODY_PORT_BASE") or "15000")

run_as_root = true            -- CI runs as root with no systemd; ignored when not root
data_path = base .. "/data"
certificates = base .. "/certs"
pidfile = base .. "/prosody.pid"
log = {
  { levels = { min = os.getenv("PROSODY_LOG_LEVEL") or "info" }, to = "file", filename = base .. "/prosody.log" };
}
admin_socket = base .. "/data/prosody.sock"

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { port_base + 222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { port_base + 280 }       -- BOSH /http-bind, WebSocket /xmpp-websocket
https_ports = { }
proxy65_ports = { port_base }          -- XEP-0065 SOCKS5 proxy
http_interfaces = { "127.0.0.1" }
proxy65_interfaces = { "127.0.0.1" }
http_default_host = "localhost"
-- Prosody 0.12 keeps Nagle on by default; off for tests (docs/peers.md#prosody: 491 -> 860 IQ/s).
network_settings = { nagle = (os.getenv("PROSODY_NAGLE") == "1") }
-- Read more than 4096 bytes per wake-up (docs/peers.md#prosody: 16 KiB x 8 in flight 2.8 -> 12.4 MB/s).
network_default_read_size = tonumber(os.getenv("PROSODY_READ_SIZE") or "262144")

-- PROSODY_EXTRA_PLUGIN_DIR / PROSODY_EXTRA_MODULES: a suite's own modules (e.g. tools/attack-suite's
-- compromised-server module), set only by that suite for its own Prosody (own port base and directory).
plugin_paths = { assert(os.getenv("PROSODY_PLUGIN_DIR"), "set PROSODY_PLUGIN_DIR"), os.getenv("PROSODY_EXTRA_PLUGIN_DIR") }

local mods = {
  "disco"; "roster"; "saslauth"; "register"; "ping"; "time"; "version"; "uptime";
  "bosh"; "websocket"; "carbons"; "pep"; "admin_shell"; "posix";
  -- deliberately NOT loaded: "tls" (no STARTTLS offered), "limits" (10 kb/s c2s in Debian's config)
}
if os.getenv("PROSODY_PROXY65_FLUSH") ~= "0" then mods[#mods + 1] = "proxy65_flush" end
if os.getenv("PROSODY_SMACKS") ~= "0" then mods[#mods + 1] = "smacks" end
for extra in (os.getenv("PROSODY_EXTRA_MODULES") or ""):gmatch("[^,%s]+") do mods[#mods + 1] = extra end
modules_enabled = mods
modules_disabled = { "s2s"; "offline" }

authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
min_seconds_between_registrations = 0
consider_bosh_secure = true
consider_websocket_secure = true
c2s_stanza_size_limit = 1024 * 1024

VirtualHost "localhost"
VirtualHost "montague.lit"
VirtualHost "capulet.lit"

Component "proxy.localhost" "proxy65"
  proxy65_address = "127.0.0.1"
Component "proxy.montague.lit" "proxy65"
  proxy65_address = "127.0.0.1"
Component "proxy.capulet.lit" "proxy65"
  proxy65_address = "127.0.0.1"
