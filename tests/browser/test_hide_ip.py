"""Hide my IP address: one person's choice to send media through the relay only."""

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import connect_call
from tests.support.coturn import TURN_SECRET
from tests.support.servers import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(coturn):
    # The server lets calls go direct; only the person who asks is relayed.
    live = LiveServer(TURN_URLS=f"turn:127.0.0.1:{coturn.port}?transport=udp", TURN_SECRET=TURN_SECRET)
    yield live
    live.stop()


def test_hiding_my_address_relays_my_calls(joined):
    yara = joined("yara")
    zack = joined("zack")
    hide = yara.get_by_label("Hide my IP address")
    expect(hide).to_be_enabled()
    expect(hide).not_to_be_checked()
    hide.check()
    yara.reload()  # the choice is remembered in this browser
    expect(yara.get_by_label("Hide my IP address")).to_be_checked()

    connect_call(zack, "zack", yara, "yara")
    for page in (yara, zack):
        expect(page.get_by_text("Through the relay", exact=True)).to_be_visible()


def test_without_hiding_a_call_goes_direct(joined):
    anna = joined("anna")
    bert = joined("bert")
    connect_call(bert, "bert", anna, "anna")
    for page in (anna, bert):
        expect(page.get_by_text("Direct connection", exact=True)).to_be_visible()
