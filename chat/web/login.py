"""Who is who: the logged-in user of a browser session (Flask-Login), and its owner token."""

import secrets

from flask import session
from flask_login import LoginManager, UserMixin

from chat.state import store

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
    names = store()
    holder = names.holder(name)
    if holder == owner or (holder is None and not names.has_left(name, owner)):
        return User(name, owner)
    return None


def owner_token() -> str:
    """Return this browser session's owner token, making one if needed."""
    if "owner" not in session:
        session["owner"] = secrets.token_urlsafe(18)
    return session["owner"]
