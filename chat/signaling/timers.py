"""The two timers: a call that rings unanswered, a name whose sockets are all gone.

Each runs as a background task of the Socket.IO server and, when it fires,
asks the Store whether its time is really up (the call may have been
answered, a socket may be back) before announcing anything.
"""

import logging

from flask import Flask, current_app

from chat.extensions import socketio
from chat.signaling.announce import announce_ended, announce_presence
from chat.state import store
from chat.state.store import Call

log = logging.getLogger(__name__)


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
