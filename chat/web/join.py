"""Claiming a name (POST /join) and giving it up (POST /leave).

Joining claims the name in the Store for this browser session (its owner
token) and logs the session in; the sockets it opens later attach to the
name (chat/signaling/connection.py). Leaving releases it at once and closes
the session's sockets.
"""

import logging

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from chat.errors import SignalingError
from chat.extensions import socketio
from chat.names import fold_name
from chat.signaling.announce import announce_ended, announce_presence
from chat.signaling.protocol import SIGNED_OUT
from chat.state import store
from chat.state.limits import check_rate
from chat.web.csrf import check_csrf
from chat.web.login import User, owner_token
from chat.web.pages import page

log = logging.getLogger(__name__)
bp = Blueprint("join", __name__)


@bp.post("/join")
def join():
    """Take a name for this browser session."""
    check_csrf()
    target = fold_name(request.form.get("next", ""))
    try:
        check_rate((f"join:addr:{request.remote_addr}", "JOIN_PER_MINUTE"))
    except SignalingError as err:
        return page(target, error=err.message, status=err.http_status)
    name = fold_name(request.form.get("name", ""))
    if name is None:
        return page(target, error=SignalingError("invalid_name").message, status=400)
    owner = owner_token()
    try:
        ended = store().claim(name, owner)
    except SignalingError as err:  # name_taken, or unavailable
        return page(target, error=err.message, status=err.http_status, typed=name)
    announce_ended(ended)
    login_user(User(name, owner))
    announce_presence(name, True)
    log.info("%s joined", name)
    return redirect(url_for("pages.invite", raw_name=target) if target else url_for("pages.index"))


@bp.post("/leave")
def leave():
    """Give the name up at once and close this user's sockets."""
    check_csrf()
    if current_user.is_authenticated:
        name = current_user.name
        sids, ended = store().release(name, current_user.owner)
        announce_ended(ended)
        announce_presence(name, False)
        for sid in sids:
            socketio.emit(SIGNED_OUT, {"reason": "left"}, to=sid)
            socketio.server.disconnect(sid)
        logout_user()
        log.info("%s left", name)
    return redirect(url_for("pages.index"))
