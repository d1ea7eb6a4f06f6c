"""The connection to Redis (REDIS_URL), shared by the Store and the Socket.IO message queue.

The URL may carry a password; only `redacted(url)` is ever logged. Requests
fail fast when Redis is down (a short connect timeout and one retry, for a
pooled connection that Redis has closed since), so that a page or an event
answers `unavailable` at once; `Outage` says so in the log once per outage,
and once when Redis is back.
"""

import logging
import threading
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0  # seconds to open a connection
COMMAND_TIMEOUT = 5.0  # seconds to wait for an answer (the Store's; not the message queue's, which listens)


def redacted(url: str) -> str:
    """`url` without its password: redis://:***@host:port/db."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def connection_options() -> dict:
    """redis-py options for every client of the app (the message queue's listener included)."""
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_keepalive": True,
        "health_check_interval": 30,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
    }


def connect(url: str) -> redis.Redis:
    """A client (with its pool) for the Store; connecting happens at the first command."""
    return redis.Redis.from_url(
        url, socket_timeout=COMMAND_TIMEOUT, decode_responses=True, **connection_options()
    )


class Outage:
    """Logs one line when Redis stops answering and one when it answers again."""

    def __init__(self, url: str):
        self._where = redacted(url)
        self._down = False
        self._lock = threading.Lock()

    def failed(self, err: Exception) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        log.error(
            "Redis at %s does not answer (%s): joins, calls and signals get 'unavailable' until it does; "
            "retrying",
            self._where,
            err,
        )

    def answered(self) -> None:
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
        log.warning("Redis at %s answers again", self._where)

    @property
    def down(self) -> bool:
        return self._down
