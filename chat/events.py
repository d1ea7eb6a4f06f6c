"""Socket.IO handlers: the signaling protocol described in docs/protocol.md.

The sender of every event is the logged-in user of the socket, never a name
found in the payload. Every handler acknowledges {ok: true, ...} or
{ok: false, error, message}.

Connecting and disconnecting go through Flask-SocketIO, with the request
context and the session cookie. The events themselves are registered on the
Socket.IO server directly: the sender was settled when the socket connected
(`Sender`, kept per socket id until it disconnects), so an event needs only
the app context, not a request context that would decode and verify the
session cookie again for every ICE candidate (more than half the CPU time of
a relayed message, measured with py-spy; docs/benchmarks.md).
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room

from chat import protocol as p
from chat.calls import (
    announce_ended,
    announce_presence,
    check_rate,
    start_grace_timer,
    start_ring_timer,
    store,
)
from chat.connect_deadline import end_session
from chat.errors import SignalingError
from chat.extensions import socketio
from chat.limits import SLIDING, Limit, signal_window
from chat.limits import current as current_limiter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who a connected socket belongs to, settled from its session when it connected."""

    name: str
    sid: str
    address: str | None


Handler = Callable[[Sender, dict], dict | None]
HANDLERS: dict[str, Handler] = {}


def event(name: str) -> Callable[[Handler], Handler]:
    """Make fn(sender, payload) the handler of `name`; init_app registers it."""

    def decorate(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return decorate


def senders() -> dict[str, Sender]:
    """The connected sockets of this process, by socket id."""
    return current_app.extensions["chat.senders"]


def init_app(app: Flask) -> None:
    """Register the event handlers on the app's Socket.IO server."""
    app.extensions["chat.senders"] = {}
    for name, fn in HANDLERS.items():
        socketio.server.on(name, _acknowledging(app, fn))
    socketio.server.on(p.REFUSED, _refused)


def _refused(sid: str, reason: str) -> dict:
    """Answer a packet that protocol.JsonPacket refused; end the connection unless it was a reserved name.

    A reserved name may be a client's mistake and gets unknown_event; binary or
    undecodable packets come from no client of this protocol, and whatever
    they were part of cannot be told apart from what follows.
    """
    if reason == p.REFUSED_RESERVED:
        return SignalingError(
            "unknown_event", "connect, disconnect and other reserved names are not events."
        ).as_ack()
    log.warning("closing %s: it sent a %s packet", sid, reason)
    server = socketio.server
    eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    if eio_sid is not None:
        end_session(server, eio_sid)
    return SignalingError("invalid_payload", "This server takes JSON events only.").as_ack()


def _acknowledging(app: Flask, fn: Handler) -> Callable[..., dict]:
    known = app.extensions["chat.senders"]

    def handle(sid: str, payload: object = None, *_ignored: object) -> dict:
        sender = known.get(sid)
        if sender is None:
            return SignalingError("unauthorized").as_ack()
        with app.app_context():
            try:
                return {"ok": True, **(fn(sender, p.envelope(payload)) or {})}
            except SignalingError as err:
                return err.as_ack()
            except Exception:  # a bug must not end the sender's connection, which reads in this greenlet
                log.exception("%s failed", fn.__name__)
                return SignalingError("internal").as_ack()

    return handle


@socketio.on("connect")
def on_connect(auth: object = None) -> None:
    """A logged-in browser connects: join its user room and say hello."""
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("unauthorized", SignalingError("unauthorized").as_ack())
    name = current_user.name
    try:
        ended = store().attach(name, current_user.owner, request.sid)
    except SignalingError as err:
        raise ConnectionRefusedError(err.code, err.as_ack()) from None
    announce_ended(ended)
    senders()[request.sid] = Sender(name, request.sid, request.remote_addr)
    join_room(p.user_room(name))
    call = store().call_of(name)
    emit(p.HELLO, {"name": name, "call": call.view(name) if call else None})
    announce_presence(name, True)


@socketio.on("disconnect")
def on_disconnect(reason: object = None) -> None:
    """A socket is gone; the name is kept for the grace period after the last one."""
    senders().pop(request.sid, None)
    if current_user.is_authenticated and store().detach(current_user.name, request.sid) == 0:
        start_grace_timer(current_user.name)


@socketio.on("*")
def on_unknown(name: str, *_args: object) -> dict:
    """Refuse an event this server does not know."""
    return SignalingError("unknown_event").as_ack()


@event(p.CALL)
def call(sender: Sender, payload: dict) -> dict:
    """The caller rings payload.to; every socket of the callee gets `ring`."""
    callee = p.name_field(payload, "to")
    check_rate(
        (f"call:user:{sender.name}", "CALLS_PER_MINUTE"),
        (f"call:addr:{sender.address}", "CALLS_PER_MINUTE_PER_ADDRESS"),
    )
    # Ringing one person again and again (under one name or many) would keep her busy for everyone.
    check_rate(
        (f"call:pair:{sender.name}:{callee}", "REPEAT_CALLS"),
        (f"call:addr-pair:{sender.address}:{callee}", "REPEAT_CALLS"),
        window="REPEAT_CALL_WINDOW",
        message=f"You have called {callee} several times already. Try again later.",
    )
    new_call = store().start_call(sender.name, callee)
    socketio.emit(p.RING, {"call_id": new_call.id, "from": sender.name}, to=p.user_room(callee))
    start_ring_timer(new_call)
    return {"call_id": new_call.id, "peer": callee}


@event(p.CANCEL)
def cancel(sender: Sender, payload: dict) -> None:
    """The caller withdraws a ringing call; both parties get `call_ended`."""
    announce_ended(store().cancel(sender.name, p.call_id_field(payload)))


@event(p.ACCEPT)
def accept(sender: Sender, payload: dict) -> dict:
    """The callee accepts; both parties (all tabs) get `call_accepted`."""
    accepted = store().accept(sender.name, p.call_id_field(payload))
    rooms_ = [p.user_room(accepted.caller), p.user_room(accepted.callee)]
    socketio.emit(p.CALL_ACCEPTED, {"call_id": accepted.id}, to=rooms_)
    return {"call": accepted.view(sender.name)}


@event(p.DECLINE)
def decline(sender: Sender, payload: dict) -> None:
    """The callee declines a ringing call; both parties get `call_ended`."""
    announce_ended(store().decline(sender.name, p.call_id_field(payload)))


@event(p.HANGUP)
def hangup(sender: Sender, payload: dict) -> None:
    """Either party ends the call (failed: true if the media failed); both get `call_ended`."""
    failed = payload.get("failed", False)
    if not isinstance(failed, bool):
        raise SignalingError("invalid_payload", "failed must be true or false.")
    announce_ended(store().hangup(sender.name, p.call_id_field(payload), failed=failed))


@event(p.SIGNAL)
def signal(sender: Sender, payload: dict) -> None:
    """Relay one SDP description or ICE candidate to the peer of an accepted call."""
    config = current_app.config
    limiter = current_limiter()
    if not limiter.hit(f"signal:user:{sender.name}", signal_window(config)):
        _strike(sender, "Too many signals. Slow down.")
    call_id = p.call_id_field(payload)
    body = p.signal_body(payload, config["MAX_SDP_BYTES"])
    peer = store().relay_target(sender.name, call_id)
    relayed = {"call_id": call_id, "from": sender.name, **body}
    size = p.utf8_length(json.dumps(relayed, ensure_ascii=False, separators=(",", ":")))
    budget = Limit(config["SIGNAL_BYTES_PER_CALL"], config["SIGNAL_BYTES_WINDOW"], SLIDING)
    if not limiter.hit(f"signal:bytes:{call_id}:{sender.name}", budget, cost=size):
        _strike(sender, "This call has sent too much signaling data. Hang up and call again.")
    # The Socket.IO server's own emit: Flask-SocketIO's adds nothing a relay needs.
    socketio.server.emit(p.SIGNAL, relayed, to=p.user_room(peer))


def _strike(sender: Sender, message: str) -> NoReturn:
    """Refuse a signal with rate_limited; close the connection of a socket that keeps going.

    A client that heeds the refusals sends a few more at most (those already on
    their way); SIGNAL_STRIKES refused within one signal window is a flood.
    """
    window = signal_window(current_app.config)
    strikes = Limit(current_app.config["SIGNAL_STRIKES"], window.seconds, SLIDING)
    if not current_limiter().hit(f"signal:strikes:{sender.sid}", strikes):
        log.warning("closing %s (%s): it kept sending signals past its limits", sender.sid, sender.name)
        server = socketio.server
        eio_sid = server.manager.eio_sid_from_sid(sender.sid, "/")
        server.disconnect(sender.sid)  # the client is told, and the disconnect handler runs
        if eio_sid is not None:
            end_session(server, eio_sid)  # and the connection closes: what it sends next is not read
    raise SignalingError("rate_limited", message)


@event(p.MOVE)
def move(sender: Sender, payload: dict) -> dict:
    """Take an active call over in this page; both parties get `call_moved`."""
    moved = store().move(sender.name, p.call_id_field(payload))
    news = {"call_id": moved.id, "by": sender.name, "epoch": moved.epoch}
    socketio.emit(p.CALL_MOVED, news, to=[p.user_room(moved.caller), p.user_room(moved.callee)])
    return {"call": moved.view(sender.name)}


@event(p.WATCH)
def watch(sender: Sender, payload: dict) -> dict:
    """Follow whether payload.name is online; `presence` events follow."""
    name = p.name_field(payload, "name")
    server = socketio.server
    for room in server.rooms(sender.sid):
        if room.startswith("presence:"):
            server.leave_room(sender.sid, room)
    server.enter_room(sender.sid, p.presence_room(name))
    return {"name": name, "online": store().holder(name) is not None}
