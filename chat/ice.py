"""ICE servers for a user: STUN URLs, and TURN URLs with expiring credentials.

TURN credentials follow the TURN REST API scheme that coturn checks with
`use-auth-secret`: the username is "<unix expiry>:<name>" and the password is
base64(HMAC-SHA1(secret, username)). coturn recomputes the password from its
copy of the secret and refuses a username whose time has passed, so the
secret itself never leaves the server.
"""

import base64
import hashlib
import hmac

TRANSPORT_POLICIES = ("all", "relay")


def turn_credentials(secret: str, name: str, ttl: int, now: float) -> tuple[str, str]:
    """Return (username, password) for `name`, valid for `ttl` seconds from `now`."""
    username = f"{int(now) + ttl}:{name}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_config(settings: dict, name: str, now: float) -> dict:
    """Return what a browser needs for RTCPeerConnection: iceServers and the transport policy."""
    servers = []
    if settings["STUN_URLS"]:
        servers.append({"urls": settings["STUN_URLS"]})
    expires_at = None
    if settings["TURN_URLS"]:
        username, password = turn_credentials(settings["TURN_SECRET"], name, settings["TURN_TTL"], now)
        servers.append({"urls": settings["TURN_URLS"], "username": username, "credential": password})
        expires_at = int(now) + settings["TURN_TTL"]
    return {
        "iceServers": servers,
        "iceTransportPolicy": settings["ICE_TRANSPORT_POLICY"],
        "expiresAt": expires_at,
    }


def check_settings(settings: dict) -> None:
    """Refuse settings that would give browsers ICE servers that cannot work."""
    if settings["ICE_TRANSPORT_POLICY"] not in TRANSPORT_POLICIES:
        raise RuntimeError(
            f"ICE_TRANSPORT_POLICY must be 'all' or 'relay', not {settings['ICE_TRANSPORT_POLICY']!r}."
        )
    if settings["TURN_URLS"] and not settings["TURN_SECRET"]:
        raise RuntimeError("TURN_URLS is set but TURN_SECRET is not: set the secret that coturn shares.")
    if settings["ICE_TRANSPORT_POLICY"] == "relay" and not settings["TURN_URLS"]:
        raise RuntimeError("ICE_TRANSPORT_POLICY=relay needs TURN_URLS: without a relay no call connects.")
    if settings["TURN_TTL"] <= 0:
        raise RuntimeError("TURN_TTL must be a positive number of seconds.")
