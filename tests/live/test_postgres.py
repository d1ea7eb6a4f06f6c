"""Two gunicorn processes on one real PostgreSQL (and Redis), with eventlet and with gevent.

The records are shared: a name registered through one process is refused
through the other and survives a restart of both. A query that waits on the
database must not stop the process: under eventlet and gevent, psycopg2's
waits have to yield to the other greenlets (chat/records/__init__.py).
"""

import threading
import time

import psycopg2
import pytest
import requests
import sqlalchemy

from tests.support.processes import Service, Socket, join_status
from tests.support.socketio_clients import Client


@pytest.fixture(params=["gunicorn", "gunicorn-gevent"])
def service(request, postgres_server):
    engine = sqlalchemy.create_engine(postgres_server.url)
    with engine.begin() as connection:  # a fresh schema: the processes make it as they start
        connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    both = Service(server=request.param, DATABASE_URL=postgres_server.url)
    yield both
    both.close()


def test_names_are_shared_through_the_database_and_outlive_both_processes(service):
    alice = Client(service[0], "alice")
    alice.close()
    assert join_status(service[1], "alice") == 409  # registered through the other process
    for index in (0, 1):
        service.stop(index)
    for index in (0, 1):
        service.start(index)
    assert join_status(service[1], "alice") == 409
    assert join_status(service[1], "alice", http=alice.http) == 302  # her browser is still hers
    alice_tab = Socket(service[1], alice.cookie)
    bob = Client(service[0], "bob")
    try:
        assert alice_tab.wait_for("hello")["name"] == "alice"
        call_id = bob.sio.call("call", {"to": "alice"}, timeout=5)["call_id"]
        assert alice_tab.wait_for("ring") == {"call_id": call_id, "from": "bob"}
        assert alice_tab.sio.call("accept", {"call_id": call_id}, timeout=5)["ok"]
        assert bob.sio.call("hangup", {"call_id": call_id}, timeout=5)["ok"]
        alice_tab.wait_for("call_ended")
        calls = alice_tab.sio.call("history", {}, timeout=5)["calls"]
        assert [(c["peer"], c["outcome"]) for c in calls] == [("bob", "answered")]
    finally:
        bob.close()
        alice_tab.close()


def test_a_query_waiting_on_the_database_does_not_stop_the_process(service, postgres_server):
    url = postgres_server.url.replace("postgresql+psycopg2://", "postgresql://")
    holder = psycopg2.connect(url)
    joined = {}
    try:
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE registrations IN ACCESS EXCLUSIVE MODE")
        waiting = threading.Thread(target=lambda: joined.update(status=join_status(service[0], "carol")))
        waiting.start()
        time.sleep(1.0)  # carol's registration now waits for the lock, inside process 0
        assert waiting.is_alive()
        started = time.monotonic()
        # A page that needs no record: it answers at once unless the wait blocks the whole process.
        assert requests.get(service[0].url + "/", timeout=5).status_code == 200
        assert time.monotonic() - started < 2.0
    finally:
        holder.rollback()
        holder.close()
    waiting.join(timeout=10)
    assert joined == {"status": 302}


def test_two_browsers_registering_one_free_name_through_both_processes_one_wins(service):
    for round_ in range(3):
        name = f"race{round_}"
        start = threading.Barrier(2)
        statuses = []

        def register(index, name=name, start=start, statuses=statuses):
            start.wait()
            statuses.append(join_status(service[index], name))

        threads = [threading.Thread(target=register, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(statuses) == [302, 409], statuses
