"""What a client sees on the wire when it connects, against every real server (docs/protocol.md).

`hello` follows Socket.IO's connect packet: a client that subscribes in its
connect handler, or drops events that come before the connect packet, still
gets it. A refused connection gets the refusal and no `hello`.
"""

import json

import pytest

from tests.support.raw_clients import Raw, cookie_of
from tests.support.servers import LiveServer


@pytest.fixture(scope="module", params=["embedded", "gunicorn", "gunicorn-gevent"])
def server(request):
    live = LiveServer(server=request.param)
    yield live
    live.stop()


def test_hello_comes_after_the_connect_packet(server):
    raw = Raw(server, cookie_of(server, "wire-alice"))
    try:
        raw.send("40")
        raw.until(lambda m: m.startswith('42["hello",'))
        packets = [m for m in raw.seen if m not in ("2", "3")]
        assert packets[0].startswith("40{"), packets
        assert packets[1].startswith('42["hello",'), packets
        assert json.loads(packets[1][2:]) == ["hello", {"name": "wire-alice", "call": None}]
    finally:
        raw.close()


def test_a_refused_connect_gets_no_hello(server):
    raw = Raw(server)  # no cookie: not logged in
    try:
        assert raw.connect().startswith("44")
        assert not [m for m in raw.drain(0.5) if m.startswith('42["hello"')]
    finally:
        raw.close()
