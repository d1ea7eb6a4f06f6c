"""coturn's TURN REST API scheme, as coturn checks a credential: the username's shape and the password."""

import base64
import hashlib
import hmac
import re

# "<expiry>:<name>/<nonce>": the nonce is 16 characters of base64url.
USERNAME = re.compile(r"(?P<expiry>\d+):(?P<name>[a-z0-9._-]{1,32})/(?P<nonce>[A-Za-z0-9_-]{16})")


def hmac_password(secret: str, username: str) -> str:
    """The password of `username`: base64(HMAC-SHA1(secret, username))."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
