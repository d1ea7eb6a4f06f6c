"""What follows a change of state: telling the clients, and the two timers.

Both the Socket.IO handlers and the pages end calls (Leave does), so the
announcements live here rather than in either of them.
"""

import logging

from flask import Flask, current_app

from chat.errors import SignalingError
from chat.extensions import socketio
from chat.limits import Limit
from chat.limits import current as current_limiter
from chat.protocol import CALL_ENDED, PRESENCE, presence_room, user_room
from chat.store import Call, Ended, Store

log = logging.getLogger(__name__)


def store() -> Store:
    """Return the state backend of the current app."""
    return current_app.extensions["chat.store"]


def check_rate(*limits: tuple[str, str], window: str | None = None, message: str | None = None) -> None:
    """Refuse with rate_limited unless every (key, setting) is within its limit.

    The limit is per minute, or per the number of seconds in the setting `window`.
    """
    limiter = current_limiter()
    seconds = current_app.config[window] if window else 60.0
    for key, setting in limits:
        if not limiter.hit(key, Limit(current_app.config[setting], seconds)):
            log.warning("rate limited: %s", key)
            raise SignalingError("rate_limited", message)


def announce_ended(ended: Ended | None) -> None:
    """Tell every socket of both parties that a call is over, and why."""
    if ended is None:
        return
    call = ended.call
    log.info("call %s ended: %s", call.id, ended.reason)
    payload = {"call_id": call.id, "reason": ended.reason, "by": ended.by}
    socketio.emit(CALL_ENDED, payload, to=[user_room(call.caller), user_room(call.callee)])


def announce_presence(name: str, online: bool) -> None:
    """Tell the sockets watching `name` whether it is online."""
    socketio.emit(PRESENCE, {"name": name, "online": online}, to=presence_room(name))


def start_ring_timer(call: Call) -> None:
    """End the call as unanswered if it still rings after RING_TIMEOUT."""
    app = current_app._get_current_object()
    socketio.start_background_task(_ring_timer, app, call.id)


def start_grace_timer(name: str) -> None:
    """Free `name` if none of its sockets is back after GRACE_PERIOD."""
    app = current_app._get_current_object()
    socketio.start_background_task(_grace_timer, app, name)


def _still_serving(app: Flask) -> bool:
    # `socketio` is bound to the app created last; a timer left by an earlier
    # app (the test suite makes many) must not touch the current one.
    return app.extensions.get("chat.socketio_server") is socketio.server


def _ring_timer(app: Flask, call_id: str) -> None:
    socketio.sleep(app.config["RING_TIMEOUT"])
    if not _still_serving(app):
        return
    with app.app_context():
        announce_ended(store().expire_ring(call_id))


def _grace_timer(app: Flask, name: str) -> None:
    # A little past the period, so that the store agrees it is over.
    socketio.sleep(app.config["GRACE_PERIOD"] + 0.05)
    if not _still_serving(app):
        return
    with app.app_context():
        released, ended = store().expire(name)
        if released:
            log.info("%s is offline", name)
            announce_presence(name, False)
            announce_ended(ended)
