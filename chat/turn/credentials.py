"""ICE servers for a user: STUN URLs, and TURN URLs with expiring credentials.

TURN credentials follow the TURN REST API scheme that coturn checks with
`use-auth-secret`: the username is "<unix expiry>:<name>/<nonce>" and the
password is base64(HMAC-SHA1(secret, username)). coturn recomputes the
password from its copy of the secret and refuses a username whose time has
passed, so the secret itself never leaves the server.

coturn counts its `user-quota` of allocations per username without the expiry,
so each credential gets a random nonce of its own: with "<expiry>:<name>"
alone, anyone who once held a name could use up its quota with an old
credential, for as long as that credential lasts.
"""

import base64
import hashlib
import hmac
import secrets

TRANSPORT_POLICIES = ("all", "relay")
# 96 random bits, 16 characters of base64url (A-Z a-z 0-9 - _).
NONCE_BYTES = 12
# Between the name and the nonce: a character that no name holds (chat/names.py)
# and no nonce either, so a username splits into one name and one nonce only.
NONCE_SEPARATOR = "/"


def turn_credentials(
    secret: str, name: str, ttl: int, now: float, *, nonce: str | None = None
) -> tuple[str, str]:
    """Return a new (username, password) for `name`, valid for `ttl` seconds from `now`.

    Every call makes another username (a random nonce unless `nonce` is given).
    """
    if nonce is None:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
    username = f"{int(now) + ttl}:{name}{NONCE_SEPARATOR}{nonce}"
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
