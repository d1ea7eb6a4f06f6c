"""The Socket.IO protocol's names: events, rooms, what is relayed.

docs/protocol.md describes all of it for people writing other clients;
chat/signaling/payloads.py checks what clients send, packets.py the packets.
"""

# What a client's packet that this protocol refuses becomes (packets.JsonPacket.decode): an event
# of this name, with the reason as its argument, which chat.signaling.dispatch answers.
REFUSED = "refused packet"
REFUSED_RESERVED, REFUSED_BINARY, REFUSED_MALFORMED = "reserved", "binary", "malformed"
# Names a client may not give an event: python-socketio would hand "connect" and "disconnect"
# to the handlers of the real connect and disconnect (so a socket could detach itself from the
# store and stay in its user's room), and socket.io clients reserve the others.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", REFUSED}
)


# Client to server; each is acknowledged with {ok: true, ...} or
# {ok: false, error, message}.
CALL = "call"
CANCEL = "cancel"
ACCEPT = "accept"
DECLINE = "decline"
HANGUP = "hangup"
SIGNAL = "signal"
MOVE = "move"
WATCH = "watch"
HISTORY = "history"
SEEN_MISSED = "seen_missed"

# Server to client.
HELLO = "hello"
RING = "ring"
CALL_ACCEPTED = "call_accepted"
CALL_MOVED = "call_moved"
CALL_ENDED = "call_ended"
PRESENCE = "presence"
SIGNED_OUT = "signed_out"
MISSED_CALL = "missed_call"
MISSED_SEEN = "missed_seen"
# SIGNAL also travels from server to client, carrying the relayed message.

# What one side's setLocalDescription() makes for the other; a rollback is local to a peer
# connection and a pranswer has no use between two browsers, so neither is relayed.
DESCRIPTION_TYPES = {"offer", "answer"}
MAX_CANDIDATE_BYTES = 2048
MAX_CALL_ID = 64


def user_room(name: str) -> str:
    """Room holding every socket of one user (tabs, reconnects)."""
    return f"user:{name}"


PRESENCE_ROOM_PREFIX = "presence:"


def presence_room(name: str) -> str:
    """Room of the sockets watching whether `name` is online."""
    return f"{PRESENCE_ROOM_PREFIX}{name}"
