"""Error codes shared by the pages and the Socket.IO protocol.

Codes are stable strings that clients map to their own text; the message is a
sentence for people and may change. docs/protocol.md lists every code.
"""

from chat.names import NAME_RULE

MESSAGES = {
    "unauthorized": "Join with a name first.",
    "invalid_name": f"A name is {NAME_RULE}.",
    "name_taken": "That name is registered to someone else. Pick another one.",
    "invalid_payload": "The message is malformed.",
    "payload_too_large": "The message is too large.",
    "unknown_event": "The server does not know that event.",
    "self_call": "You cannot call yourself.",
    "offline": "That person is not online.",
    "busy": "That person is busy in another call.",
    "already_in_call": "You are already in a call. Hang up first.",
    "no_such_call": "That call does not exist or has ended.",
    "not_ringing": "That call is no longer ringing.",
    "not_active": "That call has not been accepted yet.",
    "not_allowed": "Only the person called can accept or decline, and only the caller can cancel.",
    "rate_limited": "Too many attempts. Wait a minute and try again.",
    "internal": "Something went wrong on the server.",
    "unavailable": "The service is unavailable for a moment. Try again in a little while.",
}

# The HTTP status of a page that refuses with the code; 400 for the others.
HTTP_STATUS = {
    "unauthorized": 401,
    "name_taken": 409,
    "rate_limited": 429,
    "unavailable": 503,
    "internal": 500,
}


class SignalingError(Exception):
    """A refusal that goes back to the client as {ok: false, error, message}."""

    def __init__(self, code: str, message: str | None = None):
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES[code]

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def as_ack(self) -> dict:
        return {"ok": False, "error": self.code, "message": self.message}


class Unavailable(SignalingError):
    """The shared state (Redis) cannot be reached: nothing was changed; the client may try again."""

    def __init__(self) -> None:
        super().__init__("unavailable")
