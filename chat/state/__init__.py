"""State: who is online and in which call (the Store), each socket's sender, the rate limits.

`init_app` gives an app its backends: the in-memory Store, this process's
Senders and the limiter on RATE_LIMIT_STORAGE. Everything else reaches them
through the accessors below, never through a backend class.
"""

from flask import Flask, current_app

from chat.state import limits
from chat.state.memory import MemoryStore
from chat.state.senders import LocalSenders, Senders
from chat.state.store import Store


def init_app(app: Flask) -> None:
    """Give `app` its Store, Senders and limiter (app.extensions["chat.store"], ...)."""
    app.extensions["chat.store"] = MemoryStore(grace=app.config["GRACE_PERIOD"])
    app.extensions["chat.senders"] = LocalSenders()
    limits.init_app(app)  # app.extensions["chat.limiter"]


def store() -> Store:
    """The Store of the current app."""
    return current_app.extensions["chat.store"]


def senders() -> Senders:
    """The Senders of the current app."""
    return current_app.extensions["chat.senders"]
