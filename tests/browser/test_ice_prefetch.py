"""The ICE servers are fetched while a call rings, so the first offer does not wait for them."""

import time

import pytest

from tests.support.browser_steps import answer, expect_in_call, place_call
from tests.support.coturn import TURN_SECRET
from tests.support.servers import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=[86400, 30], ids=["long-ttl", "short-ttl"])
def server(request, coturn):
    live = LiveServer(
        TURN_URLS=f"turn:127.0.0.1:{coturn.port}?transport=udp",
        TURN_SECRET=TURN_SECRET,
        TURN_TTL=str(request.param),
    )
    live.ttl = request.param
    yield live
    live.stop()


def ice_requests(page) -> list[str]:
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.endswith("/ice-servers") else None)
    return fetched


def wait_until(page, condition, timeout=10.0):
    """Wait for `condition`; Playwright delivers page events only while it is called."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def test_the_ice_servers_come_while_it_rings_and_are_fetched_again_only_near_expiry(joined, server):
    wade = joined("wade")
    xena = joined("xena")
    wade_fetched, xena_fetched = ice_requests(wade), ice_requests(xena)
    place_call(wade, "xena")
    # Both fetch as soon as the call starts: the caller calling, the callee ringing.
    wait_until(wade, lambda: len(wade_fetched) == 1 and len(xena_fetched) == 1)
    answer(xena, "wade")
    expect_in_call(xena, "wade")
    expect_in_call(wade, "xena")
    # Credentials that outlive the next minute serve the connection as they are;
    # ones about to expire (TURN_TTL=30) are fetched afresh on accepting.
    expected = 1 if server.ttl > 60 else 2
    wade.wait_for_timeout(200)  # let late request events arrive
    assert (len(wade_fetched), len(xena_fetched)) == (expected, expected)
