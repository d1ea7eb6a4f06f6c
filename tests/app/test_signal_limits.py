"""Limits on signals: a rate with bursts per user, bytes per call, and the door for a flood."""

import logging

import pytest

from chat import create_app
from tests.support.app_clients import events, join, socket_client
from tests.support.clock import Clock

OFFER = {"type": "offer", "sdp": "v=0\r\n" + "a=x-filler:" + "y" * 500 + "\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}
BURST = 10


@pytest.fixture
def clock(monkeypatch):
    """Time stands still for limits' memory storage (at the start of its windows) unless a test moves it."""
    from chat.state import limit_storage

    fake = Clock()
    fake.now = 36_000_000.0
    monkeypatch.setattr(limit_storage, "time", fake)
    return fake


def make_app(**settings):
    config = {
        "APP_ENV": "testing",
        "SIGNALS_PER_SECOND": 1,
        "SIGNAL_BURST": BURST,  # so a window of 10 s
        "SIGNAL_STRIKES": 5,
        **settings,
    }
    return create_app(config)


@pytest.fixture
def people(clock):
    """make(**settings) -> connect(name): logged-in clients of a fresh app."""
    clients = []

    def make(**settings):
        app = make_app(**settings)

        def connect(name):
            http = app.test_client()
            assert join(http, name).status_code == 302
            sio = socket_client(app, http)
            sio.get_received()
            clients.append(sio)
            return sio

        return app, connect

    yield make
    for sio in clients:
        if sio.is_connected():
            sio.disconnect()


def send(sio, event, payload=None):
    return sio.emit(event, payload, callback=True)


def in_call(caller, callee, name):
    call_id = send(caller, "call", {"to": name})["call_id"]
    assert send(callee, "accept", {"call_id": call_id})["ok"]
    caller.get_received()
    callee.get_received()
    return call_id


def test_a_burst_past_the_limit_is_refused_and_nobody_else_is_affected(people, clock):
    _, connect = people()
    alice, bob, carol, dave = (connect(n) for n in ("alice", "bob", "carol", "dave"))
    call_id = in_call(bob, alice, "alice")
    other = in_call(carol, dave, "dave")
    signal = {"call_id": call_id, "candidate": CANDIDATE}
    assert [send(bob, "signal", signal)["ok"] for _ in range(BURST)] == [True] * BURST
    refused = send(bob, "signal", signal)
    assert refused["ok"] is False and refused["error"] == "rate_limited"
    assert "signals" in refused["message"]
    assert len(events(alice, "signal")) == BURST  # the refused one was not relayed
    # The peer's own signals, and another call's, are counted apart.
    assert send(alice, "signal", {"call_id": call_id, "candidate": None}) == {"ok": True}
    assert send(carol, "signal", {"call_id": other, "candidate": None}) == {"ok": True}
    assert events(bob, "signal") == [{"call_id": call_id, "from": "alice", "candidate": None, "epoch": 0}]
    assert len(events(dave, "signal")) == 1
    assert bob.is_connected()
    # Once the window has passed, bob may send again.
    clock.now += 20
    assert send(bob, "signal", signal) == {"ok": True}


def test_the_bytes_relayed_per_call_are_limited(people):
    _, connect = people(SIGNAL_BURST=1000, SIGNAL_BYTES_PER_CALL=2000)
    alice, bob = connect("alice"), connect("bob")
    call_id = in_call(bob, alice, "alice")
    offer = {"call_id": call_id, "description": OFFER}  # about 600 bytes relayed
    assert [send(bob, "signal", offer)["ok"] for _ in range(3)] == [True] * 3
    refused = send(bob, "signal", offer)
    assert refused["ok"] is False and refused["error"] == "rate_limited"
    assert "call" in refused["message"]
    assert len(events(alice, "signal")) == 3
    # Each party has its own budget, and a new call a new one.
    assert send(alice, "signal", {"call_id": call_id, "description": {**OFFER, "type": "answer"}}) == {
        "ok": True
    }
    assert send(bob, "hangup", {"call_id": call_id})["ok"]
    again = in_call(bob, alice, "alice")
    assert send(bob, "signal", {"call_id": again, "description": OFFER}) == {"ok": True}


def test_a_client_that_keeps_sending_is_disconnected(people, caplog):
    _, connect = people()
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    call_id = in_call(bob, alice, "alice")
    signal = {"call_id": call_id, "candidate": CANDIDATE}
    for _ in range(BURST):
        assert send(bob, "signal", signal)["ok"]
    caplog.set_level(logging.WARNING, logger="chat.signaling.relay")
    refusals = 0
    while bob.is_connected() and refusals < 20:
        ack = send(bob, "signal", signal)
        assert ack is None or ack["error"] == "rate_limited"
        refusals += 1
    assert not bob.is_connected()
    assert refusals == 5 + 1  # SIGNAL_STRIKES refusals are tolerated, the next one closes
    closing = [r.getMessage() for r in caplog.records if "kept sending" in r.getMessage()]
    assert len(closing) == 1 and "bob" in closing[0]
    assert "candidate" not in caplog.text and "udp" not in caplog.text  # never the signal itself
    # The peer's other events still work, and so does everyone else.
    assert send(alice, "watch", {"name": "carol"}) == {"ok": True, "name": "carol", "online": True}
    assert send(alice, "hangup", {"call_id": call_id})["ok"]
    assert send(carol, "call", {"to": "alice"})["ok"]


def test_a_client_that_heeds_the_refusal_stays(people, clock):
    _, connect = people()
    alice, bob = connect("alice"), connect("bob")
    call_id = in_call(bob, alice, "alice")
    signal = {"call_id": call_id, "candidate": CANDIDATE}
    for _ in range(3):  # three rounds of a full burst and a few signals too many
        for _ in range(BURST):
            assert send(bob, "signal", signal)["ok"]
        for _ in range(3):
            assert send(bob, "signal", signal)["error"] == "rate_limited"
        clock.now += 20
    assert bob.is_connected()


def test_testing_and_live_settings_keep_signals_unthrottled_where_they_relay_a_lot():
    from benchmarks.servers import APP_ENV

    assert int(APP_ENV["SIGNAL_BYTES_PER_CALL"]) >= 1024**3
