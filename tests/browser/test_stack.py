"""A real call in Chromium through nginx (TLS, WebSocket) and gunicorn: the production shape."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import connect_call

pytestmark = pytest.mark.browser
# The test certificate is self-signed.
HTTPS = {"ignore_https_errors": True}


@pytest.fixture(scope="module")
def server(production_stack):
    """nginx in front of gunicorn: tests/conftest.py's production_stack (eventlet, then gevent).

    It stands in for the browser tests' server: pages open at nginx's https address.
    """
    return production_stack


def test_a_call_through_nginx_and_gunicorn_over_https_and_wss(joined, server):
    cleo = joined("cleo", **HTTPS)
    dirk = joined("dirk", **HTTPS)
    assert cleo.url.startswith("https://")
    connect_call(dirk, "dirk", cleo, "cleo")
    for page in (cleo, dirk):
        expect(page.get_by_text("Direct connection", exact=True)).to_be_visible()
    # Socket.IO on a WebSocket through nginx from the start (101 Switching Protocols), never polling.
    # nginx logs a WebSocket when it closes, so close the pages first.
    for page in (cleo, dirk):
        page.context.close()
    upgrade = re.compile(r'"GET /socket\.io/\?EIO=4&transport=websocket HTTP/1\.1" 101 ')
    deadline = time.monotonic() + 10
    while len(upgrade.findall(server.access_log())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(upgrade.findall(server.access_log())) >= 2, server.access_log()
    assert "transport=polling" not in server.access_log()
