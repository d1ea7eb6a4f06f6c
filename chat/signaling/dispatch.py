"""How an event reaches its handler: the sender, the acknowledgement, refusals.

Every event handler is fn(sender, payload) -> dict | None, registered with
@event(name). The sender is the logged-in user of the socket, settled when it
connected (chat/state/senders.py), never a name found in the payload. The
handler's dict (or nothing) goes back as {ok: true, ...}; a SignalingError as
{ok: false, error, message}, and so does a bug, as `internal`.

The events are registered on the Socket.IO server directly, not through
Flask-SocketIO: they need only the app context, not a request context that
would decode and verify the session cookie again for every ICE candidate
(more than half the CPU time of a relayed message, measured with py-spy;
docs/benchmarks.md). Connecting and disconnecting do go through
Flask-SocketIO (chat/signaling/connection.py), with the cookie.
"""

import logging
from collections.abc import Callable

from flask import Flask

from chat.errors import SignalingError
from chat.extensions import socketio
from chat.signaling import payloads
from chat.signaling.connect_deadline import end_session
from chat.signaling.protocol import REFUSED, REFUSED_RESERVED
from chat.state.senders import Sender

log = logging.getLogger(__name__)

Handler = Callable[[Sender, dict], dict | None]
HANDLERS: dict[str, Handler] = {}


def event(name: str) -> Callable[[Handler], Handler]:
    """Make fn(sender, payload) the handler of `name`; init_app registers it."""

    def decorate(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return decorate


def init_app(app: Flask) -> None:
    """Register the event handlers on the app's Socket.IO server."""
    for name, fn in HANDLERS.items():
        socketio.server.on(name, _acknowledging(app, fn))
    socketio.server.on(REFUSED, _refused)


def close_connection(sid: str) -> None:
    """Disconnect socket `sid` (its client is told, the disconnect handler runs) and close its connection.

    The connection closes at once: what the client sends after this is not read.
    """
    server = socketio.server
    eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    server.disconnect(sid)
    if eio_sid is not None:
        end_session(server, eio_sid)


def _acknowledging(app: Flask, fn: Handler) -> Callable[..., dict]:
    known = app.extensions["chat.senders"]

    def handle(sid: str, payload: object = None, *_ignored: object) -> dict:
        sender = known.get(sid)
        if sender is None:
            return SignalingError("unauthorized").as_ack()
        with app.app_context():
            try:
                return {"ok": True, **(fn(sender, payloads.envelope(payload)) or {})}
            except SignalingError as err:
                return err.as_ack()
            except Exception:  # a bug must not end the sender's connection, which reads in this greenlet
                log.exception("%s failed", fn.__name__)
                return SignalingError("internal").as_ack()

    return handle


def _refused(sid: str, reason: str) -> dict:
    """Answer a packet that packets.JsonPacket refused; end the connection unless it was a reserved name.

    A reserved name may be a client's mistake and gets unknown_event; binary or
    undecodable packets come from no client of this protocol, and whatever
    they were part of cannot be told apart from what follows.
    """
    if reason == REFUSED_RESERVED:
        return SignalingError(
            "unknown_event", "connect, disconnect and other reserved names are not events."
        ).as_ack()
    log.warning("closing %s: it sent a %s packet", sid, reason)
    server = socketio.server
    eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    if eio_sid is not None:
        end_session(server, eio_sid)
    return SignalingError("invalid_payload", "This server takes JSON events only.").as_ack()


@socketio.on("*")
def on_unknown(name: str, *_args: object) -> dict:
    """Refuse an event this server does not know."""
    return SignalingError("unknown_event").as_ack()
