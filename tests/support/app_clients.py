"""Helpers for the app in this process: Flask's test client joins, Flask-SocketIO's test client's events."""

import time

from flask import Flask
from flask_socketio.test_client import SocketIOTestClient

from chat.extensions import socketio
from chat.signaling.protocol import HELLO

CSRF = "test-csrf-token"
HELLO_TIMEOUT = 3.0


class SocketClient(SocketIOTestClient):
    """Flask-SocketIO's test client, whose connect returns once `hello` has come.

    The server sends `hello` from a task of its own after the connect packet
    (a thread in the tests), so it may come a moment after connect() returns;
    a refused connection gets none. The events stay queued for get_received.
    """

    def connect(self, namespace=None, query_string=None, headers=None, auth=None):
        super().connect(namespace=namespace, query_string=query_string, headers=headers, auth=auth)
        deadline = time.monotonic() + HELLO_TIMEOUT
        while self.is_connected(namespace) and not any(p["name"] == HELLO for p in list(self.queue)):
            if time.monotonic() > deadline:
                raise AssertionError(f"connected, but no hello within {HELLO_TIMEOUT} s")
            time.sleep(0.005)


def socket_client(app: Flask, http=None) -> SocketClient:
    """A Socket.IO test client connected with the cookie of the browser behind `http` (none if None)."""
    return SocketClient(app, socketio, flask_test_client=http)


def join(http, name: str, next_: str | None = None):
    """Post the join form from the browser behind `http` (a Flask test client); return the response."""
    with http.session_transaction() as session:
        session["csrf"] = CSRF
    form = {"name": name, "csrf_token": CSRF}
    if next_:
        form["next"] = next_
    return http.post("/join", data=form)


def events(sio, name: str | None = None) -> list:
    """Return (and consume) the events `sio` received, only those called `name` if given."""
    received = sio.get_received()
    return [e["args"][0] if e["args"] else None for e in received if name in (None, e["name"])]


def wait_for(sio, name: str, timeout: float = 3.0):
    """Wait for the event `name` on `sio` (set by a background timer); return its payload."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in sio.get_received():
            if event["name"] == name:
                return event["args"][0]
        time.sleep(0.02)
    raise AssertionError(f"no {name!r} event within {timeout} s")
