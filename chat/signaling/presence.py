"""Watching whether someone is online: the `watch` event and its `presence` room.

The page of an invite link watches the person it calls; `presence` events
(chat/signaling/announce.py) follow whenever that name comes or goes.
"""

from chat.extensions import socketio
from chat.signaling import payloads
from chat.signaling.dispatch import event
from chat.signaling.protocol import PRESENCE_ROOM_PREFIX, WATCH, presence_room
from chat.state import store
from chat.state.senders import Sender


@event(WATCH)
def watch(sender: Sender, payload: dict) -> dict:
    """Follow whether payload.name is online, instead of whoever this socket watched before."""
    name = payloads.name_field(payload, "name")
    server = socketio.server
    for room in server.rooms(sender.sid):
        if room.startswith(PRESENCE_ROOM_PREFIX):
            server.leave_room(sender.sid, room)
    server.enter_room(sender.sid, presence_room(name))
    return {"name": name, "online": store().holder(name) is not None}
