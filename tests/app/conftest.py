"""Fixtures of the app in this process: fast timers, HTTP clients, logged-in Socket.IO clients.

The app keeps its records in an in-memory SQLite. A module whose rules are
the records' own (names, devices, calls) runs on a real PostgreSQL too: it
defines `app` as `on_both_databases`'s.
"""

import pytest
import sqlalchemy

from chat import create_app
from chat.extensions import db
from tests.support.app_clients import join, socket_client

SETTINGS = {"APP_ENV": "testing", "RING_TIMEOUT": 0.5, "GRACE_PERIOD": 0.5}


@pytest.fixture
def app():
    return create_app(SETTINGS)


@pytest.fixture(params=["sqlite", "postgresql"])
def on_both_databases(request):
    """Return make(**settings) -> the app on SQLite, then on PostgreSQL (a fresh schema each test)."""
    made = []

    def make(**settings):
        if request.param == "postgresql":
            url = request.getfixturevalue("postgres_server").url
            engine = sqlalchemy.create_engine(url)
            with engine.begin() as connection:
                connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            engine.dispose()
            settings["DATABASE_URL"] = url
        made.append(create_app({**SETTINGS, **settings}))
        return made[-1]

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


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
