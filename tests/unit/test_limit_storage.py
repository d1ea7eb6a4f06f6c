"""chat/state/limit_storage.py: limits' sliding-window counter on a storage that expires lazily.

It must decide every hit as limits' own MemoryStorage does (the same
arithmetic), and must not keep what has expired: a count read after its
expiry is gone, and the ones nobody reads go in the next sweep.
"""

import random

import limits.storage.memory
import pytest
from limits import RateLimitItemPerSecond
from limits.strategies import SlidingWindowCounterRateLimiter

from chat.state import limit_storage
from chat.state.limit_storage import SWEEP_EVERY, LazyMemoryStorage
from tests.support.clock import Clock


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(limit_storage, "time", fake)
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    return fake


def test_it_decides_every_hit_as_limits_memory_storage_does(clock):
    ours = SlidingWindowCounterRateLimiter(LazyMemoryStorage())
    library = limits.storage.MemoryStorage()
    theirs = SlidingWindowCounterRateLimiter(library)
    try:
        rng = random.Random(11)
        items = [RateLimitItemPerSecond(5, 4), RateLimitItemPerSecond(20, 60), RateLimitItemPerSecond(3, 1)]
        decisions = []
        for _ in range(3000):
            clock.now += rng.choice([0.0, 0.01, 0.1, 0.5, 1.3, 7.0])
            item, key, cost = rng.choice(items), rng.choice("abc"), rng.choice([1, 1, 1, 2, 9])
            mine, library_says = ours.hit(item, key, cost=cost), theirs.hit(item, key, cost=cost)
            assert mine == library_says, (clock.now, item, key, cost)
            decisions.append(mine)
        assert True in decisions and False in decisions  # both answers were exercised
    finally:
        library.timer.cancel()


def test_a_count_read_after_its_expiry_is_gone(clock):
    storage = LazyMemoryStorage()
    assert storage.incr("k", 10) == 1
    assert storage.incr("k", 10, amount=2) == 3
    assert storage.get("k") == 3 and storage.get_expiry("k") == clock.now + 10
    clock.now += 10
    assert storage.get("k") == 0
    assert len(storage) == 0
    assert storage.incr("k", 10) == 1  # a new count, with a new expiry
    assert storage.get_expiry("k") == clock.now + 10


def test_expired_counts_nobody_reads_go_in_the_next_sweep(clock):
    storage = LazyMemoryStorage()
    for n in range(100):
        storage.incr(f"gone-{n}", 5)
    storage.incr("kept", 3600)
    clock.now += 6
    storage.incr("other", 3600)  # no sweep yet: it is less than SWEEP_EVERY since the storage began
    assert len(storage) == 102
    clock.now += SWEEP_EVERY
    storage.incr("other", 3600)
    assert len(storage) == 2
    assert storage.get("kept") == 1 and storage.get("other") == 2


def test_clear_and_reset(clock):
    storage = LazyMemoryStorage()
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = RateLimitItemPerSecond(1, 60)
    assert limiter.hit(item, "a") and not limiter.hit(item, "a")
    limiter.clear(item, "a")
    assert limiter.hit(item, "a")
    storage.incr("b", 60)
    assert storage.reset() == 2
    assert len(storage) == 0 and limiter.hit(item, "a")


def test_a_cost_over_the_limit_is_refused_and_not_counted(clock):
    storage = LazyMemoryStorage()
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = RateLimitItemPerSecond(10, 60)
    assert not limiter.hit(item, "a", cost=11)
    assert len(storage) == 0
    assert limiter.hit(item, "a", cost=10) and not limiter.hit(item, "a")
