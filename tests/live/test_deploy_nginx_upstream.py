"""deploy/nginx.conf's upstream with two app processes: both are used, and one that is down costs no request.

Two gunicorn processes (APP_ENV=production, PROXY_HOPS=1, one SECRET_KEY)
behind nginx with the shipped site rendered for their two ports
(tests/support/nginx.py, through scripts/stack.py's render_site, as `make
stack` renders it). No REDIS_URL: the routing is nginx's, whatever the state.
"""

import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest
import requests
import websocket

from scripts.stack import SHIPPED_SITE
from tests.support.nginx import Nginx
from tests.support.servers import LiveServer, free_port
from tests.support.socketio_clients import Client

# How long the shipped upstream leaves out a process that failed, and a wait past it: nginx
# counts it in whole seconds and leaves the process out while at most that many have passed.
FAIL_TIMEOUT = int(re.search(r"fail_timeout=(\d+)s", SHIPPED_SITE.read_text()).group(1))
PAST_FAIL_TIMEOUT = FAIL_TIMEOUT + 1.5


class Site:
    """Two app processes and nginx in front; `url` by the certificate's name."""

    def __init__(self, cert, key):
        https_port = free_port()
        self.url = f"https://localhost:{https_port}"
        settings = {
            "APP_ENV": "production",
            "PROXY_HOPS": "1",
            "PUBLIC_URL": self.url,
            "TRUSTED_HOSTS": "127.0.0.1",
            # Shared, as /var/lib/videocall is on one host: a name registered through one is known to both.
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="site-instance-"),
        }
        self.instance = settings["INSTANCE_PATH"]
        self.apps: list[LiveServer] = []
        self.nginx = None
        try:
            self.apps = [LiveServer(server="gunicorn", **settings) for _ in range(2)]
            self.nginx = Nginx([app.port for app in self.apps], cert, key, https_port=https_port)
        except BaseException:
            self.stop()
            raise
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = str(cert)

    def kill(self, index: int) -> int:
        """SIGKILL one process, as a crash, and its worker; return its port, now refusing connections."""
        app = self.apps[index]
        pid = app.proc.pid
        # gunicorn's worker holds the listening socket too, and outlives its master by a second or so.
        workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for worker in workers:
            os.kill(int(worker), signal.SIGKILL)
        app.proc.kill()
        app.proc.wait()
        return app.port

    def refused_requests(self, port: int) -> list[str]:
        """The requests nginx tried on 127.0.0.1:port and found refused (its error log)."""
        lines = self.nginx.log().splitlines()
        refused = [line for line in lines if "connect() failed (111" in line]
        return [
            re.search(r'request: "([^"]*)"', line).group(1)
            for line in refused
            if f'upstream: "http://127.0.0.1:{port}/' in line
        ]

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for app in self.apps:
            app.stop()
        if hasattr(self, "http"):
            self.http.close()
        shutil.rmtree(self.instance, ignore_errors=True)


@pytest.fixture
def site(tls_files):
    site = Site(*tls_files)
    yield site
    site.stop()


@pytest.fixture
def users(site, tls_files):
    made = []

    def make(name):
        made.append(Client(site, name, ca=tls_files[0]))
        return made[-1]

    yield make
    for client in made:
        client.close()


def served(app: LiveServer, marker: str) -> int:
    """How many requests with `marker` in their line this process's access log has."""
    return sum(1 for line in app.output().splitlines() if f"GET /?{marker}" in line)


def connected(app: LiveServer, name: str) -> int:
    """How many sockets of `name` this process logged as connected."""
    return sum(1 for line in app.output().splitlines() if f"{name} connected: socket " in line)


def test_pages_and_sockets_are_spread_over_both_processes(site, users):
    for number in range(10):
        assert site.http.get(f"{site.url}/?spread={number}").status_code == 200
    deadline = time.monotonic() + 5  # gunicorn logs a request once it has answered it
    while sum(served(app, "spread=") for app in site.apps) < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(served(app, "spread=") for app in site.apps) == 10
    assert [served(app, "spread=") > 0 for app in site.apps] == [True, True]
    # least_conn: while the first socket is open, the second goes to the other process.
    users("up-one"), users("up-two")
    assert sorted(connected(app, "up-one") + connected(app, "up-two") for app in site.apps) == [1, 1]


def test_a_process_that_is_down_costs_no_request(site, users, tls_files):
    """The request that nginx sends to the dead process goes on to the live one; the browser sees nothing.

    One socket held on each process; the one on the killed process goes with it,
    so least_conn sends the next request to the dead one (no open connection)
    as soon as its fail_timeout is over: a page GET at once, a WebSocket upgrade
    and a POST /join each after another fail_timeout.
    """
    users("up-held-1"), users("up-held-2")
    dead = site.kill(0)
    time.sleep(0.5)  # nginx sees the killed process's socket close

    assert site.http.get(f"{site.url}/?after=kill").status_code == 200
    assert site.refused_requests(dead) == ["GET /?after=kill HTTP/1.1"]

    time.sleep(PAST_FAIL_TIMEOUT)
    wss = site.url.replace("https://", "wss://") + "/socket.io/?EIO=4&transport=websocket&after=kill"
    ws = websocket.create_connection(wss, origin=site.url, sslopt={"ca_certs": str(tls_files[0])}, timeout=5)
    try:
        assert ws.recv().startswith("0{")  # upgraded (101) and Engine.IO's open packet, by the live one
    finally:
        ws.close()
    assert site.refused_requests(dead)[-1].startswith("GET /socket.io/?EIO=4&transport=websocket&after=kill")

    page = site.http.get(site.url + "/").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    time.sleep(PAST_FAIL_TIMEOUT)
    joined = site.http.post(
        site.url + "/join", data={"name": "up-late", "csrf_token": token}, allow_redirects=False
    )
    assert joined.status_code == 302, joined.text
    assert site.refused_requests(dead)[-1] == "POST /join HTTP/1.1"
