"""Another device for a registered name: one-time links (POST /devices/link, GET /device/<token>), removal.

Only the name's holder makes a link; it signs one browser in, once, within
ten minutes (chat/records/registry.py). A used, expired or forged link
changes nothing and says so. Removing a device revokes its key, and its
open pages are signed out at once, in whichever process holds their sockets.
"""

import logging

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user

from chat.errors import SignalingError
from chat.records import registry
from chat.signaling.announce import announce_ended, sign_out
from chat.state import store
from chat.web.csrf import check_csrf
from chat.web.login import device_label, give_device_key

log = logging.getLogger(__name__)
bp = Blueprint("devices", __name__)


@bp.post("/devices/link")
def make_link():
    """A one-time link that signs another browser in as this user: {ok, url, expires_in}."""
    check_csrf()
    if not current_user.is_authenticated:
        return SignalingError("unauthorized").as_ack(), 401
    token = registry.create_link(current_user.name)
    base = current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")
    log.info("%s made a device link", current_user.name)
    seconds = int(registry.LINK_TTL.total_seconds())
    return {"ok": True, "url": f"{base}{url_for('devices.use_link', token=token)}", "expires_in": seconds}


@bp.get("/device/<token>")
def use_link(token: str):
    """Sign this browser in with a device link, once."""
    label = device_label(request.headers.get("User-Agent", ""))
    used = registry.redeem_link(token, label, registry.kept_for())
    if used is None:
        abort(410, description="This link has been used or has expired. Make a new one on your other device.")
    identity, key = used
    name = identity.name
    try:
        announce_ended(store().claim(name, identity.owner))
    except SignalingError:  # unavailable: the device stands, and its page's connect says what is wrong
        log.warning("%s added a device while the Store could not claim the name", name)
    log.info("%s added a device", name)
    response = redirect(url_for("pages.index"))
    give_device_key(response, key)
    return response


@bp.post("/devices/<int:device_id>/remove")
def remove(device_id: int):
    """Revoke one of this user's other devices."""
    check_csrf()
    if not current_user.is_authenticated or device_id == current_user.device_id:
        return redirect(url_for("pages.index"))
    name = current_user.name
    sids = store().sids(name, str(device_id))  # before the removal: a Store that is down changes nothing
    if registry.remove_device(name, device_id):
        sign_out(sids, "removed")
        log.info("%s removed a device", name)
    return redirect(url_for("pages.index"))
