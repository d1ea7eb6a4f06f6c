"""Fixtures: an app with fast timers, HTTP clients and logged-in Socket.IO clients."""

import shutil
import subprocess
import time

import pytest

from chat import create_app
from chat.extensions import socketio

CSRF = "test-csrf-token"


@pytest.fixture
def app():
    return create_app({"APP_ENV": "testing", "RING_TIMEOUT": 0.5, "GRACE_PERIOD": 0.5})


@pytest.fixture
def client(app):
    return app.test_client()


def join(http, name: str, next_: str | None = None):
    """Post the join form from the browser behind `http`; return the response."""
    with http.session_transaction() as session:
        session["csrf"] = CSRF
    form = {"name": name, "csrf_token": CSRF}
    if next_:
        form["next"] = next_
    return http.post("/join", data=form)


@pytest.fixture
def connect(app):
    """Return connect(name) -> a Socket.IO client logged in as `name` from a new browser.

    connect(name, http=...) reuses a browser (its cookie), as a second tab or
    a reload would. Every client is disconnected at teardown.
    """
    clients = []

    def _connect(name: str, http=None):
        if http is None:
            http = app.test_client()
            response = join(http, name)
            assert response.status_code == 302, response.get_data(as_text=True)
        sio = socketio.test_client(app, flask_test_client=http)
        sio.http = http
        clients.append(sio)
        return sio

    yield _connect
    for sio in clients:
        if sio.is_connected():
            sio.disconnect()


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


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A throwaway self-signed certificate and key for localhost, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make a test certificate for coturn's TLS listener", pytrace=False)
    folder = tmp_path_factory.mktemp("coturn-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    return cert, key
