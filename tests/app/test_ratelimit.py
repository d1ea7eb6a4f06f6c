"""Rate limits on joining and calling: a clear refusal, and nothing else changes.

The Limiter itself, against a clock of its own, is tests/unit/test_limiter.py.
"""

import pytest

from chat import create_app
from tests.support.app_clients import join, socket_client


def test_the_limits_storage_is_this_process_memory_by_default(app):
    from chat.state.limit_storage import LazyMemoryStorage
    from config import Config

    assert Config.RATE_LIMIT_STORAGE is None and Config.REDIS_URL is None  # unless the environment says
    assert isinstance(app.extensions["chat.limiter"].storage, LazyMemoryStorage)


@pytest.fixture
def strict_app():
    return create_app(
        {"APP_ENV": "testing", "JOIN_PER_MINUTE": 2, "CALLS_PER_MINUTE": 2, "CALLS_PER_MINUTE_PER_ADDRESS": 3}
    )


def test_too_many_joins_from_one_address_are_refused(strict_app):
    assert join(strict_app.test_client(), "ann").status_code == 302
    assert join(strict_app.test_client(), "ben").status_code == 302
    response = join(strict_app.test_client(), "cat")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert strict_app.extensions["chat.store"].holder("cat") is None
    elsewhere = strict_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert join(elsewhere, "dan").status_code == 302  # another address has its own count


def connected(app, name, address="127.0.0.1"):
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    assert join(http, name).status_code == 302
    sio = socket_client(app, http)
    sio.get_received()
    return sio


def test_too_many_calls_are_refused_per_user_and_per_address():
    app = create_app({"APP_ENV": "testing", "CALLS_PER_MINUTE": 2, "CALLS_PER_MINUTE_PER_ADDRESS": 3})
    bob = connected(app, "bob", "192.0.2.1")
    eve = connected(app, "eve", "192.0.2.1")
    carl = connected(app, "carl", "198.51.100.9")
    for _ in range(2):
        assert bob.emit("call", {"to": "nobody"}, callback=True)["error"] == "offline"
    refused = bob.emit("call", {"to": "carl"}, callback=True)
    assert refused == {
        "ok": False,
        "error": "rate_limited",
        "message": "Too many attempts. Wait a minute and try again.",
    }
    assert carl.get_received() == []  # not rung
    # Eve shares bob's address: one more call is allowed there, then none.
    assert eve.emit("call", {"to": "nobody"}, callback=True)["error"] == "offline"
    assert eve.emit("call", {"to": "carl"}, callback=True)["error"] == "rate_limited"
    # Carl, elsewhere, is not affected.
    assert carl.emit("call", {"to": "bob"}, callback=True)["ok"]
    for sio in (bob, eve, carl):
        sio.disconnect()


def test_ringing_one_person_again_and_again_is_refused():
    app = create_app({"APP_ENV": "testing", "REPEAT_CALLS": 2, "REPEAT_CALL_WINDOW": 600})
    mallory = connected(app, "mallory", "192.0.2.1")
    alice = connected(app, "alice", "198.51.100.9")
    bob = connected(app, "bob", "203.0.113.5")
    for _ in range(2):
        call_id = mallory.emit("call", {"to": "alice"}, callback=True)["call_id"]
        assert mallory.emit("cancel", {"call_id": call_id}, callback=True)["ok"]
    alice.get_received()
    refused = mallory.emit("call", {"to": "alice"}, callback=True)
    assert refused["ok"] is False and refused["error"] == "rate_limited"
    assert "alice" in refused["message"]
    assert alice.get_received() == []  # not rung, so not busy
    # Another name from the same address may not ring alice either.
    mallory2 = connected(app, "mallory2", "192.0.2.1")
    assert mallory2.emit("call", {"to": "alice"}, callback=True)["error"] == "rate_limited"
    # Mallory may still call someone else, and someone elsewhere may call alice.
    assert mallory.emit("call", {"to": "bob"}, callback=True)["ok"]
    carol = connected(app, "carol", "203.0.113.77")
    assert carol.emit("call", {"to": "alice"}, callback=True)["ok"]
    assert [e["name"] for e in alice.get_received()] == ["ring"]
    for sio in (mallory, mallory2, alice, bob, carol):
        sio.disconnect()


def test_with_redis_the_limits_are_shared_but_the_signal_limits_stay_in_the_process(redis_server):
    from limits.storage import RedisStorage

    from chat.state.limit_storage import LazyMemoryStorage

    app = create_app({"APP_ENV": "testing", "REDIS_URL": redis_server.url})
    assert isinstance(app.extensions["chat.limiter"].storage, RedisStorage)
    assert isinstance(app.extensions["chat.local_limiter"].storage, LazyMemoryStorage)
