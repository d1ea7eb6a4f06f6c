"""Who is who: the logged-in user, and CSRF tokens for the forms."""

import hmac
import secrets

from flask import abort, current_app, request, session
from flask_login import LoginManager, UserMixin

login_manager = LoginManager()


class User(UserMixin):
    """A browser session that holds a name; `owner` is its secret token."""

    def __init__(self, name: str, owner: str):
        self.name = name
        self.owner = owner

    def get_id(self) -> str:
        return f"{self.name}:{self.owner}"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Return the user unless the name was left or someone else has taken it since.

    A free name still counts as this user's (the server may have restarted
    and forgotten who held it), unless this user left it: an old copy of
    the cookie must not undo a Leave.
    """
    name, _, owner = user_id.partition(":")
    if not owner:
        return None
    store = current_app.extensions["chat.store"]
    holder = store.holder(name)
    if holder == owner or (holder is None and not store.has_left(name, owner)):
        return User(name, owner)
    return None


def owner_token() -> str:
    """Return this browser session's owner token, making one if needed."""
    if "owner" not in session:
        session["owner"] = secrets.token_urlsafe(18)
    return session["owner"]


def csrf_token() -> str:
    """Return the CSRF token of this session, for hidden form fields."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a form post whose token does not match the session's."""
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form has expired. Reload the page and try again.")
