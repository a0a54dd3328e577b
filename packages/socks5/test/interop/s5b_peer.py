#!/usr/bin/python3
"""slixmpp 1.8.3 XEP-0065 peer for @xtls/socks5's interop test (adapted from the project's
reference s5b_offer.py). Logs in as SLIX_JID (password "secret") on 127.0.0.1:XMPP_PORT
without STARTTLS. Prints READY <full jid> once online. Two modes (MODE):

  target   Accepts every SOCKS5 offer (auto_accept); slixmpp tries the streamhosts and
           answers streamhost-used. Echoes every byte it receives back on the same
           connection. When the peer closes: prints
             RECEIVED len=<n> sha256=<hex>
  offer    Discovers its server's proxy65 (disco#items -> proxy/bytestreams -> streamhost),
           offers it to TARGET (full JID), connects and activates, sends SIZE random bytes
           and prints
             SENT len=<n> sha256=<hex>
           then reads until the peer closes and prints RECEIVED len=<n> sha256=<hex>.

slixmpp's SOCKS5 data events carry no sid: one bytestream at a time. Failures print
FAILED <what>. Run with /usr/bin/python3 (Debian's python3-slixmpp)."""
import asyncio
import hashlib
import logging
import os
import sys

import slixmpp

JID = os.environ.get("SLIX_JID", "juliet@capulet.lit/slix")
ADDR = ("127.0.0.1", int(os.environ.get("XMPP_PORT", "15222")))
MODE = os.environ.get("MODE", "target")
TARGET = os.environ.get("TARGET", "")
SIZE = int(os.environ.get("SIZE", str(1 << 20)))


class Peer(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(JID, "secret")
        self.register_plugin("xep_0030")
        # auto_accept is off by default: every offer would get not-acceptable.
        self.register_plugin("xep_0065", {"auto_accept": True})
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("socks5_stream", self.on_stream)
        self.add_event_handler("socks5_data", self.on_data)
        self.add_event_handler("socks5_closed", self.on_closed)
        self.conn = None
        self.hash = hashlib.sha256()
        self.received = 0
        self.task = None

    async def start(self, _):
        self.send_presence()
        print(f"READY {self.boundjid.full}", flush=True)
        if MODE == "offer":
            self.task = asyncio.ensure_future(self.offer())

    def on_stream(self, conn):
        # Target side: the connection to the streamhost we chose.
        self.conn = conn

    def on_data(self, data):
        self.received += len(data)
        self.hash.update(data)
        if MODE == "target" and self.conn is not None:
            self.conn.transport.write(data)  # echo (buffered by asyncio; flushed before close)

    def on_closed(self, exc):
        print(f"RECEIVED len={self.received} sha256={self.hash.hexdigest()}", flush=True)

    async def offer(self):
        try:
            proxies = await self["xep_0065"].discover_proxies()
            print(f"PROXIES {' '.join(sorted(str(p) for p in proxies))}", flush=True)
            sock = await self["xep_0065"].handshake(TARGET)
            if sock is None:
                print("FAILED handshake returned no socket", flush=True)
                return
            data = os.urandom(SIZE)
            for i in range(0, SIZE, 65536):
                await sock.write(data[i:i + 65536])  # waits while the transport is paused
            print(f"SENT len={SIZE} sha256={hashlib.sha256(data).hexdigest()}", flush=True)
        except Exception as e:  # reported to the test, which fails on it
            print(f"FAILED {type(e).__name__}: {e}", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOGLEVEL", "WARNING"), stream=sys.stderr)
    peer = Peer()
    peer.connect(ADDR, force_starttls=False, disable_starttls=True)  # the test server has no TLS
    asyncio.get_event_loop().run_forever()
