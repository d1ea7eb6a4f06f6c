"""The security review's attacks, replayed with raw frames against the real servers.

Each test is one hole of the review: spoofed reserved events, malformed and
binary packets, long-polling that hung its connection, sessions that never
log in, slow request headers, and tracebacks sent to clients.
"""

import json
import socket
import sys
import time
import urllib.request

import pytest

from tests.support.raw_clients import Raw, cookie_of, event
from tests.support.servers import LiveServer
from tests.support.socketio_clients import join

CONNECT_TIMEOUT = 2.0
REQUEST_TIMEOUT = 2.0
SETTINGS = {
    "GRACE_PERIOD": "1",
    "CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    "REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
}


@pytest.fixture(scope="module", params=["embedded", "gunicorn", "gunicorn-gevent"])
def server(request):
    live = LiveServer(server=request.param, **SETTINGS)
    live.kind = request.param
    yield live
    live.stop()


def join_status(server, name: str) -> int:
    try:
        join(server, name).close()
    except AssertionError as refused:
        return 409 if "409" in str(refused) else 0
    return 302


def test_spoofed_connect_and_disconnect_events_reach_no_handler(server):
    zed, watcher_name = f"zed-{server.kind}", f"watcher-{server.kind}"
    mallory = Raw(server, cookie_of(server, zed))
    assert mallory.connect().startswith("40{")
    mallory.until(lambda m: m.startswith('42["hello"'))
    watcher = Raw(server, cookie_of(server, watcher_name))
    assert watcher.connect().startswith("40{")
    watcher.send(event(1, "watch", {"name": zed}))
    assert json.loads(watcher.until(lambda m: m.startswith("431"))[3:])[0]["online"] is True
    for _ in range(500):
        mallory.send('42["disconnect"]')
        mallory.send('42["connect"]')
    mallory.send('427["disconnect"]')
    ack = json.loads(mallory.until(lambda m: m.startswith("437"))[3:])[0]
    assert ack["ok"] is False and ack["error"] == "unknown_event"
    # Past the grace period the name is still mallory's: her socket never left the store.
    mallory.drain(1.5)
    assert join_status(server, zed) == 409
    assert not [m for m in watcher.drain(0.2) if m.startswith('42["presence"')]
    # And she is still served as zed.
    mallory.send(event(8, "watch", {"name": watcher_name}))
    assert json.loads(mallory.until(lambda m: m.startswith("438"))[3:])[0]["ok"] is True
    for raw in (mallory, watcher):
        raw.close()


# Socket.IO packets inside Engine.IO messages (the leading 4); binary frames are attachments.
MALFORMED = {
    "binary event pointing past its attachments": ['451-99["watch",{"_placeholder":true,"num":7}]', b"\x01"],
    "a binary attachment alone": [b"\x00\x01\x02"],
    "an event that is not a list": ['42{"to":"x"}'],
    "an event without a name": ["42[]"],
    "an unknown packet type": ["49"],
    "a connect error from the client": ['44{"message":"x"}'],
    "not JSON": ['42["watch",{'],
}


def test_malformed_and_binary_packets_close_only_that_connection(server):
    name = f"fuzz-{server.kind}"
    cookie = cookie_of(server, name)
    bystander = Raw(server, cookie_of(server, f"by-{server.kind}"))
    assert bystander.connect().startswith("40{")
    for case, frames in MALFORMED.items():
        raw = Raw(server, cookie)
        assert raw.connect().startswith("40{")
        for frame in frames:
            if isinstance(frame, bytes):
                raw.ws.send_binary(frame)
            else:
                raw.send(frame)
        # Closed at once, not by CONNECT_TIMEOUT's round.
        assert raw.closed_within(CONNECT_TIMEOUT - 0.5), case
        raw.close()
    bystander.send(event(1, "watch", {"name": name}))
    assert json.loads(bystander.until(lambda m: m.startswith("431"))[3:])[0]["ok"] is True
    bystander.close()
    server.check_alive()
    assert "Traceback" not in server.output()


def close_wait_connections(port: int) -> int:
    """Server-side connections of `port` waiting for the server to close them (/proc/net/tcp*)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "08":
                    count += 1
    return count


def http_exchange(port: int, request: bytes, timeout: float = 3.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def test_long_polling_is_refused_and_leaves_no_connection_open(server):
    body = b"4" + b"x" * 70_000
    for _ in range(20):
        reply = http_exchange(
            server.port, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
        sid = json.loads(reply.split(b"\r\n\r\n", 1)[1][1:])["sid"] if b'"sid"' in reply else "nosuchsid"
        post = (
            f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
            sock.sendall(post + body)  # and leave without reading
    time.sleep(1.0)
    assert close_wait_connections(server.port) == 0
    server.check_alive()


def test_sessions_that_never_log_in_are_closed(server):
    refused = [Raw(server) for _ in range(20)]
    for raw in refused:
        assert raw.connect().startswith("44")  # unauthorized
    silent = [Raw(server) for _ in range(20)]
    member = Raw(server, cookie_of(server, f"member-{server.kind}"))
    assert member.connect().startswith("40{")
    for raw in refused + silent:
        assert raw.closed_within(CONNECT_TIMEOUT + 2.5)
        raw.close()
    member.send('421["watch",{"name":"nobody"}]')  # a logged-in one stays
    assert json.loads(member.until(lambda m: m.startswith("431"))[3:])[0]["ok"] is True
    member.close()


@pytest.mark.parametrize("kind", ["embedded", "gunicorn"])
def test_unconnected_sessions_cannot_hold_every_connection(kind):
    live = LiveServer(server=kind, MAX_CONNECTIONS="30", CONNECT_TIMEOUT=str(CONNECT_TIMEOUT))
    try:
        held = [Raw(live) for _ in range(30)]
        started = time.monotonic()
        with urllib.request.urlopen(live.url + "/", timeout=CONNECT_TIMEOUT + 5) as response:
            assert response.status == 200
        assert time.monotonic() - started < CONNECT_TIMEOUT + 5
        for raw in held:
            raw.close()
    finally:
        live.stop()


def test_the_embedded_server_lets_slow_requests_go():
    live = LiveServer(server="embedded", **SETTINGS)
    try:
        silent = [socket.create_connection(("127.0.0.1", live.port)) for _ in range(20)]
        partial = [socket.create_connection(("127.0.0.1", live.port)) for _ in range(20)]
        for sock in partial:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        member = Raw(live, cookie_of(live, "patient"))
        assert member.connect().startswith("40{")
        for sock in silent + partial:
            sock.settimeout(REQUEST_TIMEOUT + 3)
            assert sock.recv(1024) == b""  # closed by the server, with nothing sent
            sock.close()
        # A WebSocket idle for longer than REQUEST_TIMEOUT is kept: its liveness is Engine.IO's pings.
        member.drain(REQUEST_TIMEOUT + 0.5)
        member.send('421["watch",{"name":"nobody"}]')
        assert json.loads(member.until(lambda m: m.startswith("431"))[3:])[0]["ok"] is True
        member.close()
    finally:
        live.stop()


def test_an_old_websocket_draft_is_refused_without_a_traceback(server):
    reply = http_exchange(
        server.port,
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 426"), reply[:300]
    assert b"Traceback" not in reply


def test_a_failing_request_gets_no_traceback_and_is_logged():
    live = LiveServer(command=[sys.executable, "-m", "tests.support.faulty_app"])
    try:
        for path in ("/fails-inside", "/fails-outside"):
            reply = http_exchange(live.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert reply.startswith(b"HTTP/1.1 500"), reply[:300]
            for leak in (b"Traceback", b"File ", b"RuntimeError", b"a bug", b".py"):
                assert leak not in reply, reply
        assert "RuntimeError: a bug in a WSGI layer at /fails-inside" in live.output()
        live.check_alive()
    finally:
        live.stop()
