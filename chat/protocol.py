"""The Socket.IO protocol: event names, rooms and payload checks.

docs/protocol.md describes all of it for people writing other clients.
"""

from socketio import packet

from chat.errors import SignalingError
from chat.names import fold_name

# What a client's packet that this protocol refuses becomes (JsonPacket.decode): an event of
# this name, with the reason as its argument, which chat.events answers.
REFUSED = "refused packet"
REFUSED_RESERVED, REFUSED_BINARY, REFUSED_MALFORMED = "reserved", "binary", "malformed"
# Names a client may not give an event: python-socketio would hand "connect" and "disconnect"
# to the handlers of the real connect and disconnect (so a socket could detach itself from the
# store and stay in its user's room), and socket.io clients reserve the others.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", REFUSED}
)


class JsonPacket(packet.Packet):
    """Socket.IO packets whose payloads are JSON only, as every payload of this protocol is.

    The default class searches every outgoing payload for bytes, to send them
    as binary attachments: half the cost of building a relayed message's
    packet (7.7 -> 3.6 us).

    What a client sends is decoded as before, except what this protocol has no
    use for and python-socketio would pass on or choke on: an event with a
    reserved name, a binary event or attachment (its placeholders can point
    at attachments that never come, leaving the socket deaf), and anything
    that does not decode. Each becomes the event REFUSED, with the reason,
    so that no handler of this app's or python-socketio's sees it.
    """

    uses_binary_events = False

    def decode(self, encoded_packet: str | bytes) -> int:
        """Decode a client's packet; return 0, the number of binary attachments that follow."""
        if not isinstance(encoded_packet, str):
            return self._refuse(REFUSED_BINARY)
        try:
            attachments = super().decode(encoded_packet)
        except Exception:  # whatever a client sends must not raise in the server
            return self._refuse(REFUSED_MALFORMED)
        if self.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK) or attachments:
            return self._refuse(REFUSED_BINARY)
        if self.packet_type == packet.EVENT:
            data = self.data
            if not isinstance(data, list) or not data or not isinstance(data[0], str):
                return self._refuse(REFUSED_MALFORMED)
            if data[0] in RESERVED_EVENTS:
                return self._refuse(REFUSED_RESERVED)
        elif self.packet_type not in (packet.CONNECT, packet.DISCONNECT, packet.ACK):
            return self._refuse(REFUSED_MALFORMED)
        return 0

    def _refuse(self, reason: str) -> int:
        if reason != REFUSED_RESERVED:
            self.id = None
        self.packet_type = packet.EVENT
        self.data = [REFUSED, reason]
        self.namespace = self.namespace if isinstance(self.namespace, str) else None
        return 0


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

# Server to client.
HELLO = "hello"
RING = "ring"
CALL_ACCEPTED = "call_accepted"
CALL_MOVED = "call_moved"
CALL_ENDED = "call_ended"
PRESENCE = "presence"
SIGNED_OUT = "signed_out"
# SIGNAL also travels from server to client, carrying the relayed message.

# What one side's setLocalDescription() makes for the other; a rollback is local to a peer
# connection and a pranswer has no use between two browsers, so neither is relayed.
DESCRIPTION_TYPES = {"offer", "answer"}
MAX_CANDIDATE_BYTES = 2048
MAX_CALL_ID = 64


def user_room(name: str) -> str:
    """Room holding every socket of one user (tabs, reconnects)."""
    return f"user:{name}"


def presence_room(name: str) -> str:
    """Room of the sockets watching whether `name` is online."""
    return f"presence:{name}"


def envelope(payload: object) -> dict:
    """Return the payload as a dict, or refuse it."""
    if not isinstance(payload, dict):
        raise SignalingError("invalid_payload", "The message must be a JSON object.")
    return payload


def name_field(payload: dict, key: str) -> str:
    """Return a valid folded user name from payload[key], or refuse."""
    name = fold_name(payload.get(key))
    if name is None:
        raise SignalingError("invalid_name")
    return name


def call_id_field(payload: dict) -> str:
    """Return payload['call_id'] if it is shaped like one, or refuse."""
    call_id = payload.get("call_id")
    if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_CALL_ID:
        raise SignalingError("invalid_payload", "call_id must be a call's id.")
    return call_id


def signal_body(payload: dict, max_sdp: int) -> dict:
    """Return the part of a signal that is relayed: one description or candidate.

    Only known fields are copied, so a client cannot smuggle anything else
    (a forged sender, say) to its peer.
    """
    epoch = payload.get("epoch", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise SignalingError("invalid_payload", "epoch must be a whole number.")
    if "description" in payload and "candidate" in payload:
        raise SignalingError("invalid_payload", "A signal carries a description or a candidate, not both.")
    if "description" in payload:
        return {"description": _description(payload["description"], max_sdp), "epoch": epoch}
    if "candidate" in payload:
        return {"candidate": _candidate(payload["candidate"]), "epoch": epoch}
    raise SignalingError("invalid_payload", "A signal carries a description or a candidate.")


def utf8_length(text: str) -> int:
    """The size of `text` in bytes, as it travels (the limits count bytes, not characters)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _description(value: object, max_sdp: int) -> dict:
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in DESCRIPTION_TYPES:  # an object or list is not hashable
        raise SignalingError("invalid_payload", "description needs a type: offer or answer.")
    sdp = value.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise SignalingError("invalid_payload", "description.sdp must be the SDP text.")
    if utf8_length(sdp) > max_sdp:
        raise SignalingError("payload_too_large", f"The SDP is larger than {max_sdp} bytes.")
    return {"type": value["type"], "sdp": sdp}


def _candidate(value: object) -> dict | None:
    if value is None:  # end of candidates
        return None
    if not isinstance(value, dict) or not isinstance(value.get("candidate"), str):
        raise SignalingError("invalid_payload", "candidate.candidate must be text.")
    if utf8_length(value["candidate"]) > MAX_CANDIDATE_BYTES:
        raise SignalingError("payload_too_large", "The ICE candidate is too large.")
    mid, index, ufrag = value.get("sdpMid"), value.get("sdpMLineIndex"), value.get("usernameFragment")
    if mid is not None and not (isinstance(mid, str) and len(mid) <= 64):
        raise SignalingError("invalid_payload", "candidate.sdpMid must be short text.")
    if index is not None and not (
        isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 1024
    ):
        raise SignalingError("invalid_payload", "candidate.sdpMLineIndex must be a small number.")
    if ufrag is not None and not (isinstance(ufrag, str) and len(ufrag) <= 256):
        raise SignalingError("invalid_payload", "candidate.usernameFragment must be short text.")
    return {
        "candidate": value["candidate"],
        "sdpMid": mid,
        "sdpMLineIndex": index,
        "usernameFragment": ufrag,
    }
