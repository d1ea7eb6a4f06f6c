"""Fixtures of the app in this process: fast timers, HTTP clients, logged-in Socket.IO clients."""

import pytest

from chat import create_app
from tests.support.app_clients import join, socket_client


@pytest.fixture
def app():
    return create_app({"APP_ENV": "testing", "RING_TIMEOUT": 0.5, "GRACE_PERIOD": 0.5})


@pytest.fixture
def client(app):
    return app.test_client()


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
        sio = socket_client(app, http)
        sio.http = http
        clients.append(sio)
        return sio

    yield _connect
    for sio in clients:
        if sio.is_connected():
            sio.disconnect()
