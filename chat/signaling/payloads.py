"""Checks of what clients send: each returns the field as it may be used, or refuses.

A refusal is a SignalingError (invalid_payload, invalid_name or
payload_too_large), which the dispatcher sends back as the ack; nothing has
changed by then. Limits count UTF-8 bytes, as the message travels.
"""

from chat.errors import SignalingError
from chat.names import fold_name
from chat.signaling.protocol import DESCRIPTION_TYPES, MAX_CALL_ID, MAX_CANDIDATE_BYTES


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
