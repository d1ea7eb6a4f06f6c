"""A socket connects (its user's name gets a live connection) and disconnects.

The name itself was claimed by POST /join (chat/web/join.py); connecting
attaches the socket to it, joins the user's room and says hello. The last
socket to go starts the grace period after which the name is free.
"""

import logging

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from chat.errors import SignalingError, Unavailable
from chat.extensions import socketio
from chat.signaling.announce import announce_ended, announce_presence
from chat.signaling.protocol import HELLO, user_room
from chat.state import senders, store
from chat.state.senders import Sender

log = logging.getLogger(__name__)


@socketio.on("connect")
def on_connect(auth: object = None) -> None:
    """A logged-in browser connects: join its user room and say hello."""
    try:
        # Loading the user asks the Store whether the name is still this session's.
        if not current_user.is_authenticated:
            raise SignalingError("unauthorized")
        name = current_user.name
        device = str(current_user.device_id)
        ended = store().attach(name, current_user.owner, request.sid, device)
    except SignalingError as err:
        raise ConnectionRefusedError(err.code, err.as_ack()) from None
    announce_ended(ended)
    senders().add(Sender(name, request.sid, request.remote_addr, current_user.owner, device))
    join_room(user_room(name))
    announce_presence(name, True)
    log.info("%s connected: socket %s", name, request.sid)
    socketio.start_background_task(_say_hello, current_app._get_current_object(), request.sid, name)


HELLO_WAIT = 2.0  # seconds; python-socketio accepts the connection as soon as this handler returns


def _say_hello(app: Flask, sid: str, name: str) -> None:
    """Send `hello` (the name, and the call it is in) once the connection is established.

    python-socketio sends its connect packet only after the connect handler
    returns, so an emit from the handler reached the client before it: a
    client that subscribes when it is connected, or that drops events before
    the connect packet, missed it. This task runs once the handler's greenlet
    yields, after the packet has been queued (under threads, it waits for
    python-socketio to count the socket as connected). A socket refused or
    gone meanwhile gets nothing.
    """
    manager = socketio.server.manager
    waited = 0.0
    while not manager.is_connected(sid, "/"):
        if waited >= HELLO_WAIT:
            return
        socketio.sleep(0.01)
        waited += 0.01
    with app.app_context():
        try:
            call = store().call_of(name)
        except Unavailable:  # Redis went in the moment since the connect: no hello rather than a wrong one
            log.warning("no hello for %s (%s): the Store is unavailable", sid, name)
            return
        socketio.server.emit(HELLO, {"name": name, "call": call.view(name) if call else None}, to=sid)


@socketio.on("disconnect")
def on_disconnect(reason: object = None) -> None:
    """A socket is gone; the Store keeps its name for the grace period after the last one."""
    sender = senders().get(request.sid)
    senders().remove(request.sid)
    if sender is None:
        return
    try:
        store().detach(sender.name, sender.sid)
    except Unavailable:
        # Redis is down: the Store detaches the socket once Redis answers again (RedisStore.keep_alive).
        log.warning("socket %s (%s) went while the Store was unavailable", sender.sid, sender.name)
