#!/usr/bin/python3
"""slixmpp 1.8.3 XEP-0047 echo peer for @xtls/ibb's interop test (adapted from the
project's reference ibb_recv.py).

Logs in as SLIX_JID (password "secret") on 127.0.0.1:XMPP_PORT without STARTTLS, accepts
every IBB stream (auto_accept), and for each one it receives:
  prints  OPEN sid=<sid> from=<jid> block=<n> stanza=<iq|message>
  prints  DONE sid=<sid> len=<n> sha256=<hex>           once the peer closed it
  echoes  the bytes back over a NEW IBB stream, sid "<sid>-echo", same block size,
          with <message/> data when the incoming sid starts with "msg-", else IQs
  prints  ECHOED sid=<sid>-echo
Prints READY <full jid> once online. Run with /usr/bin/python3 (Debian's python3-slixmpp)."""
import asyncio
import hashlib
import logging
import os
import sys

import slixmpp

JID = os.environ.get("SLIX_JID", "juliet@capulet.lit/slix")
ADDR = ("127.0.0.1", int(os.environ.get("XMPP_PORT", "15222")))


class EchoPeer(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(JID, "secret")
        self.register_plugin("xep_0030")
        # auto_accept defaults to False (every open gets not-acceptable). The maximum block
        # size stays at slixmpp's default, 8192: larger opens get resource-constraint.
        self.register_plugin("xep_0047", {"auto_accept": True})
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("ibb_stream_start", self.on_stream)
        self.add_event_handler("ibb_stream_data", self.on_data)
        self.add_event_handler("ibb_stream_end", self.on_end)
        self.bufs = {}         # sid -> [chunks] of streams the peer opened
        self.outgoing = set()  # ibb_stream_start/end also fire for streams we open ourselves
        self.tasks = set()

    async def start(self, _):
        self.send_presence()
        print(f"READY {self.boundjid.full}", flush=True)

    def on_stream(self, stream):
        if stream.sid in self.outgoing:
            return
        self.bufs[stream.sid] = []
        kind = "message" if stream.use_messages else "iq"
        print(f"OPEN sid={stream.sid} from={stream.peer_jid} block={stream.block_size} stanza={kind}", flush=True)

    def on_data(self, stream):
        if stream.sid in self.bufs:
            self.bufs[stream.sid].append(stream.read())

    def on_end(self, stream):
        if stream.sid in self.bufs:
            data = b"".join(self.bufs.pop(stream.sid))
            task = asyncio.ensure_future(self.echo(stream, data))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def echo(self, stream, data):
        print(f"DONE sid={stream.sid} len={len(data)} sha256={hashlib.sha256(data).hexdigest()}", flush=True)
        sid = stream.sid + "-echo"
        self.outgoing.add(sid)
        try:
            out = await self["xep_0047"].open_stream(
                stream.peer_jid, sid=sid, block_size=stream.block_size,
                use_messages=stream.sid.startswith("msg-"))
            await out.sendall(data)
            await out.close()
            print(f"ECHOED sid={sid}", flush=True)
        except Exception as e:  # reported to the test, which fails on it
            print(f"FAILED sid={sid} {type(e).__name__}: {e}", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOGLEVEL", "WARNING"), stream=sys.stderr)
    peer = EchoPeer()
    peer.connect(ADDR, force_starttls=False, disable_starttls=True)  # the test server has no TLS
    asyncio.get_event_loop().run_forever()
