"""Pages: join, leave, invite links, presence."""

from datetime import timedelta

import pytest

from chat import create_app
from chat.records import registry
from chat.state.memory import MemoryStore
from tests.support.app_clients import CSRF, join, socket_client


@pytest.fixture
def app(on_both_databases):
    """Names and devices are the records' rules: SQLite, then PostgreSQL."""
    return on_both_databases()


def test_start_page_asks_for_a_name(client):
    page = client.get("/").get_data(as_text=True)
    assert 'for="name"' in page and ">Your name<" in page
    assert ">Join<" in page
    assert "Your ID:" not in page


def test_join_shows_the_call_screen_and_invite_link(client):
    response = join(client, "Alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Your ID: alice" in page
    assert 'value="http://localhost/call/alice"' in page
    assert "mailto:?subject=Video%20call%20with%20alice" in page
    assert "http%3A//localhost/call/alice" in page  # the link is in the email body
    assert ">Copy link<" in page and ">Leave<" in page


def test_public_url_sets_the_invite_link():
    # The test client's host, localhost, is trusted too; the link still comes from PUBLIC_URL.
    app = create_app(
        {"APP_ENV": "testing", "PUBLIC_URL": "https://talk.example.org", "TRUSTED_HOSTS": ["localhost"]}
    )
    client = app.test_client()
    join(client, "alice")
    assert 'value="https://talk.example.org/call/alice"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("name", ["", "a b", "x" * 33, "<script>alert(1)</script>", "élise"])
def test_join_refuses_a_bad_name_and_says_what_is_allowed(app, client, name):
    response = join(client, name)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "1 to 32 characters" in page
    assert "<script>alert" not in page
    assert "Your ID:" not in page


def test_join_refuses_a_name_held_by_another_browser(app):
    first, second = app.test_client(), app.test_client()
    join(first, "alice")
    response = join(second, "ALICE")
    assert response.status_code == 409
    assert "registered to someone else" in response.get_data(as_text=True)
    assert "Your ID: alice" in first.get("/").get_data(as_text=True)
    assert "Your ID:" not in second.get("/").get_data(as_text=True)


def test_the_same_browser_joins_again(client):
    assert join(client, "alice").status_code == 302
    assert join(client, "alice").status_code == 302


def test_join_without_csrf_token_changes_nothing(app, client):
    response = client.post("/join", data={"name": "alice"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert app.extensions["chat.store"].holder("alice") is None


def test_join_with_a_wrong_csrf_token_changes_nothing(app, client):
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    response = client.post("/join", data={"name": "alice", "csrf_token": "forged"})
    assert response.status_code == 400
    assert app.extensions["chat.store"].holder("alice") is None


def test_invite_link_prefills_the_person_to_call(client):
    page = client.get("/call/Alice").get_data(as_text=True)
    assert "invited to a video call with <strong>alice</strong>" in page
    assert 'name="next" value="alice"' in page
    response = join(client, "bob", next_="alice")
    assert response.headers["Location"] == "/call/alice"
    page = client.get("/call/alice").get_data(as_text=True)
    assert "Your ID: bob" in page
    assert 'id="peer" name="peer"' in page and 'value="alice"' in page


def test_invite_link_with_a_bad_name_is_not_found(client):
    response = client.get("/call/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "not valid" in page
    assert "<img" not in page


def test_presence_says_who_is_online(app, client):
    assert client.get("/presence/alice").get_json() == {"ok": True, "name": "alice", "online": False}
    join(app.test_client(), "alice")
    assert client.get("/presence/Alice").get_json()["online"] is True
    assert client.get("/presence/bad%20name").status_code == 404


def test_leave_frees_the_name_at_once(app, client):
    join(client, "alice")
    response = client.post("/leave", data={"csrf_token": CSRF})
    assert response.status_code == 302
    assert "Your ID:" not in client.get("/").get_data(as_text=True)
    assert join(app.test_client(), "alice").status_code == 302


def test_an_old_copy_of_the_cookie_does_not_undo_a_leave(app, client):
    join(client, "alice")
    old_cookie = client.get_cookie("videocall_device").value
    client.post("/leave", data={"csrf_token": CSRF})
    # Another tab, or a request that raced the logout, still sends the old device key.
    late_tab = app.test_client()
    late_tab.set_cookie("videocall_device", old_cookie)
    assert "Your ID:" not in late_tab.get("/").get_data(as_text=True)
    assert not socket_client(app, late_tab).is_connected()
    assert app.extensions["chat.store"].holder("alice") is None
    # Leave gave the name up (its only device): joining again from that browser registers it anew.
    assert join(late_tab, "alice").status_code == 302
    assert "Your ID: alice" in late_tab.get("/").get_data(as_text=True)


def test_a_name_the_server_forgot_stays_with_its_browser(app, client):
    join(client, "alice")
    app.extensions["chat.store"] = MemoryStore(grace=app.config["GRACE_PERIOD"])  # a restart
    assert "Your ID: alice" in client.get("/").get_data(as_text=True)


def test_leave_needs_the_csrf_token(app, client):
    join(client, "alice")
    assert client.post("/leave", data={}).status_code == 400
    assert app.extensions["chat.store"].holder("alice") is not None


def test_a_registered_name_is_refused_to_another_browser_online_or_not(app, client):
    join(client, "alice")
    online = join(app.test_client(), "alice")
    store = app.extensions["chat.store"]
    store.release("alice", store.holder("alice"))  # she is offline, past her grace period
    offline = join(app.test_client(), "alice")
    assert online.status_code == offline.status_code == 409
    message = "That name is registered to someone else. Pick another one."
    assert message in online.get_data(as_text=True) and message in offline.get_data(as_text=True)
    assert "Your ID: alice" in client.get("/").get_data(as_text=True)  # still hers


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"APP_ENV": "production", "SECRET_KEY": None})


def test_development_without_a_secret_key_keeps_one_in_the_instance_folder(tmp_path):
    settings = {"APP_ENV": "development", "SECRET_KEY": None, "INSTANCE_PATH": str(tmp_path / "instance")}
    first = create_app(settings)
    kept = tmp_path / "instance" / "secret_key"
    assert kept.read_text().strip() == first.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert kept.stat().st_mode & 0o777 == 0o600
    client = first.test_client()
    join(client, "alice")
    again = create_app(settings)  # a restart of `make run`: the same key and records
    assert again.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    restarted = again.test_client()
    for name in ("session", "videocall_device"):
        restarted.set_cookie(name, client.get_cookie(name).value)
    assert "Your ID:" in restarted.get("/").get_data(as_text=True)
    other = create_app({**settings, "INSTANCE_PATH": str(tmp_path / "elsewhere")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_an_unknown_app_env_is_refused():
    with pytest.raises(RuntimeError, match="APP_ENV"):
        create_app({"APP_ENV": "staging"})


def test_give_up_needs_the_name_typed_and_then_frees_it_for_everyone(app, client):
    join(client, "alice")
    assert client.post("/give-up", data={"csrf_token": CSRF, "confirm": "bob"}).status_code == 302
    assert "Your ID: alice" in client.get("/").get_data(as_text=True)  # not confirmed: nothing changed
    assert client.post("/give-up", data={"confirm": "alice"}).status_code == 400  # no CSRF token
    assert client.post("/give-up", data={"csrf_token": CSRF, "confirm": "alice"}).status_code == 302
    assert "Your ID:" not in client.get("/").get_data(as_text=True)
    assert app.extensions["chat.store"].holder("alice") is None
    assert join(app.test_client(), "alice").status_code == 302  # free for someone else


def test_leave_on_one_of_two_devices_keeps_the_name_on_the_other(app, client):
    join(client, "alice")
    with app.app_context():
        _, key = registry.redeem_link(registry.create_link("alice"), "Phone", timedelta(days=90))
    phone = app.test_client()
    phone.set_cookie("videocall_device", key)
    assert "Your ID: alice" in phone.get("/").get_data(as_text=True)
    assert client.post("/leave", data={"csrf_token": CSRF}).status_code == 302
    assert "Your ID:" not in client.get("/").get_data(as_text=True)
    assert "Your ID: alice" in phone.get("/").get_data(as_text=True)
    assert join(app.test_client(), "alice").status_code == 409  # still registered, to the phone
