"""A call from ringing to its end: call, cancel, accept, decline, hangup, move.

Each handler asks the Store to make the change (which refuses what the
caller or callee may not do) and announces it to every socket of both
parties. What flows once a call is accepted is in chat/signaling/relay.py.
"""

from chat.errors import SignalingError
from chat.extensions import socketio
from chat.records import call_log
from chat.signaling import payloads
from chat.signaling import protocol as p
from chat.signaling.announce import announce_ended, announce_missed
from chat.signaling.dispatch import event
from chat.state import store
from chat.state.limits import check_rate
from chat.state.senders import Sender

# The refusals of a call that go into a registered callee's missed calls, and what the caller is told.
AWAY = {
    "offline": "{callee} is not online. If the name is registered, {callee} will see that you called.",
    "busy": "{callee} is in another call and will see that you called.",
}


@event(p.CALL)
def call(sender: Sender, payload: dict) -> dict:
    """The caller rings payload.to; every socket of the callee gets `ring`."""
    callee = payloads.name_field(payload, "to")
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
    try:
        new_call = store().start_call(sender.name, callee)
    except SignalingError as err:
        if err.code not in AWAY:
            raise
        # The same answer whether the name is registered or not: no one learns which names are.
        if call_log.keep_refused(sender.name, callee):
            announce_missed(sender.name, callee)
        raise SignalingError(err.code, AWAY[err.code].format(callee=callee)) from None
    socketio.emit(p.RING, {"call_id": new_call.id, "from": sender.name}, to=p.user_room(callee))
    return {"call_id": new_call.id, "peer": callee}


@event(p.CANCEL)
def cancel(sender: Sender, payload: dict) -> None:
    """The caller withdraws a ringing call; both parties get `call_ended`."""
    announce_ended(store().cancel(sender.name, payloads.call_id_field(payload)))


@event(p.ACCEPT)
def accept(sender: Sender, payload: dict) -> dict:
    """The callee accepts; both parties (all tabs) get `call_accepted`."""
    accepted = store().accept(sender.name, payloads.call_id_field(payload))
    rooms = [p.user_room(accepted.caller), p.user_room(accepted.callee)]
    socketio.emit(p.CALL_ACCEPTED, {"call_id": accepted.id}, to=rooms)
    return {"call": accepted.view(sender.name)}


@event(p.DECLINE)
def decline(sender: Sender, payload: dict) -> None:
    """The callee declines a ringing call; both parties get `call_ended`."""
    announce_ended(store().decline(sender.name, payloads.call_id_field(payload)))


@event(p.HANGUP)
def hangup(sender: Sender, payload: dict) -> None:
    """Either party ends the call (failed: true if the media failed); both get `call_ended`."""
    failed = payload.get("failed", False)
    if not isinstance(failed, bool):
        raise SignalingError("invalid_payload", "failed must be true or false.")
    announce_ended(store().hangup(sender.name, payloads.call_id_field(payload), failed=failed))


@event(p.MOVE)
def move(sender: Sender, payload: dict) -> dict:
    """Take an active call over in this page; both parties get `call_moved`."""
    moved = store().move(sender.name, payloads.call_id_field(payload))
    news = {"call_id": moved.id, "by": sender.name, "epoch": moved.epoch}
    socketio.emit(p.CALL_MOVED, news, to=[p.user_room(moved.caller), p.user_room(moved.callee)])
    return {"call": moved.view(sender.name)}
