"""chat/websocket_transport.py: pings, dropping silent clients, and a client that stops reading.

Against the real servers (the embedded eventlet one, gunicorn with eventlet and
with gevent), with a ping every second and a second to answer it. The silent
and stuck clients are raw WebSockets that speak Engine.IO by hand.
"""

import contextlib
import json
import socket
import time

import pytest
import websocket

from tests.live import LiveServer
from tests.test_python_client import Client, call_and_signal, join

# Pings every second, two seconds to answer, and a second of grace before a dropped user goes offline.
PINGS = {"PING_INTERVAL": "1", "PING_TIMEOUT": "2", "GRACE_PERIOD": "1"}


@pytest.fixture(scope="module", params=["embedded", "gunicorn", "gunicorn-gevent"])
def server(request):
    live = LiveServer(server=request.param, **PINGS)
    yield live
    output = live.output()
    live.stop()
    for trouble in ("Traceback", "Error", "error"):
        assert trouble not in output, f"the server logged {trouble!r}:\n{output[-4000:]}"


@pytest.fixture
def clients(server):
    made = []

    def make(name):
        made.append(Client(server, name))
        return made[-1]

    yield make
    for client in made:
        client.close()


class RawClient:
    """A logged-in Socket.IO client over a bare WebSocket, which answers nothing unless told to."""

    def __init__(self, server, name):
        self.name = name
        self.http = join(server, name)
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(url, cookie=cookie, origin=server.url, timeout=5)
        assert self.ws.recv().startswith("0{")  # Engine.IO open
        self.ws.send("40")  # Socket.IO connect; the server says hello before its ack
        assert [self.ws.recv()[:3] for _ in range(2)] == ["42[", "40{"]
        self.ports = ports(self.ws.sock)
        self.acks = 0

    def take_call_then_stop_reading(self, caller) -> str:
        """Accept a call from `caller` (a Client), then read nothing more, not even pings."""
        self.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        call_id = caller.sio.call("call", {"to": self.name}, timeout=5)["call_id"]
        self.call("accept", {"call_id": call_id})
        assert caller.wait_for("call_accepted") == {"call_id": call_id}
        return call_id

    def call(self, event, payload):
        """Send an event with an ack id, not waiting for the ack."""
        self.acks += 1
        self.ws.send(f"42{self.acks}" + json.dumps([event, payload]))

    def read_until_closed(self, seconds):
        """Read everything the server sends for up to `seconds`, answering no ping; (packets, closed)."""
        packets = []
        deadline = time.monotonic() + seconds
        self.ws.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                return packets, True
            if opcode == websocket.ABNF.OPCODE_CLOSE or data == b"":
                return packets, True
            packets.append(data.decode())
        return packets, False

    def close(self):
        try:
            self.ws.close(timeout=1)
        except (OSError, websocket.WebSocketException):
            pass  # the server reset the connection
        finally:
            with contextlib.suppress(OSError):
                self.ws.shutdown()
        self.http.close()


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    return condition()


def ports(client_sock) -> tuple[int, int]:
    """(this end's port, the server's port) of a connected loopback socket."""
    return client_sock.getsockname()[1], client_sock.getpeername()[1]


def server_end_state(connection: tuple[int, int]) -> str | None:
    """The TCP state of the server's end of a loopback connection (/proc/net/tcp), or None if gone."""
    here, there = connection
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
            if (local, remote) == (there, here):
                return {"01": "established", "04": "fin-wait-1", "05": "fin-wait-2"}.get(fields[3], fields[3])
    return None


def test_a_silent_client_is_dropped_and_one_that_answers_stays(server, clients):
    answering = clients("wt-answers")
    sid = answering.sio.get_sid()
    silent = RawClient(server, "wt-silent")
    try:
        packets, closed = silent.read_until_closed(10)
    finally:
        silent.close()
    assert "2" in packets, f"no ping came: {packets}"
    assert closed, f"the server kept a client that answered no ping for 10 s: {packets}"
    # The other client answered three pings or more meanwhile, and is still the same connection.
    assert answering.sio.connected
    assert answering.sio.get_sid() == sid
    assert answering.sio.call("watch", {"name": "wt-silent"}, timeout=5)["ok"]


def test_a_client_that_stops_reading_holds_up_nobody_else(server, clients):
    """Bob's browser hangs mid-call: Alice's signals fill his socket, and nobody waits for him."""
    alice = clients("wt-alice")
    bob = RawClient(server, "wt-bob")
    try:
        call_id = bob.take_call_then_stop_reading(alice)
        offer = {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 4000}  # 24 KB
        # About 4 MB: more than the socket buffers and Bob's backlog on the server hold. Each is
        # answered at once, since the relay to Bob does not wait for him (once Bob is reset and
        # his call ended, the answer is no_such_call).
        started = time.monotonic()
        for _ in range(160):
            alice.sio.call("signal", {"call_id": call_id, "description": offer}, timeout=2)
        assert time.monotonic() - started < 10

        # Meanwhile another call is placed, answered and signalled as usual.
        carol, dave = clients("wt-carol"), clients("wt-dave")
        started = time.monotonic()
        call_and_signal(carol, dave, offer)
        assert time.monotonic() - started < 5

        # Bob's connection is reset, for his backlog or his unanswered pings: the server's end is
        # gone at once, not kept by the kernel with what he never read; his call ends after the
        # grace period.
        assert alice.wait_for("call_ended", timeout=10)["call_id"] == call_id
        assert wait_until(lambda: server_end_state(bob.ports) is None, 5), server_end_state(bob.ports)
    finally:
        bob.close()
    # And it still serves Alice.
    assert alice.sio.call("watch", {"name": "wt-bob"}, timeout=5)["ok"]


def test_a_client_gone_quiet_is_reset_not_left_to_the_kernel(server, clients):
    """A suspended tab: a backlog it never reads, and no write stuck. Nothing is kept for it."""
    alice = clients("wt-alice2")
    bob = RawClient(server, "wt-bob2")
    try:
        call_id = bob.take_call_then_stop_reading(alice)
        offer = {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 1500}  # 9 KB, more than Bob reads
        assert alice.sio.call("signal", {"call_id": call_id, "description": offer}, timeout=5)["ok"]
        assert alice.wait_for("call_ended", timeout=10)["call_id"] == call_id
        # A graceful close would leave the server's end waiting behind the unread backlog.
        gone = wait_until(lambda: server_end_state(bob.ports) is None, 5)
        assert gone, f"the server's end is {server_end_state(bob.ports)}"
    finally:
        bob.close()


def test_a_client_that_floods_pings_and_reads_nothing_is_let_go(server, clients):
    """A hostile client jams the server's replies to its pings; its close must not wait on them forever."""
    flooder = RawClient(server, "wt-flood")
    try:
        raw = flooder.ws.sock
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # Engine.IO's ping comes first and gets no answer, so the server closes the socket
        # PING_TIMEOUT later, when no write of Engine.IO's to it is in progress.
        flooder.ws.settimeout(5)
        while flooder.ws.recv() != "2":
            pass
        ping = b"\x89\xfd\x00\x00\x00\x00" + b"p" * 125  # a masked WebSocket ping, 125 bytes
        raw.settimeout(3)
        sent = 0
        try:
            while sent < 64 << 20:
                raw.sendall(ping)
                sent += len(ping)
        except (TimeoutError, ConnectionResetError):
            pass  # the server stopped reading (its reply to a ping stuck), or reset the connection
        assert sent < 64 << 20, "the server answered 64 MB of pings to a client that reads nothing"
        # The server resets the connection; the unread replies are not kept for it.
        gone = wait_until(lambda: server_end_state(flooder.ports) is None, 15)
        assert gone, server_end_state(flooder.ports)
    finally:
        flooder.close()
    assert clients("wt-after-flood").sio.call("watch", {"name": "wt-flood"}, timeout=5)["ok"]


def test_websockets_are_not_compressed(server):
    # Browsers offer permessage-deflate on every WebSocket; its zlib streams
    # would cost about 90 KiB per connected user.
    url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
    ws = websocket.create_connection(url, origin=server.url, timeout=5, header=[offer])
    try:
        assert "sec-websocket-extensions" not in {key.lower() for key in ws.getheaders()}
        assert ws.recv().startswith("0{")  # a plain frame: Engine.IO's open packet
    finally:
        ws.close()
