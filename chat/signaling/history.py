"""A user's call history and missed calls: the `history` and `seen_missed` events.

The records are kept by chat/records/call_log.py as calls end. A page asks
for them when it connects, after each call and on `missed_call`; pressing
Call back or Dismiss marks the missed calls seen, on every page of the user.
"""

from chat.extensions import socketio
from chat.records import call_log
from chat.signaling.dispatch import event
from chat.signaling.protocol import HISTORY, MISSED_SEEN, SEEN_MISSED, user_room
from chat.state.limits import check_rate
from chat.state.senders import Sender


@event(HISTORY)
def history(sender: Sender, payload: dict) -> dict:
    """The user's last calls, newest first, and the missed calls not yet seen: {calls, missed}."""
    check_rate((f"history:user:{sender.name}", "HISTORY_PER_MINUTE"))
    return call_log.listing(sender.name)


@event(SEEN_MISSED)
def seen_missed(sender: Sender, payload: dict) -> None:
    """The user has seen its missed calls; its other pages hide them (`missed_seen`)."""
    check_rate((f"history:user:{sender.name}", "HISTORY_PER_MINUTE"))
    call_log.mark_seen(sender.name)
    socketio.emit(MISSED_SEEN, {}, to=user_room(sender.name))
