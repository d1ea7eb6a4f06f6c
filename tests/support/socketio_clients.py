"""Users as Python scripts against a real server: python-socketio over HTTP(S) and a WebSocket.

    alice, bob = Client(server, "alice"), Client(server, "bob")
    call_and_signal(bob, alice, {"type": "offer", "sdp": "v=0\r\n"})
    alice.close(), bob.close()

`server` is anything with a `url` (tests/support/servers.py's LiveServer, or
an https address and `ca=` the certificate to trust).
"""

import re
import select
import ssl
import threading

import requests
import socketio


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
