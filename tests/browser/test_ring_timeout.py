"""A call nobody answers, on a server whose calls ring for 3 seconds."""

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import expect_idle, place_call, ring_dialog, status

pytestmark = pytest.mark.browser

RING_TIMEOUT = 3
SERVER_ENV = {"RING_TIMEOUT": str(RING_TIMEOUT)}


def test_no_answer(joined):
    alice = joined("alice")
    bob = joined("bob")

    place_call(bob, "alice")
    dialog = ring_dialog(alice, "bob")
    expect(dialog).to_be_visible()

    # Alice does nothing; the server gives up after RING_TIMEOUT.
    timeout = (RING_TIMEOUT + 10) * 1000
    expect(status(bob)).to_have_text("alice did not answer.", timeout=timeout)
    expect(status(alice)).to_have_text("Missed call from bob.", timeout=timeout)
    expect(dialog).to_be_hidden()
    expect_idle(alice)
    expect_idle(bob)
