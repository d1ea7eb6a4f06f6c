"""ICE servers handed to browsers, and TURN credentials in coturn's REST API scheme."""

import base64
import hashlib
import hmac
from types import SimpleNamespace

import pytest

from chat import create_app
from chat.ice import turn_credentials
from tests.conftest import join

SECRET = "turn-test-secret"
TURN = {
    "APP_ENV": "testing",
    "STUN_URLS": ["stun:turn.example.org:3478"],
    "TURN_URLS": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
    "TURN_SECRET": SECRET,
    "TURN_TTL": 3600,
}


def test_turn_credentials_follow_the_rest_api_scheme():
    username, password = turn_credentials("s3cret", "alice", ttl=600, now=1_700_000_000.7)
    assert username == "1700000600:alice"
    expected = base64.b64encode(hmac.new(b"s3cret", b"1700000600:alice", hashlib.sha1).digest()).decode()
    assert password == expected


def test_ice_servers_need_a_login(client):
    response = client.get("/ice-servers")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_ice_servers_without_turn_are_plain_stun(app, client):
    join(client, "alice")
    body = client.get("/ice-servers").get_json()
    assert body == {"ok": True, "iceServers": [], "iceTransportPolicy": "all", "expiresAt": None}


def test_ice_servers_carry_fresh_turn_credentials(monkeypatch):
    app = create_app(TURN)
    client = app.test_client()
    join(client, "alice")
    # Only the view's clock: patching time.time itself would upset the cookies.
    monkeypatch.setattr("chat.views.time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    response = client.get("/ice-servers")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    stun, turn = body["iceServers"]
    assert stun == {"urls": ["stun:turn.example.org:3478"]}
    assert turn["urls"] == TURN["TURN_URLS"]
    assert turn["username"] == "1800003600:alice"
    assert turn["credential"] == turn_credentials(SECRET, "alice", 3600, 1_800_000_000.0)[1]
    assert body["expiresAt"] == 1_800_003_600
    assert SECRET not in response.get_data(as_text=True)


def test_the_turn_secret_never_reaches_a_page():
    app = create_app(TURN)
    client = app.test_client()
    join(client, "alice")
    for path in ("/", "/call/bob", "/presence/alice"):
        assert SECRET not in client.get(path).get_data(as_text=True)


def test_hide_my_ip_needs_a_relay(client):
    join(client, "alice")
    page = client.get("/").get_data(as_text=True)
    assert 'id="hide-ip" aria-describedby="hide-ip-help"\n                 disabled>' in page
    assert "Needs a TURN relay" in page


def test_server_wide_relay_policy_checks_the_box_for_everyone():
    app = create_app({**TURN, "ICE_TRANSPORT_POLICY": "relay"})
    client = app.test_client()
    join(client, "alice")
    assert client.get("/ice-servers").get_json()["iceTransportPolicy"] == "relay"
    assert "checked disabled" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"TURN_URLS": ["turn:x"], "TURN_SECRET": None}, "TURN_SECRET"),
        ({"ICE_TRANSPORT_POLICY": "relay"}, "needs TURN_URLS"),
        ({"ICE_TRANSPORT_POLICY": "sometimes"}, "'all' or 'relay'"),
        ({**TURN, "TURN_TTL": 0}, "TURN_TTL"),
    ],
)
def test_settings_that_cannot_work_are_refused(settings, complaint):
    with pytest.raises(RuntimeError, match=complaint):
        create_app({"APP_ENV": "testing", **settings})
