"""The production shape: nginx (deploy/nginx.conf) with TLS in front of gunicorn.

Most tests take tests/conftest.py's `production_stack` (APP_ENV=production,
gunicorn's eventlet worker, then its gevent one), shared with the browser's
tests/browser/test_stack.py.
"""

import time

import pytest
import requests
import websocket

from tests.support import nginx
from tests.support.socketio_clients import Client, call_and_signal


class Https:
    def __init__(self, port):
        # "localhost" matches the test certificate, so TLS is verified for real.
        self.url = f"https://localhost:{port}"


@pytest.fixture
def site(production_stack):
    """The stack's https address, by the name the test certificate has."""
    return Https(production_stack.https_port)


@pytest.fixture
def cert(tls_files):
    """The certificate to trust: the stack's, self-signed."""
    return tls_files[0]


@pytest.fixture
def users(site, cert):
    made = []

    def make(name, **kwargs):
        made.append(Client(site, name, ca=cert, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_the_rendered_config_passes_nginx_t(production_stack):
    result = production_stack.test_config()
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_a_call_crosses_nginx_over_https_and_upgrades_to_websocket(users):
    alice, bob = users("nx-alice"), users("nx-bob")
    assert alice.sio.transport() == bob.sio.transport() == "websocket"
    call_and_signal(bob, alice, {"type": "offer", "sdp": "v=0\r\n"})


def test_invite_links_and_cookies_follow_the_browsers_https_address(users, site):
    alice = users("nx-carol")
    page = alice.http.get(site.url + "/").text
    assert f'value="{site.url}/call/nx-carol"' in page
    session_cookie = next(c for c in alice.http.cookies if c.name == "session")
    assert session_cookie.secure
    assert session_cookie.has_nonstandard_attr("HttpOnly")


def test_http_redirects_to_https(production_stack):
    proxy = production_stack
    response = requests.get(f"http://127.0.0.1:{proxy.http_port}/call/alice", allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://127.0.0.1:{proxy.https_port}/call/alice"


def test_static_files_come_from_nginx_with_cache_headers(site, cert):
    response = requests.get(site.url + "/static/css/app.css", verify=str(cert))
    assert response.ok
    assert "max-age=604800" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_foreign_origin_is_refused_through_the_proxy(users, site, cert):
    victim = users("nx-victim")
    wss = f"{site.url.replace('https://', 'wss://')}/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            wss, cookie=victim.cookie, origin="https://evil.example", sslopt={"ca_certs": str(cert)}
        )
    assert refused.value.status_code == 400
    own_ws = websocket.create_connection(
        wss, cookie=victim.cookie, origin=site.url, sslopt={"ca_certs": str(cert)}
    )
    own_ws.close()


@pytest.mark.parametrize(
    ("ping_interval", "stays"),
    [(1, True), (6, False)],
    ids=["pings-within-the-read-timeout", "pings-slower-than-it"],
)
def test_an_idle_socket_outlives_nginx_read_timeout_thanks_to_pings(tls_files, ping_interval, stays):
    """nginx (read timeout 3 s here, 120 s shipped) keeps a socket the server pings in time.

    A stack of its own, not the `production_stack` fixture's: nginx's read timeout
    and the app's ping settings are this test's, so it calls tests/support/nginx.py's
    production_stack() itself.
    """
    cert, key = tls_files
    settings = {"PING_INTERVAL": str(ping_interval), "PING_TIMEOUT": "5"}
    with nginx.production_stack(cert, key, read_timeout=3, **settings) as proxy:
        client = Client(Https(proxy.https_port), "nx-idle", ca=cert)
        try:
            sid = client.sio.get_sid()
            time.sleep(5)  # idle, past nginx's read timeout
            assert client.sio.connected is stays
            if stays:
                assert client.sio.get_sid() == sid
                assert client.sio.call("watch", {"name": "nobody"}, timeout=5)["ok"]
        finally:
            client.close()
