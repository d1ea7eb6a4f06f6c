"""The deadlines: a call that rings unanswered, a name whose sockets are all gone.

The Store keeps them (chat/state/store.py): a call that starts ringing is
due after RING_TIMEOUT, a name whose last socket went after GRACE_PERIOD.
One task per process looks at them every TICK seconds and acts on those that
are due; with several processes sharing Redis each one looks, and the
Store's expire_ring and expire let exactly one of them act and announce. So a
deadline is kept even if the process that set it has died.

The same task beats for the process about once a second (Store.keep_alive):
a shared Store then detaches the sockets of processes that have stopped, and
if it has lost this process's sockets (Redis restarted empty), they are
attached again. While the Store cannot be reached the task waits longer and
longer between tries, up to MAX_BACKOFF seconds.
"""

import logging
import time

from flask import Flask

from chat.errors import SignalingError, Unavailable
from chat.extensions import socketio
from chat.signaling.announce import announce_ended, announce_presence
from chat.signaling.dispatch import close_connection
from chat.state import senders, store
from chat.state.store import RING

log = logging.getLogger(__name__)

TICK = 0.1  # seconds between looks at the deadlines: how late one may be acted on
BEAT = 1.0  # seconds between heartbeats
MAX_BACKOFF = 10.0  # seconds between tries while the Store does not answer


def start(app: Flask) -> None:
    """Start the app's deadline task (one per process); it ends when another app takes over `socketio`."""
    socketio.start_background_task(_watch, app)


def still_serving(app: Flask) -> bool:
    """Whether `app` is the one `socketio` serves; its background tasks stop when it is not."""
    # `socketio` is bound to the app created last; a task left by an earlier
    # app (the test suite makes many) must not touch the current one.
    return app.extensions.get("chat.socketio_server") is socketio.server


def _watch(app: Flask) -> None:
    wait = TICK
    next_beat = 0.0
    while True:
        socketio.sleep(wait)
        if not still_serving(app):
            return
        with app.app_context():
            try:
                if time.monotonic() >= next_beat:
                    _beat()
                    next_beat = time.monotonic() + BEAT
                for kind, key in store().due():
                    _act(kind, key)
                wait = TICK
            except Unavailable:
                wait = min(max(wait * 2, 0.5), MAX_BACKOFF)
            except Exception:  # a bug must not stop every deadline of this process
                log.exception("acting on the deadlines failed")
                wait = 1.0


def _act(kind: str, key: str) -> None:
    if kind == RING:
        announce_ended(store().expire_ring(key))
        return
    released, ended = store().expire(key)
    if released:
        log.info("%s is offline", key)
        announce_presence(key, False)
        announce_ended(ended)


def _beat() -> None:
    if store().keep_alive():
        return
    # Redis does not know this process's sockets (it lost its data): claim their names again.
    for sender in senders():
        try:
            announce_ended(store().attach(sender.name, sender.owner, sender.sid, sender.device))
        except Unavailable:
            raise
        except SignalingError as err:  # someone else holds the name now: this socket may not act as it
            log.warning(
                "closing %s (%s): its name could not be attached again: %s", sender.sid, sender.name, err.code
            )
            close_connection(sender.sid)
