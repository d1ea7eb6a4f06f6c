"""The embedded server that `make run` starts."""

import socket
import urllib.request

import pytest

from tests.support.servers import LiveServer

# More than eventlet's default pool of 1,024 connections.
HELD = 1100


@pytest.fixture
def server():
    live = LiveServer()
    yield live
    live.stop()


def test_it_holds_more_than_a_thousand_connections(server):
    held = []
    try:
        for _ in range(HELD):
            conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            # A request on a kept-alive connection occupies one of the server's
            # green threads until the connection closes.
            conn.sendall(b"GET /presence/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            held.append(conn)
        for conn in held:
            assert conn.recv(4096).startswith(b"HTTP/1.1 200"), "a held connection was not served"
        with urllib.request.urlopen(server.url + "/presence/alice", timeout=10) as response:
            assert response.status == 200
    finally:
        for conn in held:
            conn.close()
