"""Socket.IO handlers: the signaling protocol described in docs/protocol.md.

The sender of every event is the logged-in user of the socket, never a name
found in the payload. Every handler acknowledges {ok: true, ...} or
{ok: false, error, message}.
"""

import functools
import logging
from collections.abc import Callable

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room, leave_room, rooms

from chat import protocol as p
from chat.calls import (
    announce_ended,
    announce_presence,
    check_rate,
    start_grace_timer,
    start_ring_timer,
    store,
)
from chat.errors import SignalingError
from chat.extensions import socketio

log = logging.getLogger(__name__)

Handler = Callable[[str, dict], dict | None]


def event(name: str) -> Callable[[Handler], Handler]:
    """Register fn(sender, payload) as the handler of `name`, acknowledging its result."""

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def handle(payload: object = None, *_ignored: object) -> dict:
            try:
                if not current_user.is_authenticated:
                    raise SignalingError("unauthorized")
                return {"ok": True, **(fn(current_user.name, p.envelope(payload)) or {})}
            except SignalingError as err:
                return err.as_ack()

        socketio.on_event(name, handle)
        return fn

    return decorate


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
    join_room(p.user_room(name))
    call = store().call_of(name)
    emit(p.HELLO, {"name": name, "call": call.view(name) if call else None})
    announce_presence(name, True)


@socketio.on("disconnect")
def on_disconnect(reason: object = None) -> None:
    """A socket is gone; the name is kept for the grace period after the last one."""
    if current_user.is_authenticated and store().detach(current_user.name, request.sid) == 0:
        start_grace_timer(current_user.name)


@socketio.on("*")
def on_unknown(name: str, *_args: object) -> dict:
    """Refuse an event this server does not know."""
    return SignalingError("unknown_event").as_ack()


@event(p.CALL)
def call(sender: str, payload: dict) -> dict:
    """The caller rings payload.to; every socket of the callee gets `ring`."""
    callee = p.name_field(payload, "to")
    check_rate(
        (f"call:user:{sender}", "CALLS_PER_MINUTE"),
        (f"call:addr:{request.remote_addr}", "CALLS_PER_MINUTE_PER_ADDRESS"),
    )
    new_call = store().start_call(sender, callee)
    socketio.emit(p.RING, {"call_id": new_call.id, "from": sender}, to=p.user_room(callee))
    start_ring_timer(new_call)
    return {"call_id": new_call.id, "peer": callee}


@event(p.CANCEL)
def cancel(sender: str, payload: dict) -> None:
    """The caller withdraws a ringing call; both parties get `call_ended`."""
    announce_ended(store().cancel(sender, p.call_id_field(payload)))


@event(p.ACCEPT)
def accept(sender: str, payload: dict) -> dict:
    """The callee accepts; both parties (all tabs) get `call_accepted`."""
    accepted = store().accept(sender, p.call_id_field(payload))
    rooms_ = [p.user_room(accepted.caller), p.user_room(accepted.callee)]
    socketio.emit(p.CALL_ACCEPTED, {"call_id": accepted.id}, to=rooms_)
    return {"call": accepted.view(sender)}


@event(p.DECLINE)
def decline(sender: str, payload: dict) -> None:
    """The callee declines a ringing call; both parties get `call_ended`."""
    announce_ended(store().decline(sender, p.call_id_field(payload)))


@event(p.HANGUP)
def hangup(sender: str, payload: dict) -> None:
    """Either party ends the call (failed: true if the media failed); both get `call_ended`."""
    failed = payload.get("failed", False)
    if not isinstance(failed, bool):
        raise SignalingError("invalid_payload", "failed must be true or false.")
    announce_ended(store().hangup(sender, p.call_id_field(payload), failed=failed))


@event(p.SIGNAL)
def signal(sender: str, payload: dict) -> None:
    """Relay one SDP description or ICE candidate to the peer of an accepted call."""
    call_id = p.call_id_field(payload)
    body = p.signal_body(payload, current_app.config["MAX_SDP_BYTES"])
    peer = store().relay_target(sender, call_id)
    socketio.emit(p.SIGNAL, {"call_id": call_id, "from": sender, **body}, to=p.user_room(peer))


@event(p.MOVE)
def move(sender: str, payload: dict) -> dict:
    """Take an active call over in this page; both parties get `call_moved`."""
    moved = store().move(sender, p.call_id_field(payload))
    news = {"call_id": moved.id, "by": sender, "epoch": moved.epoch}
    socketio.emit(p.CALL_MOVED, news, to=[p.user_room(moved.caller), p.user_room(moved.callee)])
    return {"call": moved.view(sender)}


@event(p.WATCH)
def watch(sender: str, payload: dict) -> dict:
    """Follow whether payload.name is online; `presence` events follow."""
    name = p.name_field(payload, "name")
    for room in rooms():
        if room.startswith("presence:"):
            leave_room(room)
    join_room(p.presence_room(name))
    return {"name": name, "online": store().holder(name) is not None}
