"""Telling the clients what has changed: a call ended or was missed, a name came or went, a device left.

Both the Socket.IO handlers and the pages end calls (Leave does, and so does
a new join that takes over a name), so the announcements live here rather
than in either of them. announce_ended is the one way out of a call: it also
puts the call in its parties' history (chat/records/call_log.py).
"""

import logging

from chat.extensions import socketio
from chat.records import call_log
from chat.records.registry import MISSED
from chat.signaling.protocol import CALL_ENDED, MISSED_CALL, PRESENCE, SIGNED_OUT, presence_room, user_room
from chat.state.store import Ended

log = logging.getLogger(__name__)


def announce_ended(ended: Ended | None) -> None:
    """Tell every socket of both parties that a call is over, and why."""
    if ended is None:
        return
    call = ended.call
    log.info("call %s ended: %s", call.id, ended.reason)
    # Recorded first: a page that reads the history when it hears of the end finds the call in it.
    recorded = call_log.keep_ended(ended)
    payload = {"call_id": call.id, "reason": ended.reason, "by": ended.by}
    socketio.emit(CALL_ENDED, payload, to=[user_room(call.caller), user_room(call.callee)])
    if recorded and call_log.outcome(ended) == MISSED:
        announce_missed(call.caller, call.callee)


def announce_missed(caller: str, callee: str) -> None:
    """Tell the callee's pages (if any are open) that a call from `caller` went into its missed calls."""
    socketio.emit(MISSED_CALL, {"from": caller}, to=user_room(callee))


def announce_presence(name: str, online: bool) -> None:
    """Tell the sockets watching `name` whether it is online."""
    socketio.emit(PRESENCE, {"name": name, "online": online}, to=presence_room(name))


def sign_out(sids: list[str], reason: str) -> None:
    """Tell sockets (of any process) that their browser is signed out, and disconnect them.

    `reason`: "left" (Leave, or the name given up) or "removed" (another
    device of the name removed this one). Both go through the message queue
    to the process that holds the socket, in this order.
    """
    for sid in sids:
        socketio.emit(SIGNED_OUT, {"reason": reason}, to=sid)
        socketio.server.disconnect(sid)
