"""The signaling server goes away during a call, and comes back."""

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import connect_call, expect_video_playing
from tests.support.servers import LiveServer

pytestmark = pytest.mark.browser

SECRET = {"SECRET_KEY": "reconnect-test-secret"}


class RestartableServer:
    """A live server that the test stops and starts again on the same port."""

    def __init__(self):
        self.live = LiveServer(**SECRET)
        self.port, self.url = self.live.port, self.live.url
        self.running = True

    def stop(self):
        self.live.stop()
        self.running = False

    def start(self):
        self.live = LiveServer(port=self.port, **SECRET)
        self.running = True

    def check_alive(self):
        if self.running:
            self.live.check_alive()

    def output(self):
        return self.live.output()


@pytest.fixture(scope="module")
def server():
    restartable = RestartableServer()
    yield restartable
    restartable.live.stop()


def test_media_keeps_flowing_while_the_server_is_away(joined, server):
    pia = joined("pia")
    rex = joined("rex")
    connect_call(rex, "rex", pia, "pia")

    server.stop()
    for page in (pia, rex):
        expect(page.get_by_text("Reconnecting to the server…")).to_be_visible()
    # Peer to peer: the call's media does not need the server.
    expect_video_playing(pia, "Remote video")
    expect_video_playing(rex, "Remote video")

    server.start()
    for page in (pia, rex):
        expect(page.get_by_text("Reconnecting to the server…")).to_be_hidden(timeout=15_000)
    # The session cookie still names each user: no need to join again.
    expect(pia.get_by_text("Your ID: pia", exact=True)).to_be_visible()
    expect(pia.get_by_label("Your name")).to_have_count(0)
