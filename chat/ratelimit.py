"""Rate limits: at most so many attempts per window (a minute unless said) for one key.

A sliding log per key (the times of recent attempts), kept in this process's
memory under a lock; a shared backend for several processes comes with the
Redis store.
"""

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW = 60.0
# Drop idle keys once there are this many, so memory stays bounded.
PRUNE_AT = 10_000


class RateLimiter:
    """Count attempts per key over the last WINDOW seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._longest = WINDOW  # the longest window asked for, beyond which a key is idle

    def allow(self, key: str, limit: int, window: float = WINDOW) -> bool:
        """Record an attempt for `key`; say whether it is within `limit` attempts in `window` seconds."""
        now = self._clock()
        with self._lock:
            self._longest = max(self._longest, window)
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            if len(self._hits) > PRUNE_AT:
                self._prune(now)
            return True

    def _prune(self, now: float) -> None:
        stale = [k for k, hits in self._hits.items() if not hits or now - hits[-1] >= self._longest]
        for key in stale:
            del self._hits[key]
