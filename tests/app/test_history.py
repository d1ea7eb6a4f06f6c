"""Missed calls and the call history over Socket.IO, on SQLite and on a real PostgreSQL."""

import time

import pytest
import sqlalchemy

from chat.extensions import db
from chat.records.models import CallRecord
from tests.support.app_clients import CSRF, events, join, socket_client, wait_for


@pytest.fixture
def app(on_both_databases):
    return on_both_databases(HISTORY_PER_MINUTE=5)


def send(sio, event, payload=None):
    return sio.emit(event, payload if payload is not None else {}, callback=True)


def registered(app, name):
    """A browser (Flask test client) that joined as `name` and is offline now: no socket, grace over."""
    http = app.test_client()
    assert join(http, name).status_code == 302
    deadline = time.monotonic() + 5
    while app.extensions["chat.store"].holder(name) is not None:
        assert time.monotonic() < deadline, f"{name} is still online"
        time.sleep(0.05)
    return http


def rows(app):
    with app.app_context():
        return db.session.scalar(sqlalchemy.select(sqlalchemy.func.count()).select_from(CallRecord))


def test_a_call_to_someone_away_is_a_missed_call_they_see_and_can_dismiss(app, connect):
    alice_browser = registered(app, "alice")
    bob = connect("bob")
    ack = send(bob, "call", {"to": "alice"})
    assert ack["ok"] is False and ack["error"] == "offline"
    assert ack["message"] == "alice is not online. If the name is registered, alice will see that you called."

    alice = socket_client(app, alice_browser)
    listing = send(alice, "history")
    assert listing["ok"] is True
    (missed,) = listing["missed"]
    assert (missed["peer"], missed["direction"], missed["outcome"]) == ("bob", "incoming", "missed")
    assert missed["at"].endswith("Z") and missed["duration"] is None
    assert listing["calls"] == [missed]
    assert send(bob, "history")["calls"] == [{**missed, "direction": "outgoing", "peer": "alice"}]

    other_tab = socket_client(app, alice_browser)
    other_tab.get_received()
    assert send(alice, "seen_missed") == {"ok": True}
    assert events(other_tab, "missed_seen") == [{}]
    assert send(alice, "history")["missed"] == []
    assert len(send(alice, "history")["calls"]) == 1  # still in the history


def test_an_unknown_name_gets_the_same_answer_and_no_record(app, connect):
    bob = connect("bob")
    ack = send(bob, "call", {"to": "nobody"})
    assert ack["error"] == "offline"
    same = "nobody is not online. If the name is registered, nobody will see that you called."
    assert ack["message"] == same
    assert rows(app) == 0
    connect("nobody")  # someone registers it now: the call before is not theirs
    assert send(bob, "history")["calls"] == []


def test_every_end_of_a_call_is_in_both_histories(app, connect):
    alice, bob = connect("alice"), connect("bob")
    outcomes = []

    call_id = send(bob, "call", {"to": "alice"})["call_id"]
    assert send(alice, "accept", {"call_id": call_id})["ok"]
    time.sleep(1.1)
    assert send(bob, "hangup", {"call_id": call_id})["ok"]
    outcomes.append("answered")

    call_id = send(bob, "call", {"to": "alice"})["call_id"]
    assert send(alice, "decline", {"call_id": call_id})["ok"]
    outcomes.append("declined")

    call_id = send(bob, "call", {"to": "alice"})["call_id"]
    assert send(bob, "cancel", {"call_id": call_id})["ok"]
    outcomes.append("cancelled")

    call_id = send(alice, "call", {"to": "bob"})["call_id"]
    assert send(bob, "accept", {"call_id": call_id})["ok"]
    assert send(alice, "hangup", {"call_id": call_id, "failed": True})["ok"]
    outcomes.append("failed")

    alice.get_received()
    send(bob, "call", {"to": "alice"})  # rings out: RING_TIMEOUT is 0.5 s
    assert wait_for(alice, "missed_call") == {"from": "bob"}
    outcomes.append("missed")

    calls = send(alice, "history")["calls"]
    assert [c["outcome"] for c in calls] == outcomes[::-1]  # newest first
    assert [c["direction"] for c in calls] == ["incoming", "outgoing", "incoming", "incoming", "incoming"]
    assert calls[4]["duration"] >= 1 and calls[1]["duration"] >= 0  # answered, then failed
    assert [calls[i]["duration"] for i in (0, 2, 3)] == [None, None, None]
    assert [c["outcome"] for c in send(bob, "history")["calls"]] == outcomes[::-1]
    assert [m["outcome"] for m in send(alice, "history")["missed"]] == ["missed"]


def test_a_busy_callee_gets_a_missed_call(app, connect):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    call_id = send(bob, "call", {"to": "alice"})["call_id"]
    assert send(alice, "accept", {"call_id": call_id})["ok"]
    ack = send(carol, "call", {"to": "alice"})
    assert ack["error"] == "busy"
    assert ack["message"] == "alice is in another call and will see that you called."
    (missed,) = send(alice, "history")["missed"]
    assert (missed["peer"], missed["outcome"]) == ("carol", "missed")


def test_history_reads_are_limited_and_a_bad_payload_changes_nothing(app, connect):
    alice = connect("alice")
    assert send(alice, "history", [1, 2])["error"] == "invalid_payload"
    for _ in range(4):
        assert send(alice, "history")["ok"]
    assert send(alice, "seen_missed")["ok"]  # the fifth of HISTORY_PER_MINUTE
    ack = send(alice, "history")
    assert (ack["ok"], ack["error"]) == (False, "rate_limited")
    bob = connect("bob")
    assert send(bob, "history")["ok"]  # per user


def test_a_database_that_fails_loses_the_record_not_the_call(app, connect, caplog):
    alice, bob = connect("alice"), connect("bob")
    call_id = send(bob, "call", {"to": "alice"})["call_id"]
    assert send(alice, "accept", {"call_id": call_id})["ok"]
    with app.app_context():
        db.session.execute(sqlalchemy.text("DROP TABLE calls"))
        db.session.commit()
    alice.get_received()
    assert send(bob, "hangup", {"call_id": call_id}) == {"ok": True}
    assert events(alice, "call_ended") == [{"call_id": call_id, "reason": "hangup", "by": "bob"}]
    assert "the database did not answer: " in caplog.text
    ack = send(alice, "history")
    assert (ack["ok"], ack["error"]) == (False, "unavailable")
    assert send(bob, "call", {"to": "alice"})["ok"]  # calls go on


def test_a_database_that_fails_makes_pages_and_connects_unavailable_and_changes_nothing(app, connect, caplog):
    alice = connect("alice")
    with app.app_context():
        db.session.execute(sqlalchemy.text("DROP TABLE device_links"))
        db.session.execute(sqlalchemy.text("DROP TABLE devices"))
        db.session.commit()
    page = alice.http.get("/")
    assert page.status_code == 503
    assert "unavailable" in page.get_data(as_text=True)
    assert not socket_client(app, alice.http).is_connected()  # refused `unavailable`, tried again later
    assert "the database did not answer: " in caplog.text
    assert "DROP" not in caplog.text and "SELECT" not in caplog.text  # no statements in the log
    assert alice.is_connected()  # the socket that was open stays


def test_leaving_with_the_last_device_deletes_the_call_it_ends_with_the_name(app, connect):
    alice, bob = connect("alice"), connect("bob")
    call_id = send(bob, "call", {"to": "alice"})["call_id"]
    assert send(alice, "accept", {"call_id": call_id})["ok"]
    with alice.http.session_transaction() as session:
        session["csrf"] = CSRF
    assert alice.http.post("/leave", data={"csrf_token": CSRF}).status_code == 302
    assert wait_for(bob, "call_ended")["reason"] == "left"
    assert send(bob, "history")["calls"] == []  # the name is gone, and the calls with it
    assert rows(app) == 0
