"""The Socket.IO protocol: event names, rooms and payload checks.

docs/protocol.md describes all of it for people writing other clients.
"""

from socketio import packet

from chat.errors import SignalingError
from chat.names import fold_name


class JsonPacket(packet.Packet):
    """Socket.IO packets whose payloads are JSON only, as every payload of this protocol is.

    The default class searches every outgoing payload for bytes, to send them
    as binary attachments: half the cost of building a relayed message's
    packet (7.7 -> 3.6 us). What clients send is decoded as before.
    """

    uses_binary_events = False


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

DESCRIPTION_TYPES = {"offer", "answer", "pranswer", "rollback"}
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
    if "description" in payload:
        return {"description": _description(payload["description"], max_sdp), "epoch": epoch}
    if "candidate" in payload:
        return {"candidate": _candidate(payload["candidate"]), "epoch": epoch}
    raise SignalingError("invalid_payload", "A signal carries a description or a candidate.")


def _description(value: object, max_sdp: int) -> dict:
    if not isinstance(value, dict) or value.get("type") not in DESCRIPTION_TYPES:
        raise SignalingError("invalid_payload", "description needs a type: offer or answer.")
    sdp = value.get("sdp", "")
    if not isinstance(sdp, str):
        raise SignalingError("invalid_payload", "description.sdp must be text.")
    if len(sdp) > max_sdp:
        raise SignalingError("payload_too_large", f"The SDP is larger than {max_sdp} bytes.")
    return {"type": value["type"], "sdp": sdp}


def _candidate(value: object) -> dict | None:
    if value is None:  # end of candidates
        return None
    if not isinstance(value, dict) or not isinstance(value.get("candidate"), str):
        raise SignalingError("invalid_payload", "candidate.candidate must be text.")
    if len(value["candidate"]) > MAX_CANDIDATE_BYTES:
        raise SignalingError("payload_too_large", "The ICE candidate is too large.")
    mid, index, ufrag = value.get("sdpMid"), value.get("sdpMLineIndex"), value.get("usernameFragment")
    if mid is not None and not (isinstance(mid, str) and len(mid) <= 64):
        raise SignalingError("invalid_payload", "candidate.sdpMid must be short text.")
    if index is not None and not (isinstance(index, int) and 0 <= index < 1024):
        raise SignalingError("invalid_payload", "candidate.sdpMLineIndex must be a small number.")
    if ufrag is not None and not (isinstance(ufrag, str) and len(ufrag) <= 256):
        raise SignalingError("invalid_payload", "candidate.usernameFragment must be short text.")
    return {
        "candidate": value["candidate"],
        "sdpMid": mid,
        "sdpMLineIndex": index,
        "usernameFragment": ufrag,
    }
