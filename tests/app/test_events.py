"""The Socket.IO protocol: every event, every refusal, and what bystanders get."""

import random

import pytest

from chat.records import registry
from tests.support.app_clients import CSRF, events, join, socket_client, wait_for

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}


def send(sio, event, payload=None):
    return sio.emit(event, payload, callback=True)


def refused(ack, code):
    assert ack["ok"] is False, ack
    assert ack["error"] == code, ack
    assert isinstance(ack["message"], str) and ack["message"]


@pytest.fixture
def trio(connect):
    """alice, bob and carol online, with their queues emptied."""
    clients = [connect(name) for name in ("alice", "bob", "carol")]
    for sio in clients:
        sio.get_received()
    return clients


def ringing(caller, to="alice"):
    ack = send(caller, "call", {"to": to})
    assert ack["ok"], ack
    return ack["call_id"]


def in_call(bob, alice):
    call_id = ringing(bob, to="alice")
    assert send(alice, "accept", {"call_id": call_id})["ok"]
    bob.get_received()
    alice.get_received()
    return call_id


# Connecting


def test_connect_without_login_is_refused(app):
    sio = socket_client(app)
    assert not sio.is_connected()


def test_connect_says_hello_with_the_name(connect):
    alice = connect("alice")
    assert alice.is_connected()
    assert events(alice, "hello") == [{"name": "alice", "call": None}]


def test_a_browser_whose_name_was_given_up_cannot_connect(app, connect):
    alice = connect("alice")
    http = alice.http
    alice.disconnect()
    with app.app_context():
        registry.give_up("alice")  # from another device of hers (POST /give-up there)
    store = app.extensions["chat.store"]
    store.release("alice", store.holder("alice"))
    stale = socket_client(app, http)
    assert not stale.is_connected()
    connect("alice")  # the name is free: someone else registers it
    assert not socket_client(app, http).is_connected()


def test_reconnect_inside_the_grace_period_keeps_the_name(app, connect):
    alice = connect("alice")
    alice.disconnect()
    assert join(app.test_client(), "alice").status_code == 409
    alice.connect()
    assert alice.is_connected()
    assert events(alice, "hello")[-1]["name"] == "alice"


def test_after_the_grace_period_the_name_is_offline_and_still_hers(app, connect):
    alice = connect("alice")
    bob = connect("bob")
    assert send(bob, "watch", {"name": "alice"}) == {"ok": True, "name": "alice", "online": True}
    bob.get_received()
    alice.disconnect()
    assert wait_for(bob, "presence") == {"name": "alice", "online": False}
    assert app.extensions["chat.store"].holder("alice") is None
    assert join(app.test_client(), "alice").status_code == 409  # registered to her browser
    assert join(alice.http, "alice").status_code == 302


def test_every_tab_of_a_user_rings_and_one_answer_stops_all(connect):
    alice = connect("alice")
    alice_tab2 = connect("alice", http=alice.http)
    bob = connect("bob")
    for sio in (alice, alice_tab2, bob):
        sio.get_received()
    call_id = ringing(bob)
    assert events(alice, "ring") == [{"call_id": call_id, "from": "bob"}]
    assert events(alice_tab2, "ring") == [{"call_id": call_id, "from": "bob"}]
    send(alice_tab2, "accept", {"call_id": call_id})
    assert events(alice, "call_accepted") == [{"call_id": call_id}]
    assert events(bob, "call_accepted") == [{"call_id": call_id}]


# Calling


def test_a_call_rings_the_callee_only(trio):
    alice, bob, carol = trio
    ack = send(bob, "call", {"to": "Alice"})
    assert ack == {"ok": True, "call_id": ack["call_id"], "peer": "alice"}
    assert events(alice) == [{"call_id": ack["call_id"], "from": "bob"}]
    assert events(bob) == []
    assert events(carol) == []


def test_the_sender_is_the_socket_user_not_the_payload(trio):
    alice, bob, carol = trio
    ack = send(bob, "call", {"to": "alice", "from": "carol"})
    assert events(alice, "ring") == [{"call_id": ack["call_id"], "from": "bob"}]
    send(alice, "accept", {"call_id": ack["call_id"]})
    bob.get_received()
    send(alice, "signal", {"call_id": ack["call_id"], "description": OFFER, "from": "carol", "extra": 1})
    assert events(bob, "signal") == [
        {"call_id": ack["call_id"], "from": "alice", "description": OFFER, "epoch": 0}
    ]
    assert events(carol) == []


def test_calling_yourself_is_refused(trio):
    alice, bob, carol = trio
    refused(send(alice, "call", {"to": "alice"}), "self_call")
    assert events(alice) == events(bob) == events(carol) == []


def test_calling_someone_offline_is_refused(trio):
    alice, bob, carol = trio
    refused(send(bob, "call", {"to": "nobody"}), "offline")
    assert events(alice) == events(carol) == []


def test_calling_someone_in_a_call_is_busy(trio):
    alice, bob, carol = trio
    call_id = ringing(bob)
    alice.get_received()
    refused(send(carol, "call", {"to": "alice"}), "busy")
    refused(send(carol, "call", {"to": "bob"}), "busy")
    refused(send(alice, "call", {"to": "carol"}), "already_in_call")
    # Each busy callee is told that carol's call went into its missed calls, and nothing else.
    assert events(alice) == events(bob) == [{"from": "carol"}]
    assert events(carol) == []
    assert send(alice, "accept", {"call_id": call_id})["ok"]


def test_accept_tells_both_parties(trio):
    alice, bob, carol = trio
    call_id = ringing(bob)
    alice.get_received()
    ack = send(alice, "accept", {"call_id": call_id})
    assert ack == {
        "ok": True,
        "call": {"call_id": call_id, "peer": "bob", "role": "callee", "state": "active", "epoch": 0},
    }
    assert events(bob) == [{"call_id": call_id}]
    assert events(alice) == [{"call_id": call_id}]
    assert events(carol) == []


@pytest.mark.parametrize(
    ("event", "who", "reason"),
    [("decline", "alice", "declined"), ("cancel", "bob", "cancelled"), ("hangup", "bob", "cancelled")],
)
def test_a_ringing_call_can_be_refused_or_withdrawn(trio, event, who, reason):
    alice, bob, carol = trio
    call_id = ringing(bob)
    alice.get_received()
    sender = alice if who == "alice" else bob
    assert send(sender, event, {"call_id": call_id}) == {"ok": True}
    ended = {"call_id": call_id, "reason": reason, "by": who}
    assert events(alice, "call_ended") == [ended]
    assert events(bob, "call_ended") == [ended]
    assert events(carol) == []
    assert ringing(bob)  # both are free again


def test_only_the_callee_accepts(trio):
    alice, bob, carol = trio
    call_id = ringing(bob)
    refused(send(bob, "accept", {"call_id": call_id}), "not_allowed")
    refused(send(carol, "accept", {"call_id": call_id}), "no_such_call")
    refused(send(carol, "hangup", {"call_id": call_id}), "no_such_call")
    refused(send(alice, "cancel", {"call_id": call_id}), "not_allowed")
    assert events(carol) == []
    assert send(alice, "accept", {"call_id": call_id})["ok"]


def test_an_unanswered_call_times_out(trio):
    alice, bob, carol = trio
    call_id = ringing(bob)
    ended = {"call_id": call_id, "reason": "no_answer", "by": None}
    assert wait_for(bob, "call_ended") == ended
    assert wait_for(alice, "call_ended") == ended
    assert events(carol) == []
    refused(send(alice, "accept", {"call_id": call_id}), "no_such_call")


def test_an_accepted_call_does_not_time_out(trio):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    with pytest.raises(AssertionError, match="no 'call_ended'"):
        wait_for(bob, "call_ended", timeout=1.0)
    assert send(bob, "signal", {"call_id": call_id, "candidate": CANDIDATE})["ok"]


def test_hangup_ends_the_call_on_both_sides(trio):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    assert send(alice, "hangup", {"call_id": call_id}) == {"ok": True}
    ended = {"call_id": call_id, "reason": "hangup", "by": "alice"}
    assert events(bob) == [ended]
    assert events(alice) == [ended]
    assert events(carol) == []
    refused(send(bob, "signal", {"call_id": call_id, "candidate": CANDIDATE}), "no_such_call")


def test_a_failed_call_tells_both_parties(trio):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    assert send(bob, "hangup", {"call_id": call_id, "failed": True}) == {"ok": True}
    ended = {"call_id": call_id, "reason": "failed", "by": "bob"}
    assert events(alice) == [ended]
    assert events(bob) == [ended]
    assert events(carol) == []


# Relaying


def test_sdp_and_ice_are_relayed_to_the_peer_only(trio):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    assert send(bob, "signal", {"call_id": call_id, "description": OFFER}) == {"ok": True}
    assert send(bob, "signal", {"call_id": call_id, "candidate": CANDIDATE, "epoch": 3}) == {"ok": True}
    assert send(bob, "signal", {"call_id": call_id, "candidate": None}) == {"ok": True}
    candidate = {**CANDIDATE, "usernameFragment": None}
    assert events(alice) == [
        {"call_id": call_id, "from": "bob", "description": OFFER, "epoch": 0},
        {"call_id": call_id, "from": "bob", "candidate": candidate, "epoch": 3},
        {"call_id": call_id, "from": "bob", "candidate": None, "epoch": 0},
    ]
    assert events(bob) == []
    assert events(carol) == []


def test_a_failure_inside_a_handler_is_an_internal_error_and_the_socket_stays(app, trio, monkeypatch, caplog):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    store = app.extensions["chat.store"]
    working = store.relay

    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(store, "relay", broken)
    refused(send(bob, "signal", {"call_id": call_id, "description": OFFER}), "internal")
    assert "signal failed" in caplog.text
    monkeypatch.setattr(store, "relay", working)
    assert bob.is_connected()
    assert send(bob, "signal", {"call_id": call_id, "description": OFFER})["ok"]
    assert len(events(alice, "signal")) == 1


def test_relay_before_accept_is_refused(trio):
    alice, bob, carol = trio
    call_id = ringing(bob)
    alice.get_received()
    refused(send(bob, "signal", {"call_id": call_id, "description": OFFER}), "not_active")
    assert events(alice) == events(carol) == []


def test_a_bystander_cannot_relay_into_a_call(trio):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    refused(send(carol, "signal", {"call_id": call_id, "description": OFFER}), "no_such_call")
    assert events(alice) == events(bob) == []


def test_move_restarts_the_call_on_a_new_page(connect):
    alice = connect("alice")
    bob = connect("bob")
    call_id = in_call(bob, alice)
    alice_new = connect("alice", http=alice.http)
    hello = events(alice_new, "hello")[0]
    assert hello["call"] == {
        "call_id": call_id,
        "peer": "bob",
        "role": "callee",
        "state": "active",
        "epoch": 0,
    }
    ack = send(alice_new, "move", {"call_id": call_id})
    assert ack["ok"] and ack["call"]["epoch"] == 1
    moved = {"call_id": call_id, "by": "alice", "epoch": 1}
    assert events(bob, "call_moved") == [moved]
    assert events(alice, "call_moved") == [moved]


def test_a_peer_back_inside_the_grace_period_is_still_in_the_call(trio):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    alice.disconnect()
    alice.connect()
    hello = events(alice, "hello")[-1]
    assert hello["call"]["call_id"] == call_id
    assert send(bob, "signal", {"call_id": call_id, "candidate": CANDIDATE})["ok"]
    assert events(alice, "signal")[0]["from"] == "bob"
    with pytest.raises(AssertionError):
        wait_for(bob, "call_ended", timeout=1.0)


def test_a_peer_gone_past_the_grace_period_ends_the_call(trio):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    alice.disconnect()
    assert wait_for(bob, "call_ended") == {"call_id": call_id, "reason": "gone", "by": "alice"}
    assert events(carol) == []
    assert ringing(bob, to="carol")  # bob is not left busy


def test_leave_ends_the_call_and_closes_every_socket(connect):
    alice = connect("alice")
    alice_tab2 = connect("alice", http=alice.http)
    bob = connect("bob")
    call_id = in_call(bob, alice)
    response = alice.http.post("/leave", data={"csrf_token": CSRF})
    assert response.status_code == 302
    assert events(bob, "call_ended") == [{"call_id": call_id, "reason": "left", "by": "alice"}]
    assert not alice.is_connected()
    assert not alice_tab2.is_connected()
    # A disconnected test client refuses get_received(); its queue still holds
    # what arrived before the server closed it.
    assert {"name": "signed_out", "args": [{"reason": "left"}], "namespace": "/"} in alice_tab2.queue


def test_watch_follows_one_name_at_a_time(app, connect):
    """A socket that switches its watch from alice to carol hears no more of alice, and hears carol.

    dave watches alice throughout: what he hears shows that alice's presence
    was announced while bob, watching carol, heard none of it.
    """
    bob, dave = connect("bob"), connect("dave")
    assert send(bob, "watch", {"name": "Alice"}) == {"ok": True, "name": "alice", "online": False}
    assert send(dave, "watch", {"name": "alice"}) == {"ok": True, "name": "alice", "online": False}
    bob.get_received()
    # While bob watches alice, her comings and goings reach him.
    alice_http = app.test_client()
    assert join(alice_http, "alice").status_code == 302
    assert events(bob, "presence") == [{"name": "alice", "online": True}]
    assert alice_http.post("/leave", data={"csrf_token": CSRF}).status_code == 302
    assert events(bob, "presence") == [{"name": "alice", "online": False}]
    assert events(dave, "presence") == [{"name": "alice", "online": True}, {"name": "alice", "online": False}]

    assert send(bob, "watch", {"name": "carol"}) == {"ok": True, "name": "carol", "online": False}
    # alice comes back with a socket, which goes: the grace period frees her name.
    alice = connect("alice")
    assert {"name": "alice", "online": True} in events(dave, "presence")
    alice.disconnect()
    assert wait_for(dave, "presence") == {"name": "alice", "online": False}
    assert app.extensions["chat.store"].holder("alice") is None
    # And she joins (her browser holds the name) and leaves by the form once more.
    alice_http = alice.http
    assert join(alice_http, "alice").status_code == 302
    assert alice_http.post("/leave", data={"csrf_token": CSRF}).status_code == 302
    assert events(dave, "presence") == [{"name": "alice", "online": True}, {"name": "alice", "online": False}]
    # carol joins: bob hears that, and nothing of alice since he switched.
    assert join(app.test_client(), "carol").status_code == 302
    assert events(bob, "presence") == [{"name": "carol", "online": True}]
    assert events(dave, "presence") == []


# Bad input


BAD_PAYLOADS = [
    ("call", None, "invalid_payload"),
    ("call", "alice", "invalid_payload"),
    ("call", ["alice"], "invalid_payload"),
    ("call", {}, "invalid_name"),
    ("call", {"to": 5}, "invalid_name"),
    ("call", {"to": "<b>x</b>"}, "invalid_name"),
    ("call", {"to": "x" * 1000}, "invalid_name"),
    ("accept", {}, "invalid_payload"),
    ("accept", {"call_id": 7}, "invalid_payload"),
    ("accept", {"call_id": "x" * 100}, "invalid_payload"),
    ("accept", {"call_id": "nope"}, "no_such_call"),
    ("decline", {"call_id": "nope"}, "no_such_call"),
    ("cancel", {"call_id": "nope"}, "no_such_call"),
    ("hangup", {"call_id": "nope"}, "no_such_call"),
    ("move", {"call_id": "nope"}, "no_such_call"),
    ("hangup", {"call_id": "CALL", "failed": "yes"}, "invalid_payload"),
    ("watch", {"name": ""}, "invalid_name"),
    ("watch", 3, "invalid_payload"),
    ("signal", {"call_id": "CALL"}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": "v=0"}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": {"type": "evil", "sdp": ""}}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": {"type": "offer", "sdp": 5}}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": {"type": {}}}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": {"type": ["offer"]}}, "invalid_payload"),
    (
        "signal",
        {"call_id": "CALL", "candidate": {"candidate": "c", "sdpMLineIndex": True}},
        "invalid_payload",
    ),
    ("call", {"to": {}}, "invalid_name"),
    ("watch", {"name": ["alice"]}, "invalid_name"),
    ("accept", {"call_id": {}}, "invalid_payload"),
    (
        "signal",
        {"call_id": "CALL", "description": {"type": "offer", "sdp": "a" * 40000}},
        "payload_too_large",
    ),
    ("signal", {"call_id": "CALL", "candidate": "candidate:1"}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "candidate": {"candidate": "c" * 5000}}, "payload_too_large"),
    ("signal", {"call_id": "CALL", "candidate": {"candidate": "c", "sdpMid": ["0"]}}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "candidate": {"candidate": "c", "sdpMLineIndex": -1}}, "invalid_payload"),
    (
        "signal",
        {"call_id": "CALL", "candidate": {"candidate": "c", "usernameFragment": 1}},
        "invalid_payload",
    ),
    ("signal", {"call_id": "CALL", "candidate": CANDIDATE, "epoch": "1"}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "candidate": CANDIDATE, "epoch": True}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": OFFER, "candidate": CANDIDATE}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": {"type": "rollback"}}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": {"type": "pranswer", "sdp": "v=0"}}, "invalid_payload"),
    ("signal", {"call_id": "CALL", "description": {"type": "offer", "sdp": ""}}, "invalid_payload"),
    # The limits count UTF-8 bytes: 700 euro signs are 2,100 bytes, over the candidate's 2 KiB.
    ("signal", {"call_id": "CALL", "candidate": {"candidate": "€" * 700}}, "payload_too_large"),
    (
        "signal",
        {"call_id": "CALL", "description": {"type": "offer", "sdp": "€" * 11000}},
        "payload_too_large",
    ),
    ("no_such_event", {}, "unknown_event"),
]


@pytest.mark.parametrize(("event", "payload", "code"), BAD_PAYLOADS)
def test_bad_input_is_refused_and_changes_nothing(trio, event, payload, code):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    if isinstance(payload, dict) and payload.get("call_id") == "CALL":
        payload = {**payload, "call_id": call_id}
    refused(send(bob, event, payload), code)
    assert events(alice) == events(carol) == []
    # The call goes on as before.
    assert send(bob, "signal", {"call_id": call_id, "candidate": CANDIDATE})["ok"]
    assert len(events(alice, "signal")) == 1


def _fuzzed(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value, nested at most three deep, of the kinds the fields of this protocol hold."""
    kinds = ["none", "bool", "int", "float", "str", "field"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**70), 1023, 1024])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e308, float("inf")])
    if kind == "str":
        return rng.choice(["", "alice", "offer", "x" * 70000, "é\u0000\ud7ff", "candidate:1", "../.."])
    if kind == "field":  # a known key's value in the wrong place
        return {rng.choice(FIELDS): _fuzzed(rng, depth + 1)}
    if kind == "list":
        return [_fuzzed(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(FIELDS): _fuzzed(rng, depth + 1) for _ in range(rng.randint(0, 4))}


FIELDS = ["to", "call_id", "name", "failed", "epoch", "description", "candidate", "type", "sdp"]
FIELDS += ["sdpMid", "sdpMLineIndex", "usernameFragment", "from"]
EVENTS = ["call", "cancel", "accept", "decline", "hangup", "signal", "move", "watch"]


def test_fuzzed_payloads_get_a_refusal_never_an_internal_error(trio, caplog):
    alice, bob, carol = trio
    call_id = in_call(bob, alice)
    rng = random.Random(20261202)
    for _ in range(3000):
        payload = _fuzzed(rng)
        if isinstance(payload, dict) and rng.random() < 0.5:
            payload["call_id"] = call_id
        event = rng.choice(EVENTS)
        if event in ("hangup", "cancel", "decline", "move"):  # these could end or move the call
            continue
        ack = send(bob, event, payload)
        assert ack["ok"] is True or ack["error"] != "internal", (event, payload, ack)
    assert "failed" not in caplog.text
    assert bob.is_connected()
    assert send(bob, "signal", {"call_id": call_id, "candidate": CANDIDATE})["ok"]
