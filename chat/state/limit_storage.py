"""A `limits` storage in this process's memory that expires counts lazily, with no timer.

`limits`' own MemoryStorage (5.8.0) starts a timer thread 10 ms after any
hit that walks every key it holds, and keeps every moving-window key it has
ever seen: with a count per user for signals, that walk took 50 to 70 % of
the server's CPU at 1,000 relayed messages a second with 1,000 users, and
grows with the users (docs/benchmarks.md). This storage implements the same
interface (limits' documented way to add a storage: subclass `Storage`, name
a scheme) for the sliding-window counter, the only strategy chat uses: a
count that has expired is dropped when it is next read, and the expired ones
nobody reads are dropped in one pass at most every SWEEP_EVERY seconds,
during a hit. RATE_LIMIT_STORAGE selects it as "lazy-memory://"; a redis://
URL replaces it without a change elsewhere.
"""

import threading
import time
from math import floor

from limits.storage import SlidingWindowCounterSupport, Storage
from limits.storage.base import TimestampedSlidingWindow

SWEEP_EVERY = 10.0  # seconds between passes over the counts that nobody has read since they expired


class LazyMemoryStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """Counters with an expiry each, in two dicts under one lock; expired ones go when read or swept."""

    STORAGE_SCHEME = ["lazy-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        self._counts: dict[str, int] = {}
        self._expiries: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.time() + SWEEP_EVERY
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    # The Storage interface

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._sweep(now)
            return self._add(key, expiry, amount, now)

    def get(self, key: str) -> int:
        with self._lock:
            return self._live(key, time.time())

    def get_expiry(self, key: str) -> float:
        return self._expiries.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            held = len(self._counts)
            self._counts.clear()
            self._expiries.clear()
        return held

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)

    # The sliding-window counter: limits' own arithmetic, done under the lock, so no hit is undone

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        with self._lock:
            self._sweep(now)
            previous, previous_ttl, current, _ = self._window(previous_key, current_key, expiry, now)
            if floor(previous * previous_ttl / expiry + current) + amount > limit:
                return False
            # A new window's counter lives twice the window: it is the previous one next.
            self._add(current_key, 2 * expiry, amount, now)
            return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        with self._lock:
            return self._window(previous_key, current_key, expiry, now)

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            self.clear(window_key)

    # Under the lock

    def _live(self, key: str, now: float) -> int:
        expires = self._expiries.get(key)
        if expires is None:
            return 0
        if expires <= now:
            del self._expiries[key]
            self._counts.pop(key, None)
            return 0
        return self._counts[key]

    def _add(self, key: str, expiry: float, amount: int, now: float) -> int:
        count = self._live(key, now) + amount
        if key not in self._expiries:
            self._expiries[key] = now + expiry
        self._counts[key] = count
        return count

    def _window(self, previous_key: str, current_key: str, expiry: int, now: float):
        previous, current = self._live(previous_key, now), self._live(current_key, now)
        previous_ttl = 0.0 if previous == 0 else (1 - (((now - expiry) / expiry) % 1)) * expiry
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY
        for key in [key for key, expires in self._expiries.items() if expires <= now]:
            del self._expiries[key]
            self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)
