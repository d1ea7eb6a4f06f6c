"""Rate limits through the `limits` library (the engine under Flask-Limiter).

The counts live in the storage named by RATE_LIMIT_STORAGE, else REDIS_URL:
"lazy-memory://" (this process's memory, chat/state/limit_storage.py, the
default), or Redis (limits' RedisStorage), shared by every process, with no
change here or in the handlers.

One strategy of `limits` counts them all: the sliding-window counter (two
fixed-window counters, the previous one weighted by how much of it is still
in the window), for joins, calls, /ice-servers fetches, signals and their
bytes. It holds two numbers per key whatever the limit, where a moving
window keeps a log of every hit (200 signals per user, or one entry per
relayed byte), and it is the one limits' storages all support. Its count is
an estimate between two windows: a client can get at most about one limit's
worth more than a strict log would allow, spread over two windows.

`limits` has no token bucket, so "50 signals a second with bursts of 200" is
one window of SIGNAL_BURST signals per SIGNAL_BURST / SIGNALS_PER_SECOND
seconds (200 per 4 s): an idle client may send the whole burst at once, and a
busy one averages the rate. (A second, per-second limit checked together would
forbid the burst.)
"""

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import RateLimiter, SlidingWindowCounterRateLimiter

from chat.errors import SignalingError, Unavailable
from chat.state import limit_storage  # noqa: F401  (registers lazy-memory://)
from chat.state.redis_client import COMMAND_TIMEOUT, Outage, connection_options

log = logging.getLogger(__name__)

SLIDING = "sliding"


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `amount` (hits, or their cost) per `seconds` for one key, counted by `strategy`."""

    amount: int
    seconds: float
    strategy: str = SLIDING  # the only one (module docstring)

    @classmethod
    def per_minute(cls, amount: int) -> "Limit":
        return cls(amount, 60.0)


@lru_cache(maxsize=256)
def _item(amount: int, seconds: float) -> RateLimitItem:
    # `limits` counts whole seconds: a window is never shorter than asked for.
    return RateLimitItemPerSecond(amount, max(1, math.ceil(seconds)), namespace="chat")


class Limiter:
    """Count hits per key in a `limits` storage; `hit` says whether one more is allowed.

    A storage that cannot be reached (Redis down) refuses with `unavailable`,
    and `outage` logs it once.
    """

    def __init__(self, storage_url: str = "lazy-memory://", outage: Outage | None = None):
        options = {}
        if storage_url.startswith(("redis://", "rediss://", "unix://")):
            options = {"socket_timeout": COMMAND_TIMEOUT, **connection_options()}
        self.storage: Storage = storage_from_string(storage_url, wrap_exceptions=True, **options)
        self._strategies: dict[str, RateLimiter] = {SLIDING: SlidingWindowCounterRateLimiter(self.storage)}
        self._outage = outage or Outage(storage_url)

    def hit(self, key: str, limit: Limit, cost: int = 1) -> bool:
        """Record `cost` for `key` and say whether it is within `limit`; a refused hit is not counted."""
        try:
            allowed = self._strategies[limit.strategy].hit(_item(limit.amount, limit.seconds), key, cost=cost)
        except StorageError as err:
            self._outage.failed(err.storage_error)
            raise Unavailable() from None
        self._outage.answered()
        return allowed

    def reset(self) -> None:
        """Forget every count (tests)."""
        self.storage.reset()


def current() -> Limiter:
    """The limiter of the current app: its counts are shared by every process (with REDIS_URL)."""
    return current_app.extensions["chat.limiter"]


def local() -> Limiter:
    """The limiter of this process alone, always in its memory: the signal limits'.

    The signal limits bound what a sender can make this process hold for a
    peer, and they are checked for every relayed message; counting them in
    Redis cost two round trips and about ten commands per message, more than
    the relay itself (docs/benchmarks.md). A user with tabs on two processes
    has the budget once on each, which bounds each process all the same.
    """
    return current_app.extensions["chat.local_limiter"]


def check_rate(*limits: tuple[str, str], window: str | None = None, message: str | None = None) -> None:
    """Refuse with rate_limited unless every (key, setting) is within its limit.

    The limit is the setting's amount per minute, or per the number of seconds
    in the setting `window`.
    """
    limiter = current()
    seconds = current_app.config[window] if window else 60.0
    for key, setting in limits:
        if not limiter.hit(key, Limit(current_app.config[setting], seconds)):
            log.warning("rate limited: %s", key)
            raise SignalingError("rate_limited", message)


def signal_window(config) -> Limit:
    """SIGNAL_BURST signals per the seconds that SIGNALS_PER_SECOND takes to send them."""
    burst = config["SIGNAL_BURST"]
    return Limit(burst, burst / config["SIGNALS_PER_SECOND"], SLIDING)


def init_app(app, outage: Outage | None = None) -> "Limiter":
    """The app's limiter, on RATE_LIMIT_STORAGE, else REDIS_URL, else lazy-memory://.

    Kept as app.extensions["chat.limiter"]; the signal limits' (local()) as
    app.extensions["chat.local_limiter"], the same one when it is in memory anyway.
    """
    url = app.config["RATE_LIMIT_STORAGE"] or app.config["REDIS_URL"] or "lazy-memory://"
    limiter = Limiter(url, outage)
    app.extensions["chat.limiter"] = limiter
    app.extensions["chat.local_limiter"] = limiter if url == "lazy-memory://" else Limiter("lazy-memory://")
    return limiter
