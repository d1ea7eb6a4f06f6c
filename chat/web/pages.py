"""Pages: the app (join form or call screen), invite links, and whether a name is online."""

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user

from chat.names import NAME_RULE, fold_name
from chat.records import registry
from chat.state import store

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Show the join form, or the call screen once joined."""
    return page(target=None)


@bp.get("/call/<raw_name>")
def invite(raw_name: str):
    """Show the page an invite link opens, prefilled with the person to call."""
    target = fold_name(raw_name)
    if target is None:
        abort(404, description=f"That invite link is not valid: a name is {NAME_RULE}.")
    return page(target=target)


@bp.get("/presence/<raw_name>")
def presence(raw_name: str):
    """Say whether a name is online, for the invite page before joining."""
    name = fold_name(raw_name)
    if name is None:
        return {"ok": False, "error": "invalid_name", "message": f"A name is {NAME_RULE}."}, 404
    return {"ok": True, "name": name, "online": store().holder(name) is not None}


def page(target: str | None, error: str | None = None, status: int = 200, typed: str = ""):
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
        devices=registry.devices(user.name) if user else [],
    )
    return html, status
