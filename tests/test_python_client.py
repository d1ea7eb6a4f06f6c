"""docs/protocol.md followed by a plain python-socketio client, against the real server."""

import re
import select
import ssl
import threading

import pytest
import requests
import socketio
import websocket

from tests.live import LiveServer


@pytest.fixture(scope="module", params=["embedded", "gunicorn", "gunicorn-gevent"])
def server(request):
    """The embedded server of `make run`, then gunicorn with gunicorn.conf.py (eventlet, then gevent)."""
    live = LiveServer(server=request.param)
    yield live
    live.stop()


class SerialSSLSocket(ssl.SSLSocket):
    """An SSLSocket whose reads and writes never run at the same time.

    The Python client reads its WebSocket in one thread and writes it in
    another, and an OpenSSL connection is not safe for that: now and then a
    read running beside a write returns a false end of stream, and the
    client closes its own connection (seen in packet captures, about once in
    150 connections through nginx in a stress loop, most often right after
    it sent an event). Here a read waits for data without the lock, then
    reads under it; writes take it too. Browsers have no such problem.
    """

    @property
    def _lock(self) -> threading.Lock:
        # Made on first use by whichever thread comes first (dict.setdefault is atomic).
        return self.__dict__.setdefault("_serial_lock", threading.Lock())

    def recv(self, bufsize=1024, flags=0):
        if not self.pending() and not select.select([self], [], [], self.gettimeout())[0]:
            raise TimeoutError("timed out")
        with self._lock:
            return super().recv(bufsize, flags)

    def send(self, data, flags=0):
        with self._lock:
            return super().send(data, flags)

    def sendall(self, data, flags=0):
        with self._lock:
            return super().sendall(data, flags)


def tls_context(ca) -> ssl.SSLContext:
    """A client TLS context that trusts `ca`, for the WebSocket (SerialSSLSocket)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.sslsocket_class = SerialSSLSocket
    return context


def join(server, name: str, ca=None) -> requests.Session:
    """An HTTP session that has joined as `name`; `ca` is the certificate to trust for https."""
    http = requests.Session()
    if ca:
        # trust_env off, or REQUESTS_CA_BUNDLE in the environment would win over verify.
        http.trust_env = False
        http.verify = str(ca)
    page = http.get(server.url + "/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = http.post(
        server.url + "/join", data={"name": name, "csrf_token": token}, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    return http


class Client:
    """A user as a Python script: joins over HTTP, then talks Socket.IO."""

    def __init__(self, server, name, ca=None, transports=("websocket",)):
        """Join as `name` at server.url; `ca` is the certificate to trust for https."""
        self.name = name
        self.http = join(server, name, ca)
        self.received = []
        self.arrived = threading.Condition()
        self.transport_session = requests.Session()
        if ca:
            self.transport_session.trust_env = False
            self.transport_session.verify = str(ca)  # also the CA for the WebSocket
        extra = {}
        if ca:
            extra["websocket_extra_options"] = {"sslopt": {"context": tls_context(ca)}}
        self.sio = socketio.Client(reconnection=False, http_session=self.transport_session, **extra)
        self.sio.on("*", self._record)
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        # websocket-client sends the server's own Origin, as a page of the app would.
        self.sio.connect(
            server.url, headers={"Cookie": self.cookie}, transports=list(transports), wait_timeout=5
        )
        # Engine.IO's client lets go of its WebSocket when the server drops the connection,
        # without closing it; held here, it is closed in close() rather than left to the collector.
        self.ws = self.sio.eio.ws

    def _record(self, event, payload=None):
        with self.arrived:
            self.received.append((event, payload))
            self.arrived.notify_all()

    def wait_for(self, event, timeout=5.0):
        def found():
            return next((p for e, p in self.received if e == event), None)

        with self.arrived:
            assert self.arrived.wait_for(found, timeout), f"no {event!r}; got {self.received}"
            payload = found()
            self.received.remove((event, payload))
            return payload

    def close(self):
        self.sio.disconnect()
        # After the server drops a connection, the client library leaves its
        # WebSocket open; close it so no socket outlives the test.
        for ws in {id(w): w for w in (self.ws, self.sio.eio.ws) if w is not None}.values():
            ws.shutdown()
        self.http.close()
        self.transport_session.close()


def call_and_signal(caller: Client, callee: Client, offer: dict) -> str:
    """`caller` rings `callee`, who accepts; the offer goes through. Return the call id."""
    call_id = caller.sio.call("call", {"to": callee.name}, timeout=5)["call_id"]
    assert callee.wait_for("ring") == {"call_id": call_id, "from": caller.name}
    assert callee.sio.call("accept", {"call_id": call_id}, timeout=5)["ok"]
    assert caller.sio.call("signal", {"call_id": call_id, "description": offer}, timeout=5)["ok"]
    assert callee.wait_for("signal")["description"] == offer
    return call_id


@pytest.fixture
def clients(server):
    made = []

    def make(name, **kwargs):
        client = Client(server, name, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_a_python_client_places_and_answers_a_call(clients):
    alice, bob = clients("py-alice"), clients("py-bob")
    assert alice.wait_for("hello") == {"name": "py-alice", "call": None}
    ack = bob.sio.call("call", {"to": "py-alice"}, timeout=5)
    assert ack["ok"] is True
    call_id = ack["call_id"]
    assert alice.wait_for("ring") == {"call_id": call_id, "from": "py-bob"}
    assert alice.sio.call("accept", {"call_id": call_id}, timeout=5)["ok"]
    assert bob.wait_for("call_accepted") == {"call_id": call_id}
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    assert bob.sio.call("signal", {"call_id": call_id, "description": offer}, timeout=5) == {"ok": True}
    assert alice.wait_for("signal") == {
        "call_id": call_id,
        "from": "py-bob",
        "description": offer,
        "epoch": 0,
    }
    assert alice.sio.call("hangup", {"call_id": call_id}, timeout=5) == {"ok": True}
    assert bob.wait_for("call_ended") == {"call_id": call_id, "reason": "hangup", "by": "py-alice"}


def test_long_polling_is_refused_and_an_offer_sized_message_goes_through(clients, server):
    alice = clients("py-up-a")
    polling = requests.get(
        f"{server.url}/socket.io/?EIO=4&transport=polling", headers={"Cookie": alice.cookie}
    )
    assert polling.status_code == 400
    assert "Invalid transport" in polling.text
    with pytest.raises(socketio.exceptions.ConnectionError):
        clients("py-up-poll", transports=("polling",))
    bob = clients("py-up-b")
    call_and_signal(bob, alice, {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 1000})  # offer-sized


def test_a_connection_without_login_is_refused_with_the_error_code(server):
    sio = socketio.Client(reconnection=False)
    refusals = []
    sio.on("connect_error", refusals.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(server.url, transports=["websocket"], wait_timeout=5)
    assert refusals == [
        {
            "message": "unauthorized",
            "data": {"ok": False, "error": "unauthorized", "message": "Join with a name first."},
        }
    ]


def test_a_logged_in_cookie_from_a_foreign_origin_is_refused(clients, server):
    victim = clients("py-victim")
    url = f"{server.url.replace('http://', 'ws://')}/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, cookie=victim.cookie, origin="https://evil.example")
    assert info.value.status_code == 400
    own = websocket.create_connection(url, cookie=victim.cookie, origin=server.url)
    try:
        assert own.recv().startswith("0{")  # Engine.IO's open packet
    finally:
        own.close()


def test_an_oversized_message_closes_only_that_connection(clients):
    alice, bob = clients("py-big-a"), clients("py-big-b")
    call_id = bob.sio.call("call", {"to": "py-big-a"}, timeout=5)["call_id"]
    alice.sio.call("accept", {"call_id": call_id}, timeout=5)
    bob.sio.emit("signal", {"call_id": call_id, "description": {"type": "offer", "sdp": "a" * 100_000}})
    bob.sio.sleep(1)
    assert not bob.sio.connected
    assert alice.sio.connected
    assert alice.sio.call("watch", {"name": "py-big-b"}, timeout=5)["ok"]
