"""Pages: the app, invite links, join and leave."""

import logging
import time

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from chat.auth import User, check_csrf, owner_token
from chat.calls import announce_ended, announce_presence, check_rate, store
from chat.errors import SignalingError
from chat.extensions import socketio
from chat.ice import ice_config
from chat.names import NAME_RULE, fold_name
from chat.protocol import SIGNED_OUT

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Show the join form, or the call screen once joined."""
    return _page(target=None)


@bp.get("/call/<raw_name>")
def invite(raw_name: str):
    """Show the page an invite link opens, prefilled with the person to call."""
    target = fold_name(raw_name)
    if target is None:
        abort(404, description=f"That invite link is not valid: a name is {NAME_RULE}.")
    return _page(target=target)


@bp.get("/presence/<raw_name>")
def presence(raw_name: str):
    """Say whether a name is online, for the invite page before joining."""
    name = fold_name(raw_name)
    if name is None:
        return {"ok": False, "error": "invalid_name", "message": f"A name is {NAME_RULE}."}, 404
    return {"ok": True, "name": name, "online": store().holder(name) is not None}


@bp.get("/ice-servers")
def ice_servers():
    """Give the logged-in user fresh ICE servers (TURN credentials expire)."""
    if not current_user.is_authenticated:
        return SignalingError("unauthorized").as_ack(), 401
    try:
        # Each fetch is a new TURN username, with a user-quota of its own in
        # coturn: bound how many one user can collect.
        check_rate((f"ice:user:{current_user.name}", "ICE_SERVERS_PER_MINUTE"))
    except SignalingError as err:
        return err.as_ack(), 429
    config = ice_config(current_app.config, current_user.name, time.time())
    return {"ok": True, **config}, 200, {"Cache-Control": "no-store"}


@bp.post("/join")
def join():
    """Take a name for this browser session."""
    check_csrf()
    target = fold_name(request.form.get("next", ""))
    try:
        check_rate((f"join:addr:{request.remote_addr}", "JOIN_PER_MINUTE"))
    except SignalingError as err:
        return _page(target, error=err.message, status=429)
    name = fold_name(request.form.get("name", ""))
    if name is None:
        return _page(target, error=SignalingError("invalid_name").message, status=400)
    owner = owner_token()
    try:
        ended = store().claim(name, owner)
    except SignalingError as err:
        return _page(target, error=err.message, status=409, typed=name)
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


def _page(target: str | None, error: str | None = None, status: int = 200, typed: str = ""):
    user = current_user if current_user.is_authenticated else None
    base = current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")
    invite_url = f"{base}{url_for('pages.invite', raw_name=user.name)}" if user else None
    html = render_template(
        "index.html",
        user=user,
        target=target,
        error=error,
        typed=typed,
        invite_url=invite_url,
        name_rule=NAME_RULE,
        has_turn=bool(current_app.config["TURN_URLS"]),
        relay_only=current_app.config["ICE_TRANSPORT_POLICY"] == "relay",
    )
    return html, status
