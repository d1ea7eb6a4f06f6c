"""Another device for a name: one-time links, the device list, removal."""

import pytest

from chat.records import registry
from tests.support.app_clients import CSRF, join, socket_client


@pytest.fixture
def app(on_both_databases):
    """Names and devices are the records' rules: SQLite, then PostgreSQL."""
    return on_both_databases()


def make_link(client):
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    return client.post("/devices/link", data={"csrf_token": CSRF})


def test_a_device_link_signs_another_browser_in_once(app, client):
    join(client, "alice")
    reply = make_link(client)
    assert reply.status_code == 200
    link = reply.get_json()
    assert link["ok"] is True and link["expires_in"] == 600
    path = link["url"].split("localhost", 1)[1]
    assert path.startswith("/device/")
    phone = app.test_client()
    used = phone.get(path, headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile"})
    assert used.status_code == 302
    assert "Your ID: alice" in phone.get("/").get_data(as_text=True)
    assert socket_client(app, phone).is_connected()
    page = client.get("/").get_data(as_text=True)
    assert "Chrome on Android" in page and "(this browser)" in page
    thief = app.test_client()
    again = thief.get(path)
    assert again.status_code == 410
    assert "has been used or has expired" in again.get_data(as_text=True)
    assert "Your ID:" not in thief.get("/").get_data(as_text=True)


def test_only_a_signed_in_user_makes_links_and_forged_ones_change_nothing(app, client):
    assert make_link(client).status_code == 401
    assert client.post("/devices/link", data={}).status_code == 400  # no CSRF token
    assert app.test_client().get("/device/forged-token").status_code == 410
    with app.app_context():
        assert registry.devices("alice") == []


def test_a_removed_device_is_signed_out_and_cannot_remove_itself_this_way(app, client):
    join(client, "alice")
    path = make_link(client).get_json()["url"].split("localhost", 1)[1]
    phone = app.test_client()
    phone.get(path)
    with app.app_context():
        laptop_id, phone_id = (d.id for d in registry.devices("alice"))
    assert client.post(f"/devices/{laptop_id}/remove", data={"csrf_token": CSRF}).status_code == 302
    assert "Your ID: alice" in client.get("/").get_data(as_text=True)  # not this way: that is Leave
    assert phone.post(f"/devices/{laptop_id}/remove", data={}).status_code == 400  # no CSRF token
    assert client.post(f"/devices/{phone_id}/remove", data={"csrf_token": CSRF}).status_code == 302
    assert "Your ID:" not in phone.get("/").get_data(as_text=True)
    assert not socket_client(app, phone).is_connected()
    assert "Your ID: alice" in client.get("/").get_data(as_text=True)


def test_removing_a_device_signs_its_open_pages_out_at_once(app, client):
    join(client, "alice")
    phone = app.test_client()
    phone.get(make_link(client).get_json()["url"].split("localhost", 1)[1])
    laptop_socket, phone_socket = socket_client(app, client), socket_client(app, phone)
    assert phone_socket.is_connected()
    with app.app_context():
        _, phone_id = (d.id for d in registry.devices("alice"))  # oldest first
    laptop_socket.get_received()
    assert client.post(f"/devices/{phone_id}/remove", data={"csrf_token": CSRF}).status_code == 302
    assert not phone_socket.is_connected()
    # A disconnected test client refuses get_received(); its queue holds what came before.
    assert {"name": "signed_out", "args": [{"reason": "removed"}], "namespace": "/"} in phone_socket.queue
    assert laptop_socket.is_connected()
    assert not any(event["name"] == "signed_out" for event in laptop_socket.get_received())
