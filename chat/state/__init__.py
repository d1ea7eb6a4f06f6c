"""State: who is online and in which call (the Store), each socket's sender, the rate limits.

`init_app` gives an app its backends. Without REDIS_URL: the in-memory
Store and limits, for one process. With it: the Redis Store and limits,
shared by every process that has the same REDIS_URL (and SECRET_KEY).
The Senders are this process's either way: a socket lives in the process
that accepted it. Everything else reaches them through the accessors below,
never through a backend class.
"""

from flask import Flask, current_app

from chat.state import limits
from chat.state.memory import MemoryStore
from chat.state.redis_client import Outage, connect
from chat.state.redis_store import RedisStore
from chat.state.senders import LocalSenders, Senders
from chat.state.store import Store


def init_app(app: Flask) -> None:
    """Give `app` its Store, Senders and limiter (app.extensions["chat.store"], ...)."""
    config = app.config
    url = config["REDIS_URL"]
    if url:
        outage = Outage(url)  # one line in the log per outage, whichever part meets it first
        app.extensions["chat.store"] = RedisStore(
            connect(url),
            grace=config["GRACE_PERIOD"],
            ring_timeout=config["RING_TIMEOUT"],
            outage=outage,
            process_timeout=config["PROCESS_TIMEOUT"],
        )
        limits.init_app(app, outage)
    else:
        app.extensions["chat.store"] = MemoryStore(
            grace=config["GRACE_PERIOD"], ring_timeout=config["RING_TIMEOUT"]
        )
        limits.init_app(app)  # app.extensions["chat.limiter"]
    app.extensions["chat.senders"] = LocalSenders()


def store() -> Store:
    """The Store of the current app."""
    return current_app.extensions["chat.store"]


def senders() -> Senders:
    """The Senders of the current app."""
    return current_app.extensions["chat.senders"]
