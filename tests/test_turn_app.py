"""The app and coturn agree: coturn configured by `flask turn-config` accepts /ice-servers credentials."""

import pytest

from chat import create_app
from tests.conftest import join
from tests.coturn import Coturn
from tests.turn_client import TurnClient

SECRET = "app-and-coturn-secret"


@pytest.fixture
def app_and_coturn(tmp_path, tls_files):
    # The app first names a TURN URL; the port is filled in once coturn has
    # chosen one (the rendered config's port is overridden on coturn's command line).
    settings = {"APP_ENV": "testing", "TURN_URLS": ["turn:127.0.0.1:3478"], "TURN_SECRET": SECRET}
    app = create_app(settings)
    rendered = app.test_cli_runner().invoke(args=["turn-config", "--with-secret"])
    assert rendered.exit_code == 0, rendered.output
    config = tmp_path / "turnserver.conf"
    config.write_text(rendered.output)
    cert, key = tls_files
    coturn = Coturn(config, "--relay-ip", "127.0.0.1", "--cert", str(cert), "--pkey", str(key))
    yield app, coturn
    coturn.stop()


def issued_credential(app, coturn) -> dict:
    http = app.test_client()
    join(http, "zoe")
    servers = http.get("/ice-servers").get_json()["iceServers"]
    (turn,) = [s for s in servers if "credential" in s]
    return turn


def test_coturn_accepts_what_the_app_issues(app_and_coturn):
    app, coturn = app_and_coturn
    turn = issued_credential(app, coturn)
    with TurnClient(coturn.address, turn["username"], turn["credential"]) as client:
        response = client.allocate()
        assert response.ok, response
        assert client.realm == "127.0.0.1"


def test_coturn_refuses_a_credential_the_app_did_not_issue(app_and_coturn):
    app, coturn = app_and_coturn
    turn = issued_credential(app, coturn)
    expiry, _, _ = turn["username"].partition(":")
    with TurnClient(coturn.address, f"{expiry}:mallory", turn["credential"]) as client:
        assert client.allocate().error_code == 401
