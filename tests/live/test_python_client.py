"""docs/protocol.md followed by a plain python-socketio client, against the real server."""

import pytest
import requests
import socketio
import websocket

from tests.support.servers import LiveServer
from tests.support.socketio_clients import Client, call_and_signal


@pytest.fixture(scope="module", params=["embedded", "gunicorn", "gunicorn-gevent"])
def server(request):
    """The embedded server of `make run`, then gunicorn with gunicorn.conf.py (eventlet, then gevent)."""
    live = LiveServer(server=request.param)
    yield live
    live.stop()


@pytest.fixture
def clients(server):
    made = []

    def make(name, **kwargs):
        client = Client(server, name, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_a_python_client_places_and_answers_a_call(clients):
    alice, bob = clients("py-alice"), clients("py-bob")
    assert alice.wait_for("hello") == {"name": "py-alice", "call": None}
    ack = bob.sio.call("call", {"to": "py-alice"}, timeout=5)
    assert ack["ok"] is True
    call_id = ack["call_id"]
    assert alice.wait_for("ring") == {"call_id": call_id, "from": "py-bob"}
    assert alice.sio.call("accept", {"call_id": call_id}, timeout=5)["ok"]
    assert bob.wait_for("call_accepted") == {"call_id": call_id}
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    assert bob.sio.call("signal", {"call_id": call_id, "description": offer}, timeout=5) == {"ok": True}
    assert alice.wait_for("signal") == {
        "call_id": call_id,
        "from": "py-bob",
        "description": offer,
        "epoch": 0,
    }
    assert alice.sio.call("hangup", {"call_id": call_id}, timeout=5) == {"ok": True}
    assert bob.wait_for("call_ended") == {"call_id": call_id, "reason": "hangup", "by": "py-alice"}


def test_long_polling_is_refused_and_an_offer_sized_message_goes_through(clients, server):
    alice = clients("py-up-a")
    polling = requests.get(
        f"{server.url}/socket.io/?EIO=4&transport=polling", headers={"Cookie": alice.cookie}
    )
    assert polling.status_code == 400
    assert "Invalid transport" in polling.text
    with pytest.raises(socketio.exceptions.ConnectionError):
        clients("py-up-poll", transports=("polling",))
    bob = clients("py-up-b")
    call_and_signal(bob, alice, {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 1000})  # offer-sized


def test_a_connection_without_login_is_refused_with_the_error_code(server):
    sio = socketio.Client(reconnection=False)
    refusals = []
    sio.on("connect_error", refusals.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(server.url, transports=["websocket"], wait_timeout=5)
    assert refusals == [
        {
            "message": "unauthorized",
            "data": {"ok": False, "error": "unauthorized", "message": "Join with a name first."},
        }
    ]


def test_a_logged_in_cookie_from_a_foreign_origin_is_refused(clients, server):
    victim = clients("py-victim")
    url = f"{server.url.replace('http://', 'ws://')}/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, cookie=victim.cookie, origin="https://evil.example")
    assert info.value.status_code == 400
    own = websocket.create_connection(url, cookie=victim.cookie, origin=server.url)
    try:
        assert own.recv().startswith("0{")  # Engine.IO's open packet
    finally:
        own.close()


def test_an_oversized_message_closes_only_that_connection(clients):
    alice, bob = clients("py-big-a"), clients("py-big-b")
    call_id = bob.sio.call("call", {"to": "py-big-a"}, timeout=5)["call_id"]
    alice.sio.call("accept", {"call_id": call_id}, timeout=5)
    bob.sio.emit("signal", {"call_id": call_id, "description": {"type": "offer", "sdp": "a" * 100_000}})
    bob.sio.sleep(1)
    assert not bob.sio.connected
    assert alice.sio.connected
    assert alice.sio.call("watch", {"name": "py-big-b"}, timeout=5)["ok"]
