"""A name that stays yours, in real browsers: away, a restart, a stranger, a missed call and Call back.

The server keeps its records (SQLite) and its development secret key in one
instance folder across a restart, as `make run` does: SECRET_KEY is unset.
Alice's browser is a context closed when she goes away and opened again from
its storage state (cookies and local storage) when she comes back.
"""

import tempfile
import time

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import answer, expect_in_call, join, ring_dialog, status
from tests.support.servers import LiveServer

GRACE = 1.0  # seconds: alice is offline soon after her last tab closes


class RestartableServer:
    """The app on one port, with one instance folder for all its runs."""

    def __init__(self):
        self.instance = tempfile.TemporaryDirectory(prefix="app-instance-")
        self.live = self._start(port=None)
        self.url = self.live.url

    def _start(self, port):
        return LiveServer(port=port, INSTANCE_PATH=self.instance.name, SECRET_KEY="", GRACE_PERIOD=str(GRACE))

    def restart(self):
        port = self.live.port
        self.live.stop()
        self.live = self._start(port)

    def check_alive(self):
        self.live.check_alive()

    def output(self):
        return self.live.output()

    def stop(self):
        self.live.stop()
        self.instance.cleanup()


@pytest.fixture(scope="module")
def server():
    restartable = RestartableServer()
    yield restartable
    restartable.stop()


def test_a_name_stays_hers_across_a_restart_and_her_missed_call_rings_back(server, open_page, joined):
    alice = joined("alice")
    visit = alice.context.storage_state()
    alice.context.close()  # alice goes away
    time.sleep(GRACE + 0.5)
    server.restart()
    assert "SECRET_KEY is not set; using the development key kept in" in server.output()

    mallory = open_page("/")
    mallory.get_by_label("Your name").fill("alice")
    mallory.get_by_role("button", name="Join").click()
    refusal = "That name is registered to someone else. Pick another one."
    expect(mallory.get_by_role("alert")).to_have_text(refusal)

    bob = open_page("/call/alice")
    expect(bob.get_by_text("alice is offline", exact=False)).to_be_visible()
    join(bob, "bob")
    bob.get_by_role("button", name="Call", exact=True).click()
    away = "alice is not online. If the name is registered, alice will see that you called."
    expect(status(bob)).to_have_text(away)

    alice = open_page("/", storage_state=visit)  # she comes back: herself at once, no click
    expect(alice.get_by_text("Your ID: alice", exact=True)).to_be_visible()
    missed = alice.get_by_role("region", name="While you were away")
    expect(missed).to_contain_text("Missed call from bob, today at")
    missed.get_by_role("button", name="Call back bob").click()
    expect(ring_dialog(bob, "alice")).to_be_visible()
    expect(missed).to_be_hidden()
    answer(bob, "alice")
    expect_in_call(alice, "bob")
    expect_in_call(bob, "alice")
    alice.get_by_role("button", name="Hang up").click()

    calls = alice.get_by_role("region", name="Recent calls").get_by_role("listitem")
    expect(calls).to_have_count(2)
    expect(calls.nth(0)).to_contain_text("To bob: Answered, ")
    expect(calls.nth(1)).to_contain_text("From bob: Missed, today at")
    expect(bob.get_by_role("region", name="Recent calls").get_by_role("listitem").nth(0)).to_contain_text(
        "From alice: Answered"
    )

    alice.reload()  # seen: the missed call is in the history, not the banner
    expect(calls).to_have_count(2)
    expect(missed).to_be_hidden()
