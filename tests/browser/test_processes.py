"""A call between two browsers on two server processes survives a crash and a deploy of either (issue 12).

Two `make run` processes share one Redis; alice's page is on the first,
bob's on the second. Killing or restarting a process takes its pages'
signaling away for a moment; Socket.IO reconnects them to the process that
is started again on the same port, and the call goes on.
"""

import time

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser_steps import (
    connect_call,
    expect_idle,
    expect_in_call,
    expect_video_playing,
    join,
    status,
)
from tests.support.processes import Service

pytestmark = pytest.mark.browser

RECONNECTING = "Reconnecting to the server…"


@pytest.fixture(scope="module")
def server():
    """tests/browser/conftest.py's open_page opens pages on the first process of this service."""
    service = Service()
    yield service
    service.close()


@pytest.fixture
def call_across(open_page, server):
    """Return call_across(a, b) -> (page of a on process 0, page of b on process 1), in a call b placed."""

    def _call(a: str, b: str) -> tuple[Page, Page]:
        first = open_page("/")
        join(first, a)
        second = open_page("/")
        second.goto(server[1].url + "/")
        join(second, b)
        connect_call(second, b, first, a)
        return first, second

    return _call


def expect_reconnected(page: Page) -> None:
    expect(page.get_by_text(RECONNECTING)).to_be_hidden(timeout=20_000)


def expect_call_goes_on(first: Page, a: str, second: Page, b: str) -> None:
    expect_in_call(first, b)
    expect_in_call(second, a)
    for page in (first, second):
        expect(page.get_by_text("The call ended")).to_have_count(0)


def hang_up(page: Page, name: str, peer: Page) -> None:
    """`name` hangs up on `page`: both pages are idle again, and the peer is told who hung up."""
    page.get_by_role("button", name="Hang up").click()
    expect_idle(page)
    expect_idle(peer)
    expect(status(peer)).to_have_text(f"{name} hung up.")


def test_a_call_survives_a_sigkill_and_restart_of_a_process(call_across, server):
    alice, bob = call_across("alice", "bob")
    server.kill(0)
    expect(alice.get_by_text(RECONNECTING)).to_be_visible()
    expect_video_playing(alice, "Remote video")  # peer to peer: media does not need the server
    expect_video_playing(bob, "Remote video")
    server.start(0)
    expect_reconnected(alice)
    expect(alice.get_by_text("Your ID: alice", exact=True)).to_be_visible()
    time.sleep(3)  # past PROCESS_TIMEOUT (2 s): the killed process's socket of alice is detached
    expect_call_goes_on(alice, "alice", bob, "bob")
    hang_up(alice, "alice", bob)


def test_a_rolling_restart_ends_no_call(call_across, server):
    carol, dave = call_across("carol", "dave")
    for index, page in ((0, carol), (1, dave)):
        server.stop(index)
        expect(page.get_by_text(RECONNECTING)).to_be_visible()
        server.start(index)
        expect_reconnected(page)
        expect_call_goes_on(carol, "carol", dave, "dave")
    hang_up(dave, "dave", carol)


def test_a_page_refused_while_redis_is_down_connects_once_it_is_back(open_page, server):
    """Its socket reconnects to a restarted process while Redis is down: refused `unavailable`, it retries."""
    erin = open_page("/")
    join(erin, "erin")
    expect(erin.get_by_text("Your ID: erin", exact=True)).to_be_visible()
    # The page's modules have run (they come from process 0 too: killed while loading, they never would).
    expect(erin.get_by_role("button", name="Check connection")).to_be_enabled()
    server.redis.kill()
    server.kill(0)
    server.start(0)  # the page's next tries are refused: the Store does not answer
    time.sleep(3)  # a few refused tries
    assert "does not answer" in server[0].output()
    server.redis.start()  # empty: the page claims its name again from its session
    expect_reconnected(erin)
    expect(erin.get_by_text("Your ID: erin", exact=True)).to_be_visible()
    expect(erin.get_by_text("Reload the page")).to_have_count(0)
