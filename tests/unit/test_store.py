"""The Store contract, run against every backend."""

import threading
import time

import pytest

from chat.errors import SignalingError
from chat.state.memory import LEFT_MEMORY, MemoryStore
from chat.state.redis_store import PROCESS_TIMEOUT, RedisStore
from chat.state.store import ACTIVE, GRACE, RING, RINGING

GRACE_PERIOD = 30.0
RING_TIMEOUT = 20.0


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def redis_client(redis_server):
    client = redis_server.client()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(params=["memory", "redis"])
def store(request, clock):
    if request.param == "memory":
        return MemoryStore(grace=GRACE_PERIOD, ring_timeout=RING_TIMEOUT, clock=clock)
    client = request.getfixturevalue("redis_client")
    return RedisStore(client, grace=GRACE_PERIOD, ring_timeout=RING_TIMEOUT, clock=clock)


class Inbox:
    """A process's deliver: what the Store hands it, in order."""

    def __init__(self):
        self.running = True
        self._got = []
        self._changed = threading.Condition()

    def __call__(self, name, message):
        with self._changed:
            self._got.append((name, message))
            self._changed.notify_all()

    def wait_for(self, count, timeout=5.0):
        with self._changed:
            assert self._changed.wait_for(lambda: len(self._got) >= count, timeout), self._got
            return list(self._got)

    @property
    def got(self):
        with self._changed:
            return list(self._got)


@pytest.fixture
def serve():
    """serve(store): an Inbox that the store hands relayed messages to, from a listener thread."""
    inboxes = []

    def serve(store):
        inbox = Inbox()
        inboxes.append(inbox)
        store.serve(
            inbox,
            lambda fn, *args: threading.Thread(target=fn, args=args, daemon=True).start(),
            lambda: inbox.running,
        )
        return inbox

    yield serve
    for inbox in inboxes:
        inbox.running = False


def listening(store, *names, timeout=5.0):
    """Wait until Redis has a subscriber on the channel of each name (the in-memory Store needs none)."""
    if not isinstance(store, RedisStore):
        return
    deadline = time.monotonic() + timeout
    channels = [store.channels.channel(name) for name in names]
    while not all(count for _, count in store._client.pubsub_numsub(*channels)):
        assert time.monotonic() < deadline, f"nobody listens to {channels}"
        time.sleep(0.01)


def online(store, *names):
    for name in names:
        store.attach(name, f"owner-{name}", f"sid-{name}")


def refused(code, fn, *args):
    with pytest.raises(SignalingError) as info:
        fn(*args)
    assert info.value.code == code


# Presence


def test_a_claimed_name_is_held_by_its_owner(store):
    assert store.holder("alice") is None
    store.claim("alice", "o1")
    assert store.holder("alice") == "o1"


def test_another_owner_cannot_take_a_held_name(store):
    store.claim("alice", "o1")
    refused("name_taken", store.claim, "alice", "o2")
    refused("name_taken", store.attach, "alice", "o2", "s2")
    assert store.holder("alice") == "o1"


def test_a_leave_is_remembered_until_the_name_is_taken_again(store, clock):
    store.attach("alice", "o1", "s1")
    assert store.has_left("alice", "o1") is False
    assert store.release("alice", "o1")[0] == ["s1"]
    assert store.has_left("alice", "o1") is True
    assert store.has_left("alice", "o2") is False
    store.claim("alice", "o2")
    assert store.has_left("alice", "o1") is False


def test_a_leave_is_forgotten_after_a_while(store, clock):
    store.claim("alice", "o1")
    store.release("alice", "o1")
    clock.now += LEFT_MEMORY
    assert store.has_left("alice", "o1") is False


def test_the_memory_store_drops_old_leaves(clock):
    store = MemoryStore(grace=GRACE_PERIOD, clock=clock)
    store.claim("alice", "o1")
    store.release("alice", "o1")
    clock.now += LEFT_MEMORY
    store.claim("bob", "o2")
    store.release("bob", "o2")
    assert list(store._left) == ["bob"]


def test_the_same_owner_claims_again(store):
    store.claim("alice", "o1")
    assert store.claim("alice", "o1") is None
    assert store.holder("alice") == "o1"


def test_a_claim_without_sockets_lapses_after_the_grace_period(store, clock):
    store.claim("alice", "o1")
    clock.now += GRACE_PERIOD - 1
    assert store.holder("alice") == "o1"
    clock.now += 1
    assert store.holder("alice") is None
    store.claim("alice", "o2")
    assert store.holder("alice") == "o2"


def test_a_connected_name_never_lapses(store, clock):
    store.attach("alice", "o1", "s1")
    clock.now += 10 * GRACE_PERIOD
    assert store.holder("alice") == "o1"
    assert store.expire("alice") == (False, None)


def test_the_grace_period_starts_when_the_last_socket_drops(store, clock):
    store.attach("alice", "o1", "s1")
    store.attach("alice", "o1", "s2")
    assert store.detach("alice", "s1") == 1
    clock.now += 2 * GRACE_PERIOD
    assert store.holder("alice") == "o1"
    assert store.detach("alice", "s2") == 0
    clock.now += GRACE_PERIOD - 1
    assert store.expire("alice") == (False, None)
    store.attach("alice", "o1", "s3")  # back inside the grace period
    clock.now += GRACE_PERIOD
    assert store.holder("alice") == "o1"


def test_expire_frees_the_name_and_ends_its_call(store, clock):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    store.accept("alice", call.id)
    store.detach("alice", "sid-alice")
    clock.now += GRACE_PERIOD
    released, ended = store.expire("alice")
    assert released
    assert (ended.call.id, ended.reason, ended.by) == (call.id, "gone", "alice")
    assert store.holder("alice") is None
    assert store.call_of("bob") is None


def test_detach_of_an_unknown_socket_says_none(store):
    assert store.detach("alice", "nope") is None
    store.attach("alice", "o1", "s1")
    assert store.detach("alice", "other") is None
    assert store.sids("alice") == ["s1"]


def test_sockets_are_told_apart_by_the_device_they_came_from(store):
    store.attach("alice", "o1", "laptop-tab1", "1")
    store.attach("alice", "o1", "phone", "2")
    store.attach("alice", "o1", "laptop-tab2", "1")
    assert store.sids("alice", "1") == ["laptop-tab1", "laptop-tab2"]
    assert store.sids("alice", "2") == ["phone"]
    assert store.sids("alice", "3") == []
    assert store.sids("alice") == ["laptop-tab1", "laptop-tab2", "phone"]
    store.detach("alice", "laptop-tab1")
    assert store.sids("alice", "1") == ["laptop-tab2"]
    assert store.sids("nobody", "1") == []


def test_release_frees_at_once_and_returns_the_sockets(store):
    online(store, "alice", "bob")
    store.attach("alice", "owner-alice", "second-tab")
    call = store.start_call("bob", "alice")
    sids, ended = store.release("alice", "owner-alice")
    assert sids == ["second-tab", "sid-alice"]
    assert (ended.call.id, ended.reason) == (call.id, "left")
    assert store.holder("alice") is None
    assert store.call_of("bob") is None


def test_release_by_another_owner_changes_nothing(store):
    online(store, "alice")
    assert store.release("alice", "intruder") == ([], None)
    assert store.holder("alice") == "owner-alice"


def test_taking_over_a_lapsed_name_ends_the_old_holders_call(store, clock):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    store.detach("alice", "sid-alice")
    clock.now += GRACE_PERIOD
    ended = store.claim("alice", "newcomer")
    assert (ended.call.id, ended.reason) == (call.id, "gone")
    assert store.call_of("bob") is None


# Calls


def test_a_call_rings_then_becomes_active(store):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    assert (call.caller, call.callee, call.state) == ("bob", "alice", RINGING)
    assert store.call_of("alice") == store.call_of("bob") == call
    accepted = store.accept("alice", call.id)
    assert accepted.state == ACTIVE
    assert store.call_of("bob").state == ACTIVE


def test_a_call_keeps_when_it_rang_was_answered_and_ended(store, clock):
    online(store, "alice", "bob")
    clock.now = 1010.0
    call = store.start_call("bob", "alice")
    assert (call.started_at, call.answered_at) == (1010.0, None)
    clock.now = 1012.5
    assert store.accept("alice", call.id).answered_at == 1012.5
    assert store.call_of("bob").started_at == 1010.0
    clock.now = 1100.25
    ended = store.hangup("bob", call.id)
    assert (ended.call.started_at, ended.call.answered_at, ended.at) == (1010.0, 1012.5, 1100.25)
    assert ended.call.state == ACTIVE  # as it was when it ended
    unanswered = store.start_call("bob", "alice")
    clock.now = 1130.0
    ended = store.expire_ring(unanswered.id)
    assert (ended.call.answered_at, ended.at, ended.call.state) == (None, 1130.0, RINGING)


def test_a_relayed_message_is_handed_to_the_peer_in_order(store, serve):
    inbox = serve(store)
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    store.accept("alice", call.id)
    listening(store, "alice", "bob")
    assert store.relay("bob", call.id, {"n": 1, "text": "é"}) == "alice"
    assert store.relay("bob", call.id, {"n": 2}) == "alice"
    assert inbox.wait_for(2) == [("alice", {"n": 1, "text": "é"}), ("alice", {"n": 2})]
    assert store.relay("alice", call.id, {"n": 3}) == "bob"
    assert inbox.wait_for(3)[2] == ("bob", {"n": 3})


def test_call_view_is_from_the_users_side(store):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    assert call.view("bob") == {
        "call_id": call.id,
        "peer": "alice",
        "role": "caller",
        "state": RINGING,
        "epoch": 0,
    }
    assert call.view("alice")["role"] == "callee"
    assert call.view("alice")["peer"] == "bob"


def test_calling_yourself_is_refused(store):
    online(store, "alice")
    refused("self_call", store.start_call, "alice", "alice")


def test_calling_someone_offline_is_refused(store, clock):
    online(store, "bob")
    refused("offline", store.start_call, "bob", "alice")
    store.claim("alice", "o1")
    clock.now += GRACE_PERIOD
    refused("offline", store.start_call, "bob", "alice")


def test_a_user_in_a_call_is_busy(store):
    online(store, "alice", "bob", "carol")
    store.start_call("bob", "alice")
    refused("busy", store.start_call, "carol", "alice")
    refused("busy", store.start_call, "carol", "bob")
    refused("already_in_call", store.start_call, "alice", "carol")
    assert store.call_of("carol") is None


def test_only_the_callee_accepts_or_declines(store):
    online(store, "alice", "bob", "carol")
    call = store.start_call("bob", "alice")
    refused("not_allowed", store.accept, "bob", call.id)
    refused("not_allowed", store.decline, "bob", call.id)
    refused("no_such_call", store.accept, "carol", call.id)
    refused("not_allowed", store.cancel, "alice", call.id)
    assert store.call_of("alice").state == RINGING


@pytest.mark.parametrize(
    ("method", "who", "reason"),
    [("decline", "alice", "declined"), ("cancel", "bob", "cancelled")],
)
def test_a_ringing_call_ends_by_decline_or_cancel(store, method, who, reason):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    ended = getattr(store, method)(who, call.id)
    assert (ended.call.id, ended.reason, ended.by) == (call.id, reason, who)
    assert store.call_of("alice") is None
    assert store.call_of("bob") is None


@pytest.mark.parametrize(
    ("who", "accepted", "reason"),
    [
        ("bob", False, "cancelled"),
        ("alice", False, "declined"),
        ("alice", True, "hangup"),
        ("bob", True, "hangup"),
    ],
)
def test_hangup_works_in_any_state(store, who, accepted, reason):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    if accepted:
        store.accept("alice", call.id)
    assert store.hangup(who, call.id).reason == reason
    refused("no_such_call", store.hangup, who, call.id)


def test_a_failed_call_says_so(store):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    assert store.hangup("bob", call.id, failed=True).reason == "cancelled"
    call = store.start_call("bob", "alice")
    store.accept("alice", call.id)
    assert store.hangup("alice", call.id, failed=True).reason == "failed"


def test_accepting_twice_is_refused(store):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    store.accept("alice", call.id)
    refused("not_ringing", store.accept, "alice", call.id)
    refused("not_ringing", store.decline, "alice", call.id)


def test_relay_needs_an_accepted_call_and_a_party(store, serve):
    inbox = serve(store)
    online(store, "alice", "bob", "carol")
    listening(store, "alice", "bob", "carol")
    call = store.start_call("bob", "alice")
    refused("not_active", store.relay, "bob", call.id, {"n": 1})
    store.accept("alice", call.id)
    refused("no_such_call", store.relay, "carol", call.id, {"n": 2})
    refused("no_such_call", store.relay, "bob", "no-such-id", {"n": 3})
    refused("no_such_call", store.relay, "bob", None, {"n": 4})
    store.relay("bob", call.id, {"n": 5})
    assert inbox.wait_for(1) == [("alice", {"n": 5})]  # the refused ones went nowhere


def test_ring_expiry_ends_only_a_ringing_call(store):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    ended = store.expire_ring(call.id)
    assert (ended.reason, ended.by) == ("no_answer", None)
    assert store.expire_ring(call.id) is None
    call = store.start_call("bob", "alice")
    store.accept("alice", call.id)
    assert store.expire_ring(call.id) is None
    assert store.call_of("bob").state == ACTIVE


def test_move_bumps_the_epoch_of_an_active_call(store):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    refused("not_active", store.move, "alice", call.id)
    store.accept("alice", call.id)
    assert store.move("alice", call.id).epoch == 1
    assert store.move("bob", call.id).epoch == 2
    assert store.call_of("alice").epoch == 2


def test_a_new_call_after_the_last_one_ended(store):
    online(store, "alice", "bob")
    first = store.start_call("bob", "alice")
    store.decline("alice", first.id)
    second = store.start_call("alice", "bob")
    assert second.id != first.id
    assert second.caller == "alice"


# Deadlines


def test_a_ringing_call_is_due_at_its_ring_timeout_until_it_ends(store, clock):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    clock.now += RING_TIMEOUT - 1
    assert store.due() == []
    clock.now += 1
    assert store.due() == [(RING, call.id)]
    assert store.expire_ring(call.id).reason == "no_answer"
    assert store.due() == []


@pytest.mark.parametrize("end", ["accept", "cancel", "decline", "hangup"])
def test_an_answered_or_ended_call_has_no_deadline(store, clock, end):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    getattr(store, end)("bob" if end in ("cancel", "hangup") else "alice", call.id)
    clock.now += RING_TIMEOUT
    assert store.due() == []


def test_a_name_is_due_when_its_grace_period_is_over(store, clock):
    store.attach("alice", "o1", "s1")
    store.detach("alice", "s1")
    clock.now += GRACE_PERIOD - 1
    assert store.due() == []
    store.attach("alice", "o1", "s2")  # back: no deadline
    clock.now += GRACE_PERIOD
    assert store.due() == []
    store.detach("alice", "s2")
    clock.now += GRACE_PERIOD
    assert store.due() == [(GRACE, "alice")]
    assert store.expire("alice") == (True, None)
    assert store.due() == []


def test_a_claim_that_never_connects_is_due_after_the_grace_period(store, clock):
    store.claim("alice", "o1")
    clock.now += GRACE_PERIOD
    assert store.due() == [(GRACE, "alice")]
    assert store.expire("alice") == (True, None)
    assert store.due() == []


def test_deadlines_come_soonest_first_and_a_limited_number_at_a_time(store, clock):
    for name in ("carol", "alice", "bob"):
        store.claim(name, f"o-{name}")
        clock.now += 1
    clock.now += GRACE_PERIOD
    assert store.due() == [(GRACE, "carol"), (GRACE, "alice"), (GRACE, "bob")]
    assert store.due(limit=2) == [(GRACE, "carol"), (GRACE, "alice")]


def test_a_deadline_is_acted_on_once(store, clock):
    online(store, "alice", "bob")
    call = store.start_call("bob", "alice")
    clock.now += RING_TIMEOUT
    results = [store.expire_ring(call.id) for _ in range(3)]
    assert [r.reason if r else None for r in results] == ["no_answer", None, None]


# Several processes (Redis only)


def test_two_processes_share_one_name_space_and_one_call(redis_client, clock):
    one = RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock)
    two = RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock)
    one.attach("alice", "oa", "sa")
    refused("name_taken", two.claim, "alice", "intruder")
    two.attach("bob", "ob", "sb")
    call = two.start_call("bob", "alice")
    assert one.call_of("alice") == call
    one.accept("alice", call.id)
    assert two.relay("bob", call.id, {"n": 1}) == "alice"
    assert one.hangup("alice", call.id).reason == "hangup"
    assert two.call_of("bob") is None


def test_a_relayed_message_reaches_only_the_processes_with_the_peers_sockets(redis_client, clock, serve):
    one, two, three = (RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock) for _ in range(3))
    inboxes = [serve(store) for store in (one, two, three)]
    one.attach("alice", "oa", "sa")
    two.attach("bob", "ob", "sb")
    three.attach("carol", "oc", "sc")
    call = two.start_call("bob", "alice")
    one.accept("alice", call.id)
    listening(one, "alice", "bob", "carol")
    assert two.relay("bob", call.id, {"n": 1}) == "alice"
    assert inboxes[0].wait_for(1) == [("alice", {"n": 1})]
    one.relay("alice", call.id, {"n": 2})
    assert inboxes[1].wait_for(1) == [("bob", {"n": 2})]
    assert inboxes[0].got == [("alice", {"n": 1})]  # not its own message
    assert inboxes[2].got == []


def test_the_messages_follow_a_user_to_another_process(redis_client, clock, serve):
    one, two = (RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock) for _ in range(2))
    inbox_one, inbox_two = serve(one), serve(two)
    one.attach("alice", "oa", "sa1")
    one.attach("alice", "oa", "sa2")
    two.attach("bob", "ob", "sb")
    call = two.start_call("bob", "alice")
    one.accept("alice", call.id)
    one.detach("alice", "sa1")  # one socket of alice's is left on one
    listening(one, "alice")
    two.relay("bob", call.id, {"n": 1})
    assert inbox_one.wait_for(1) == [("alice", {"n": 1})]
    one.detach("alice", "sa2")
    two.attach("alice", "oa", "sa3")  # her page reconnected through the other process
    assert one.channels.watched() == []
    deadline = time.monotonic() + 5
    while redis_client.pubsub_numsub(one.channels.channel("alice"))[0][1] != 1:  # two's, not one's
        assert time.monotonic() < deadline
        time.sleep(0.01)
    two.relay("bob", call.id, {"n": 2})
    assert inbox_two.wait_for(1) == [("alice", {"n": 2})]
    assert inbox_one.got == [("alice", {"n": 1})]


def test_the_listener_subscribes_again_after_its_connection_is_lost(redis_client, clock, serve, caplog):
    one, two = (RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock) for _ in range(2))
    inbox = serve(one)
    one.attach("alice", "oa", "sa")
    two.attach("bob", "ob", "sb")
    call = two.start_call("bob", "alice")
    one.accept("alice", call.id)
    listening(one, "alice")
    assert redis_client.client_kill_filter(_type="pubsub") >= 1  # what a Redis restart does to it
    listening(one, "alice")
    two.relay("bob", call.id, {"n": 1})
    assert inbox.wait_for(1) == [("alice", {"n": 1})]


def test_the_sockets_of_a_silent_process_are_detached(redis_client, clock):
    dead = RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock)
    alive = RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock)
    assert dead.keep_alive() is False  # the first beat
    assert alive.keep_alive() is False
    dead.attach("alice", "oa", "sa-dead")
    alive.attach("alice", "oa", "sa-alive")
    dead.attach("bob", "ob", "sb")
    clock.now += PROCESS_TIMEOUT - 1
    assert alive.keep_alive() is True
    assert alive.sids("bob") == ["sb"]
    clock.now += 1
    alive.keep_alive()
    assert alive.sids("alice") == ["sa-alive"]
    assert alive.sids("bob") == []
    clock.now += GRACE_PERIOD
    assert alive.due() == [(GRACE, "bob")]
    assert alive.expire("bob") == (True, None)
    assert alive.holder("alice") == "oa"


def test_a_process_learns_that_redis_lost_its_data(redis_client, clock):
    store = RedisStore(redis_client, grace=GRACE_PERIOD, clock=clock)
    store.keep_alive()
    assert store.keep_alive() is True
    redis_client.flushdb()
    assert store.keep_alive() is False
