"""Socket.IO signaling: the protocol of docs/protocol.md.

- connection.py: a socket connects (hello) and disconnects
- call_events.py: call, cancel, accept, decline, hangup, move
- relay.py: signal, the SDP and ICE relay of an accepted call, and its limits
- presence.py: watch
- history.py: history, seen_missed (the call history, chat/records/call_log.py)
- dispatch.py: sender, acknowledgement and refusal of every event
- payloads.py: the checks of what clients send; protocol.py: the names
- packets.py: the JSON-only packet; announce.py, timers.py: what follows a change
- connect_deadline.py: closing connections that never log in

Importing this package registers the connect and disconnect handlers on the
unbound `socketio` (Flask-SocketIO keeps them for every init_app); init_app
puts the event handlers on each app's server.
"""

from flask import Flask

from chat.signaling import call_events, connection, dispatch, history, presence, relay, timers  # noqa: F401  (registration)
from chat.signaling.connect_deadline import ConnectDeadline
from chat.signaling.packets import JsonPacket

__all__ = ["ConnectDeadline", "JsonPacket", "init_app"]


def init_app(app: Flask) -> None:
    """Register the event handlers on the app's Socket.IO server."""
    dispatch.init_app(app)
