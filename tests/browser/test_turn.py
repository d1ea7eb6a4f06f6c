"""Calls through a real coturn relay, with the app's expiring credentials."""

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import answer, connect_call, place_call, status
from tests.support.coturn import TURN_SECRET
from tests.support.servers import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(coturn):
    live = LiveServer(
        TURN_URLS=f"turn:127.0.0.1:{coturn.port}?transport=udp",
        TURN_SECRET=TURN_SECRET,
        ICE_TRANSPORT_POLICY="relay",
    )
    yield live
    live.stop()


def test_a_relay_only_call_goes_through_coturn(joined, coturn):
    tara = joined("tara")
    hide = tara.get_by_label("Hide my IP address")
    expect(hide).to_be_checked()
    expect(hide).to_be_disabled()
    uma = joined("uma")
    connect_call(uma, "uma", tara, "tara")
    # getStats' selected candidate pair is a relay pair on both sides.
    for page in (tara, uma):
        expect(page.get_by_text("Through the relay", exact=True)).to_be_visible()
    coturn.check_alive()


def test_check_connection_finds_stun_and_turn(joined):
    vera = joined("vera")
    vera.get_by_role("button", name="Check connection").click()
    results = vera.get_by_role("list")
    expect(results).to_contain_text("STUN answered")
    expect(results).to_contain_text("TURN answered: calls can go through the relay")


def test_without_coturn_a_relay_only_call_fails_clearly(joined, coturn):
    walt = joined("walt")
    xena = joined("xena")
    coturn.stop()
    walt.get_by_role("button", name="Check connection").click()
    expect(walt.get_by_role("list")).to_contain_text("TURN is unreachable", timeout=15_000)

    place_call(xena, "walt")
    answer(walt, "xena")
    for page in (walt, xena):
        expect(status(page)).to_contain_text("The call failed", timeout=20_000)
    expect(status(xena)).to_contain_text("relay")
