"""Registering and using a name (POST /join), signing a browser out (POST /leave), giving a name up.

Joining with a free name registers it to this browser (chat/records: a
device key in its cookie, chat/web/login.py) and claims it in the Store; a
name registered to someone else is refused `name_taken`, whether its holder
is online or not. A browser that holds the name's key joins with it again.
The sockets the page opens later attach to the name
(chat/signaling/connection.py).

Leave signs this browser out: its device is removed, and with its last
device the name is given up. Giving the name up (POST /give-up, confirmed)
removes it for every device at once.
"""

import logging

from flask import Blueprint, Response, make_response, redirect, request, url_for
from flask_login import current_user

from chat.errors import SignalingError
from chat.names import fold_name
from chat.records import registry
from chat.signaling.announce import announce_ended, announce_presence, sign_out
from chat.state import store
from chat.state.limits import check_rate
from chat.web.csrf import check_csrf
from chat.web.login import device_key, device_label, forget_device_key, give_device_key
from chat.web.pages import page

log = logging.getLogger(__name__)
bp = Blueprint("join", __name__)


@bp.post("/join")
def join():
    """Take a name for this browser: its own registered name, or a free one registered to it now."""
    check_csrf()
    target = fold_name(request.form.get("next", ""))
    try:
        check_rate((f"join:addr:{request.remote_addr}", "JOIN_PER_MINUTE"))
    except SignalingError as err:
        return page(target, error=err.message, status=err.http_status)
    name = fold_name(request.form.get("name", ""))
    if name is None:
        return page(target, error=SignalingError("invalid_name").message, status=400)
    identity = registry.sign_in(device_key(), registry.kept_for())
    new_key = None
    if identity is None or identity.name != name:
        label = device_label(request.headers.get("User-Agent", ""))
        try:
            registered, new_key = registry.register(name, label, registry.kept_for())
        except SignalingError as err:
            return page(target, error=err.message, status=err.http_status, typed=name)
        if identity is not None:  # this browser held another name: it is signed out of that one
            _sign_out(identity.name, identity.owner, identity.device_id)
        identity = registered
    try:
        ended = store().claim(name, identity.owner)
    except SignalingError as err:  # unavailable (the registration stands: the cookie goes with the page)
        response = make_response(page(target, error=err.message, status=err.http_status, typed=name))
    else:
        announce_ended(ended)
        announce_presence(name, True)
        log.info("%s joined", name)
        response = redirect(url_for("pages.invite", raw_name=target) if target else url_for("pages.index"))
    return _with_key(response, new_key)


@bp.post("/leave")
def leave():
    """Sign this browser out: its device is removed; with the last one, the name is given up."""
    check_csrf()
    if current_user.is_authenticated:
        _sign_out(current_user.name, current_user.owner, current_user.device_id)
    response = redirect(url_for("pages.index"))
    forget_device_key(response)
    return response


@bp.post("/give-up")
def give_up():
    """Give the name up for good, on every device (the form confirms it)."""
    check_csrf()
    if current_user.is_authenticated and request.form.get("confirm") == current_user.name:
        name = current_user.name
        _release(name, current_user.owner)  # first: the call it ends is recorded, then deleted with the name
        registry.give_up(name)
        log.info("%s was given up", name)
        response = redirect(url_for("pages.index"))
        forget_device_key(response)
        return response
    return redirect(url_for("pages.index"))


def _sign_out(name: str, owner: str, device_id: int) -> None:
    sids = store().sids(name, str(device_id))  # before the removal: a Store that is down changes nothing
    registry.remove_device(name, device_id)
    if registry.devices(name):
        # Other devices keep the name; this one's key no longer signs in, and its other tabs go.
        sign_out(sids, "left")
        log.info("%s signed a device out", name)
        return
    _release(name, owner)  # first: the call it ends is recorded, then deleted with the name
    registry.give_up(name)
    log.info("%s left", name)


def _release(name: str, owner: str) -> None:
    sids, ended = store().release(name, owner)
    announce_ended(ended)
    announce_presence(name, False)
    sign_out(sids, "left")


def _with_key(response: Response, key: str | None) -> Response:
    if key is not None:
        give_device_key(response, key)
    return response
