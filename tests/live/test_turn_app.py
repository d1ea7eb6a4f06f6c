"""The app and coturn agree: coturn configured by `flask turn-config` accepts /ice-servers credentials."""

import re
import time
from types import SimpleNamespace

import pytest

from chat import create_app
from tests.support.app_clients import CSRF, join
from tests.support.coturn import Coturn
from tests.support.turn_client import TurnClient

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


def fetched_credential(http) -> dict:
    """The TURN entry of a GET /ice-servers by the user logged in on `http`."""
    response = http.get("/ice-servers")
    assert response.status_code == 200, response.get_data(as_text=True)
    (turn,) = [s for s in response.get_json()["iceServers"] if "credential" in s]
    return turn


def issued_credential(app, coturn) -> dict:
    http = app.test_client()
    join(http, "zoe")
    return fetched_credential(http)


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
    expiry, _, rest = turn["username"].partition(":")
    name, _, nonce = rest.partition("/")
    assert name == "zoe"
    # Another name, or another nonce, with zoe's password.
    for username in (f"{expiry}:mallory/{nonce}", f"{expiry}:zoe/{'A' * 16}", f"{expiry}:zoe"):
        with TurnClient(coturn.address, username, turn["credential"]) as client:
            assert client.allocate().error_code == 401, username


def test_an_old_credential_of_a_name_cannot_use_up_its_next_holders_quota(
    app_and_coturn, tmp_path, monkeypatch
):
    app, coturn = app_and_coturn
    # The user-quota of the config coturn runs with (the shipped one's, via turn-config).
    (quota,) = re.findall(r"^user-quota=(\d+)$", (tmp_path / "turnserver.conf").read_text(), re.MULTILINE)
    quota = int(quota)
    assert quota > 0
    # An hour ago someone held "alice", fetched a credential (still valid: TURN_TTL
    # is a day) and left. Only the view's clock is set back, not the cookies'.
    earlier = app.test_client()
    join(earlier, "alice")
    with monkeypatch.context() as patch:
        patch.setattr("chat.web.ice_servers.time", SimpleNamespace(time=lambda: time.time() - 3600))
        old = fetched_credential(earlier)
    assert earlier.post("/leave", data={"csrf_token": CSRF}).status_code == 302
    # With it, as many allocations as coturn lets one username hold.
    for _ in range(quota):
        response = coturn.client(old["username"], old["credential"]).allocate()
        assert response.ok, f"{response}. coturn's log:\n{coturn.output()}"
    assert coturn.client(old["username"], old["credential"]).allocate().error_code == 486
    # The name's new holder still gets a relay.
    now = app.test_client()
    assert join(now, "alice").status_code == 302
    fresh = fetched_credential(now)
    assert int(fresh["username"].split(":")[0]) - int(old["username"].split(":")[0]) >= 3600
    response = coturn.client(fresh["username"], fresh["credential"]).allocate()
    assert response.ok, f"{response}. coturn's log:\n{coturn.output()}"
