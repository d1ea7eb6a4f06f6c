"""Relaying SDP descriptions and ICE candidates between the two parties of an accepted call.

Each `signal` is counted against the sender's limits first (SIGNALS_PER_SECOND
with bursts of SIGNAL_BURST; SIGNAL_BYTES_PER_CALL per SIGNAL_BYTES_WINDOW):
Engine.IO's queue towards a peer that does not read is unbounded, so what one
sender may make the server hold is bounded here. They are counted in this
process (chat.state.limits.local), where the sender's socket is. Nothing of
the body is logged.

The Store passes a relayed message to the processes that hold the peer's
sockets (with Redis, on the peer's own channel); `start` has each process
emit what it is handed to the peer's sockets there.
"""

import json
import logging
from typing import NoReturn

from flask import Flask, current_app
from socketio import Server

from chat.errors import SignalingError
from chat.extensions import socketio
from chat.signaling import payloads, timers
from chat.signaling.dispatch import close_connection, event
from chat.signaling.protocol import SIGNAL, user_room
from chat.state import store
from chat.state.limits import SLIDING, Limit, signal_window
from chat.state.limits import local as local_limiter
from chat.state.senders import Sender

log = logging.getLogger(__name__)


@event(SIGNAL)
def signal(sender: Sender, payload: dict) -> None:
    """Relay one SDP description or ICE candidate to the peer of an accepted call."""
    config = current_app.config
    limiter = local_limiter()
    if not limiter.hit(f"signal:user:{sender.name}", signal_window(config)):
        _strike(sender, "Too many signals. Slow down.")
    call_id = payloads.call_id_field(payload)
    body = payloads.signal_body(payload, config["MAX_SDP_BYTES"])
    relayed = {"call_id": call_id, "from": sender.name, **body}
    encoded = json.dumps(relayed, ensure_ascii=False, separators=(",", ":"))
    size = payloads.utf8_length(encoded)
    budget = Limit(config["SIGNAL_BYTES_PER_CALL"], config["SIGNAL_BYTES_WINDOW"], SLIDING)
    if not limiter.hit(f"signal:bytes:{call_id}:{sender.name}", budget, cost=size):
        _strike(sender, "This call has sent too much signaling data. Hang up and call again.")
    store().relay(sender.name, call_id, relayed, encoded)  # refused unless the call is active, sender in it


def start(app: Flask) -> None:
    """Have this process emit the messages relayed to its users, for as long as `app` serves."""
    server = app.extensions["chat.socketio_server"]
    with app.app_context():
        store().serve(
            lambda name, message: _deliver(server, name, message),
            socketio.start_background_task,
            lambda: timers.still_serving(app),
        )


def _deliver(server: Server, name: str, message: dict) -> None:
    # This process's sockets only: the Store has already brought the message to every process that
    # has one of `name` (the Socket.IO server's own emit: Flask-SocketIO's adds nothing a relay needs).
    server.emit(SIGNAL, message, to=user_room(name), ignore_queue=True)


def _strike(sender: Sender, message: str) -> NoReturn:
    """Refuse a signal with rate_limited; close the connection of a socket that keeps going.

    A client that heeds the refusals sends a few more at most (those already on
    their way); SIGNAL_STRIKES refused within one signal window is a flood.
    """
    window = signal_window(current_app.config)
    strikes = Limit(current_app.config["SIGNAL_STRIKES"], window.seconds, SLIDING)
    if not local_limiter().hit(f"signal:strikes:{sender.sid}", strikes):
        log.warning("closing %s (%s): it kept sending signals past its limits", sender.sid, sender.name)
        close_connection(sender.sid)
    raise SignalingError("rate_limited", message)
