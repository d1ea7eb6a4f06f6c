"""Two server processes sharing one Redis behave as one service (issue 12).

Each test starts a real redis-server and two `make run` servers (`python
wsgi.py`, eventlet) with the same SECRET_KEY and REDIS_URL on two ports;
users are python-socketio clients on either. A process is killed with
SIGKILL, as a crash would, and started again on its port.
"""

import re
import time

import pytest
import requests

from tests.support.processes import Service, Socket, join_status
from tests.support.socketio_clients import Client, call_and_signal

OFFER = {"type": "offer", "sdp": "v=0\r\n"}


@pytest.fixture
def service():
    both = Service()
    yield both
    both.close()


def test_a_name_held_through_one_process_cannot_be_taken_through_the_other(service):
    alice = Client(service[0], "alice")
    try:
        assert join_status(service[1], "alice") == 409
        assert join_status(service[0], "alice") == 409
        assert join_status(service[1], "bob") == 302
    finally:
        alice.close()


@pytest.fixture(params=["gunicorn", "gunicorn-gevent"])
def production_pair(request):
    """Two gunicorn processes (gunicorn.conf.py: one worker each), eventlet or gevent, on one Redis."""
    both = Service(server=request.param)
    yield both
    both.close()


def test_a_call_crosses_the_processes(service):
    cross_call(service)


def test_a_call_crosses_gunicorn_processes(production_pair):
    cross_call(production_pair)
    for index in (0, 1):
        assert "connected: socket" in production_pair[index].output()  # the app's INFO lines are logged


def cross_call(service):
    alice, bob = Client(service[0], "alice"), Client(service[1], "bob")
    try:
        assert bob.sio.call("watch", {"name": "alice"}, timeout=5)["online"] is True
        call_id = call_and_signal(bob, alice, OFFER)
        answer = {"type": "answer", "sdp": "v=0\r\n"}
        assert alice.sio.call("signal", {"call_id": call_id, "description": answer}, timeout=5)["ok"]
        assert bob.wait_for("signal")["description"] == answer
        assert alice.sio.call("hangup", {"call_id": call_id}, timeout=5)["ok"]
        for user in (alice, bob):
            assert user.wait_for("call_ended") == {"call_id": call_id, "reason": "hangup", "by": "alice"}
    finally:
        alice.close()
        bob.close()


def test_a_ring_timeout_is_kept_when_the_process_that_started_it_dies(service):
    alice, bob = Client(service[0], "alice"), Client(service[1], "bob")
    try:
        call_id = bob.sio.call("call", {"to": "alice"}, timeout=5)["call_id"]
        rang = time.monotonic()
        assert alice.wait_for("ring")["call_id"] == call_id
        service.kill(1)  # the process that started the ring, with bob's socket
        bob_again = Socket(service[0], bob.cookie)  # bob's page reconnects, to the other process
        assert bob_again.wait_for("hello")["call"]["call_id"] == call_id
        ended = {"call_id": call_id, "reason": "no_answer", "by": None}
        assert alice.wait_for("call_ended", timeout=8) == ended
        assert bob_again.wait_for("call_ended", timeout=1) == ended
        assert 3.5 <= time.monotonic() - rang < 8, "the ring timeout (4 s) was not kept"
        bob_again.close()
    finally:
        alice.close()
        bob.close()


def test_a_call_survives_a_sigkill_and_restart_of_a_process(service):
    alice, bob = Client(service[0], "alice"), Client(service[1], "bob")
    try:
        call_id = call_and_signal(bob, alice, OFFER)
        service.kill(0)  # alice's process
        restarted = service.start(0)
        alice_again = Socket(restarted, alice.cookie)  # her page reconnects with her session
        hello = alice_again.wait_for("hello")
        assert hello == {"name": "alice", "call": {**hello["call"], "call_id": call_id, "state": "active"}}
        time.sleep(3)  # past PROCESS_TIMEOUT (2 s): the dead process's socket of alice is swept
        assert not [event for event, _ in bob.received if event == "call_ended"]
        candidate = {
            "candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        }
        assert bob.sio.call("signal", {"call_id": call_id, "candidate": candidate}, timeout=5)["ok"]
        assert alice_again.wait_for("signal")["candidate"]["candidate"] == candidate["candidate"]
        assert alice_again.sio.call("hangup", {"call_id": call_id}, timeout=5)["ok"]
        ended = {"call_id": call_id, "reason": "hangup", "by": "alice"}
        assert bob.wait_for("call_ended") == ended
        assert alice_again.wait_for("call_ended") == ended
        alice_again.close()
    finally:
        alice.close()
        bob.close()


def test_a_user_of_a_killed_process_who_never_comes_back_goes_offline_and_keeps_the_name():
    service = Service(GRACE_PERIOD="2")
    carol = Client(service[1], "carol")
    watcher = Client(service[0], "watcher")
    try:
        assert watcher.sio.call("watch", {"name": "carol"}, timeout=5)["online"] is True
        killed = time.monotonic()
        service.kill(1)
        # PROCESS_TIMEOUT (2 s) until process 0 detaches carol's socket, then GRACE_PERIOD (2 s).
        assert watcher.wait_for("presence", timeout=10) == {"name": "carol", "online": False}
        assert time.monotonic() - killed >= 3.5
        assert join_status(service[0], "carol") == 409  # registered to her browser
        assert join_status(service[0], "carol", http=carol.http) == 302
    finally:
        watcher.close()
        carol.close()
        service.close()


def test_leave_through_one_process_closes_the_sockets_on_the_other(service):
    alice = Client(service[0], "alice")
    try:
        other_tab = Socket(service[1], alice.cookie)
        other_tab.wait_for("hello")
        page = alice.http.get(service[0].url + "/").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        alice.http.post(service[0].url + "/leave", data={"csrf_token": token}, allow_redirects=False)
        assert other_tab.wait_for("signed_out") == {"reason": "left"}
        deadline = time.monotonic() + 5
        while other_tab.sio.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not other_tab.sio.connected
        assert join_status(service[1], "alice") == 302
    finally:
        alice.close()


def test_removing_a_device_through_one_process_closes_its_sockets_on_the_other(service):
    alice = Client(service[0], "alice")
    phone = requests.Session()
    try:
        token = csrf_token(alice.http.get(service[0].url + "/").text)
        link = alice.http.post(service[0].url + "/devices/link", data={"csrf_token": token}).json()
        path = "/device/" + link["url"].split("/device/", 1)[1]
        assert phone.get(service[1].url + path, allow_redirects=False).status_code == 302
        phone_tab = Socket(service[1], "; ".join(f"{c.name}={c.value}" for c in phone.cookies))
        assert phone_tab.wait_for("hello")["name"] == "alice"
        page = alice.http.get(service[0].url + "/").text
        (phone_id,) = re.findall(r'action="/devices/(\d+)/remove"', page)
        removed = alice.http.post(
            f"{service[0].url}/devices/{phone_id}/remove", data={"csrf_token": token}, allow_redirects=False
        )
        assert removed.status_code == 302
        assert phone_tab.wait_for("signed_out") == {"reason": "removed"}
        deadline = time.monotonic() + 5
        while phone_tab.sio.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not phone_tab.sio.connected
        assert alice.sio.connected
        assert not any(event == "signed_out" for event, _ in alice.received)
    finally:
        phone.close()
        alice.close()


def csrf_token(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


PASSWORD = "redis-password-not-for-logs"


def test_redis_stopped_mid_call_then_back():
    service = Service(redis_password=PASSWORD)
    alice, bob = Client(service[0], "alice"), Client(service[1], "bob")
    try:
        call_id = call_and_signal(bob, alice, OFFER)
        service.redis.kill()
        # No crash; new joins get a page that says so, events the code unavailable.
        assert join_status(service[0], "carol") == 503
        ice = alice.http.get(service[0].url + "/ice-servers")
        assert (ice.status_code, ice.json()["error"]) == (503, "unavailable")
        refused = alice.sio.call("watch", {"name": "bob"}, timeout=10)
        assert refused["ok"] is False and refused["error"] == "unavailable"
        for live in service.processes:
            live.check_alive()
        service.redis.start()  # empty: it had no persistence
        deadline = time.monotonic() + 15
        while join_status(service[0], "carol") != 302:
            assert time.monotonic() < deadline, "the service did not come back with Redis"
            time.sleep(0.5)
        # The processes attached their sockets again: alice and bob still hold their names.
        time.sleep(1.5)
        assert join_status(service[1], "alice") == 409
        assert join_status(service[0], "bob") == 409
        # Each process listens to its users' channels again: a new call's signals cross them.
        bob.sio.call("hangup", {"call_id": call_id}, timeout=5)
        assert call_and_signal(bob, alice, OFFER) != call_id
        for live in service.processes:
            log = live.output()
            assert log.count("does not answer") == 1, log
            assert "answers again" in log
            assert "Traceback" not in log
            assert PASSWORD not in log
            assert ":***@127.0.0.1" in log  # the URL as logged
        assert call_id  # the call itself was in Redis, and is gone with it (docs/deploy.md)
    finally:
        alice.close()
        bob.close()
        service.close()


def test_rate_limits_are_counted_across_the_processes():
    service = Service(JOIN_PER_MINUTE="3")
    try:
        statuses = [join_status(service[index % 2], f"user{index}") for index in range(4)]
        assert statuses == [302, 302, 302, 429]  # joins from one address, through either process
    finally:
        service.close()
