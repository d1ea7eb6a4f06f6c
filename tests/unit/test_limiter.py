"""The Limiter (chat/state/limits.py): so many hits per window per key, on limits' memory storage."""

import pytest

from chat.state.limits import Limit, Limiter
from tests.support.clock import Clock


@pytest.fixture
def clock(monkeypatch):
    from chat.state import limit_storage

    fake = Clock()
    monkeypatch.setattr(limit_storage, "time", fake)
    return fake


def test_the_limiter_allows_so_many_per_minute_per_key(clock):
    limiter = Limiter()
    start = clock.now
    assert [limiter.hit("a", Limit.per_minute(3)) for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("b", Limit.per_minute(3))  # another key has its own count
    clock.now = start + 59.9
    assert not limiter.hit("a", Limit.per_minute(3))
    clock.now = start + 60.1
    assert limiter.hit("a", Limit.per_minute(3))  # the first attempt has left the window


def test_the_limiter_keeps_each_window(clock):
    limiter = Limiter()
    start = clock.now
    assert [limiter.hit("pair", Limit(2, 600)) for _ in range(3)] == [True, True, False]
    clock.now = start + 300.0
    assert not limiter.hit("pair", Limit(2, 600))
    assert limiter.hit("minute", Limit.per_minute(1))
    clock.now = start + 600.1
    assert limiter.hit("pair", Limit(2, 600))
