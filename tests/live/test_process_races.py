"""Races between two server processes sharing one Redis: each has one outcome, told alike to both sides.

Each race is run several times, its two sides released together by a
barrier, one side through each process; which side wins varies, the rules
must not.
"""

import threading
import time

import pytest
import requests

from tests.support.processes import Service
from tests.support.socketio_clients import Client

ROUNDS = 8


@pytest.fixture(scope="module")
def service():
    both = Service(RING_TIMEOUT="1", REPEAT_CALLS="1000", CALLS_PER_MINUTE="1000")
    yield both
    both.close()


def together(*actions):
    """Run the actions in threads released at once; return their results in order."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        barrier.wait()
        results[index] = action()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results


def join_form(server, name):
    """A session with the join form loaded; calling the result posts it."""
    http = requests.Session()
    page = http.get(server.url + "/").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

    def post():
        form = {"name": name, "csrf_token": token}
        status = http.post(server.url + "/join", data=form, allow_redirects=False).status_code
        http.close()
        return status

    return post


def ended_or_accepted(user, call_id, timeout=5.0):
    """What `user` was told of the call: ("accepted",) or ("ended", reason)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event, payload in list(user.received):
            if event == "call_accepted" and payload["call_id"] == call_id:
                return ("accepted",)
            if event == "call_ended" and payload["call_id"] == call_id:
                return ("ended", payload["reason"])
        time.sleep(0.02)
    return None


def settle(*users):
    """Wait until each user is told the round's call has ended, then forget what they were told."""
    for user in users:
        user.wait_for("call_ended")
        with user.arrived:
            user.received.clear()


def test_two_browsers_claiming_one_name_through_two_processes(service):
    for round_ in range(ROUNDS):
        name = f"claimed{round_}"
        statuses = together(join_form(service[0], name), join_form(service[1], name))
        assert sorted(statuses) == [302, 409], f"round {round_}: {statuses}"


def test_two_callers_ringing_one_callee_at_once(service):
    alice = Client(service[0], "alice-r")
    bob, dave = Client(service[0], "bob-r"), Client(service[1], "dave-r")
    try:
        for round_ in range(ROUNDS):
            acks = together(
                lambda: bob.sio.call("call", {"to": "alice-r"}, timeout=5),
                lambda: dave.sio.call("call", {"to": "alice-r"}, timeout=5),
            )
            winners = [ack for ack in acks if ack["ok"]]
            losers = [ack for ack in acks if not ack["ok"]]
            assert len(winners) == 1 and [a["error"] for a in losers] == ["busy"], f"round {round_}: {acks}"
            call_id = winners[0]["call_id"]
            assert alice.wait_for("ring")["call_id"] == call_id
            assert alice.sio.call("decline", {"call_id": call_id}, timeout=5)["ok"]
            caller = bob if acks[0]["ok"] else dave
            assert caller.wait_for("call_ended")["reason"] == "declined"
    finally:
        for user in (alice, bob, dave):
            user.close()


def test_accept_racing_cancel(service):
    alice, bob = Client(service[0], "alice-c"), Client(service[1], "bob-c")
    outcomes = set()
    try:
        for round_ in range(ROUNDS):
            call_id = bob.sio.call("call", {"to": "alice-c"}, timeout=5)["call_id"]
            alice.wait_for("ring")
            accepted, cancelled = together(
                lambda call_id=call_id: alice.sio.call("accept", {"call_id": call_id}, timeout=5),
                lambda call_id=call_id: bob.sio.call("cancel", {"call_id": call_id}, timeout=5),
            )
            assert accepted["ok"] != cancelled["ok"], f"round {round_}: {accepted} {cancelled}"
            told = {ended_or_accepted(alice, call_id), ended_or_accepted(bob, call_id)}
            if accepted["ok"]:
                assert cancelled["error"] == "not_ringing"
                assert told == {("accepted",)}, f"round {round_}: {told}"
                assert bob.sio.call("hangup", {"call_id": call_id}, timeout=5)["ok"]
            else:
                assert accepted["error"] == "no_such_call"
                assert told == {("ended", "cancelled")}, f"round {round_}: {told}"
            outcomes.add(accepted["ok"])
            settle(alice, bob)
    finally:
        alice.close()
        bob.close()
    assert outcomes, "no round ran"


def test_accept_racing_the_ring_timeout(service):
    """RING_TIMEOUT is 1 s: alice accepts around then, through the other process than bob's."""
    alice, bob = Client(service[0], "alice-t"), Client(service[1], "bob-t")
    try:
        for round_ in range(ROUNDS):
            call_id = bob.sio.call("call", {"to": "alice-t"}, timeout=5)["call_id"]
            alice.wait_for("ring")
            time.sleep(0.85 + 0.04 * round_)  # from before the timeout to after it
            accepted = alice.sio.call("accept", {"call_id": call_id}, timeout=5)
            told = {ended_or_accepted(alice, call_id), ended_or_accepted(bob, call_id)}
            if accepted["ok"]:
                assert told == {("accepted",)}, f"round {round_}: {told}"
                time.sleep(0.3)  # a late timeout must not end an accepted call
                late = ("call_ended", {"call_id": call_id, "reason": "no_answer", "by": None})
                assert late not in alice.received
                assert bob.sio.call("hangup", {"call_id": call_id}, timeout=5)["ok"]
            else:
                assert accepted["error"] == "no_such_call", f"round {round_}: {accepted}"
                assert told == {("ended", "no_answer")}, f"round {round_}: {told}"
            settle(alice, bob)
    finally:
        alice.close()
        bob.close()
