"""A flood of signals at a peer that stopped reading, against the real servers.

Without limits, every relayed signal waits in the server's queue for a peer
that never reads it, and the worker grows until it is killed. With them, the
server holds at most a call's byte budget for that peer, the flooder is
disconnected, and everyone else goes on calling.
"""

import json
import time
from pathlib import Path

import pytest
import websocket

from tests.support.raw_clients import Raw, cookie_of, event
from tests.support.servers import LiveServer
from tests.support.socketio_clients import Client, call_and_signal

FLOOD_SECONDS = 6.0
# An offer-sized SDP near MAX_SDP_BYTES (32 KiB): the most a signal can make the server hold.
BIG_OFFER = {"type": "offer", "sdp": "v=0\r\n" + "a=x-filler:" + "y" * 30_000 + "\r\n"}
MIB = 1024 * 1024


@pytest.fixture(scope="module", params=["gunicorn", "gunicorn-gevent"])
def server(request):
    live = LiveServer(server=request.param, GRACE_PERIOD="5")
    live.kind = request.param
    yield live
    live.stop()


def worker_pid(server) -> int:
    """gunicorn's one worker: the master's child."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def ack(raw: Raw, ack_id: int) -> dict:
    return json.loads(raw.until(lambda m: m.startswith(f"43{ack_id}"))[2 + len(str(ack_id)) :])[0]


def test_a_flood_at_a_peer_that_stopped_reading_stays_bounded(server):
    kind = server.kind.replace("gunicorn-", "")
    flooder_name, stalled_name = f"flood-{kind}", f"stall-{kind}"
    flooder_cookie = cookie_of(server, flooder_name)
    flooder = Raw(server, flooder_cookie)
    assert flooder.connect().startswith("40{")
    stalled = Raw(server, cookie_of(server, stalled_name))
    assert stalled.connect().startswith("40{")
    flooder.send(event(1, "call", {"to": stalled_name}))
    call_id = ack(flooder, 1)["call_id"]
    stalled.until(lambda m: m.startswith('42["ring"'))
    stalled.send(event(1, "accept", {"call_id": call_id}))
    assert ack(stalled, 1)["ok"]
    try:
        flood_and_check(server, flooder, flooder_cookie, stalled, call_id, kind)
    finally:
        stalled.close()


def flood_and_check(server, flooder, flooder_cookie, stalled, call_id, kind):
    # From here on the stalled party never reads its socket again.
    pid = worker_pid(server)
    before = rss(pid)
    signal = "42" + json.dumps(["signal", {"call_id": call_id, "description": BIG_OFFER}])  # no ack asked
    sent, closings = 0, 0
    deadline = time.monotonic() + FLOOD_SECONDS
    try:
        while time.monotonic() < deadline:
            try:
                flooder.send(signal)
                sent += 1
            except (websocket.WebSocketException, OSError):
                closings += 1  # disconnected for flooding: come back and go on
                flooder.close()
                flooder = Raw(server, flooder_cookie)
                assert flooder.connect().startswith("40{")
        grown = rss(pid) - before
    finally:
        flooder.close()
    print(f"{server.kind}: {sent} signals sent, closed {closings} times, RSS grew {grown / MIB:.1f} MiB")
    assert sent * len(signal) > 100 * MIB  # a flood that would have shown, unlimited
    assert closings >= 1
    assert grown < 50 * MIB
    # A third pair can still call and relay.
    carol, dave = Client(server, f"carol-{kind}"), Client(server, f"dave-{kind}")
    try:
        call_and_signal(carol, dave, {"type": "offer", "sdp": "v=0\r\n"})
    finally:
        carol.close()
        dave.close()
    server.check_alive()
