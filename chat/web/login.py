"""Who is who: the device key a browser holds (its cookie) names the user (Flask-Login).

Joining registers a name to this browser and gives it a long-lived random
key, in the DEVICE_COOKIE (HttpOnly, SameSite=Lax, Secure in production);
the records keep its digest (chat/records). Every request and every socket
connect is signed in from that cookie alone, through Flask-Login's
request_loader: a restart of the app, or days away, change nothing, and a
device whose key was removed is signed out at its next request.
"""

from flask import Response, current_app, g, request
from flask_login import LoginManager, UserMixin
from sqlalchemy.exc import SQLAlchemyError

from chat import records
from chat.records import registry
from chat.records.registry import Identity
from chat.state import store

login_manager = LoginManager()
DEVICE_COOKIE = "videocall_device"


class User(UserMixin):
    """A browser signed in as `name`; `owner` is the name's holder in the Store, for all its devices."""

    def __init__(self, identity: Identity):
        self.name = identity.name
        self.owner = identity.owner
        self.device_id = identity.device_id

    def get_id(self) -> str:
        return str(self.device_id)


@login_manager.request_loader
def load_user(request_) -> User | None:
    """The user whose device key the request's cookie holds, unless someone else holds the name live."""
    if g.get("records_failed"):
        return None  # the error page that says so is rendered signed out
    try:
        identity = registry.sign_in(request_.cookies.get(DEVICE_COOKIE), registry.kept_for())
    except SQLAlchemyError as err:  # a page answers 503, a connect is refused `unavailable`
        g.records_failed = True
        raise records.unavailable(err) from None
    if identity is None:
        return None
    holder = store().holder(identity.name)
    if holder is not None and holder != identity.owner:
        return None
    return User(identity)


def give_device_key(response: Response, key: str) -> None:
    """Have the browser keep `key` for as long as the name is kept."""
    response.set_cookie(DEVICE_COOKIE, key, max_age=int(registry.kept_for().total_seconds()), **_cookie())


def forget_device_key(response: Response) -> None:
    response.delete_cookie(DEVICE_COOKIE, **_cookie())


def device_key() -> str | None:
    """The device key this request's cookie holds, if any."""
    return request.cookies.get(DEVICE_COOKIE)


def _cookie() -> dict:
    return {
        "httponly": True,
        "secure": current_app.config.get("SESSION_COOKIE_SECURE", False),
        "samesite": "Lax",
    }


def device_label(user_agent: str) -> str:
    """A short name for a device, from its User-Agent: "Firefox on Linux"."""
    browsers = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
    systems = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
               ("Mac OS", "macOS"), ("Linux", "Linux"))  # fmt: skip
    browser = next((label for token, label in browsers if token in user_agent), "A browser")
    system = next((label for token, label in systems if token in user_agent), None)
    return f"{browser} on {system}" if system else browser
