"""GET /ice-servers: fresh STUN and TURN servers for the logged-in user's next call.

TURN credentials expire (chat/turn/credentials.py), so the page fetches them
for every call; each fetch is a TURN username of its own, so a user may
fetch at most ICE_SERVERS_PER_MINUTE.
"""

import time

from flask import Blueprint, current_app
from flask_login import current_user

from chat.errors import SignalingError
from chat.state.limits import check_rate
from chat.turn.credentials import ice_config

bp = Blueprint("ice", __name__)


@bp.get("/ice-servers")
def ice_servers():
    """Give the logged-in user fresh ICE servers (TURN credentials expire)."""
    try:
        if not current_user.is_authenticated:  # the Store says whether the name is still this session's
            raise SignalingError("unauthorized")
        # Each fetch is a new TURN username, with a user-quota of its own in
        # coturn: bound how many one user can collect.
        check_rate((f"ice:user:{current_user.name}", "ICE_SERVERS_PER_MINUTE"))
    except SignalingError as err:  # unauthorized, rate_limited, unavailable
        return err.as_ack(), err.http_status
    config = ice_config(current_app.config, current_user.name, time.time())
    return {"ok": True, **config}, 200, {"Cache-Control": "no-store"}
