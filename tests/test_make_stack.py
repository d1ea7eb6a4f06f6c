"""`make stack`: nginx, gunicorn and coturn from one command, and Ctrl-C stops them all."""

import os
import re
import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from scripts.stack import free_port, stun_answers
from tests.live import ROOT
from tests.test_python_client import Client
from tests.turn_client import TurnClient

START_TIMEOUT = 60.0


class Stack:
    """`make -s stack` in a session of its own, as a terminal would run it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.https_port, self.http_port = free_port(), free_port()
        env = {
            **os.environ,
            "STACK_PORT": str(self.https_port),
            "STACK_HTTP_PORT": str(self.http_port),
            "STACK_DIR": str(folder),
        }
        self.proc = subprocess.Popen(
            ["make", "-s", "stack"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.output = self._read_until("Ctrl-C stops everything.")
        # The certificate names localhost, so TLS is verified for real.
        self.url = f"https://localhost:{self.https_port}"
        self.cert = folder / "cert.pem"

    def _read_until(self, marker: str) -> str:
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        output = b""
        deadline = time.monotonic() + START_TIMEOUT
        while marker.encode() not in output:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.interrupt()
                pytest.fail(f"make stack did not come up:\n{output.decode()}", pytrace=False)
            if selector.select(timeout=0.5):
                output += os.read(self.proc.stdout.fileno(), 65536)
        return output.decode()

    def pids(self) -> dict[str, int]:
        return {path.stem: int(path.read_text()) for path in self.folder.glob("*.pid")}

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the whole foreground group (make and the script)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("stack"))
    yield stack
    stack.interrupt()


def test_it_prints_the_url_and_serves_the_app_over_https(stack):
    assert f"https://127.0.0.1:{stack.https_port}/" in stack.output
    alice = Client(stack, "st-alice", ca=stack.cert)
    bob = Client(stack, "st-bob", ca=stack.cert)
    try:
        call_id = bob.sio.call("call", {"to": "st-alice"}, timeout=5)["call_id"]
        assert alice.wait_for("ring") == {"call_id": call_id, "from": "st-bob"}
        page = alice.http.get(stack.url + "/")
        assert "Content-Security-Policy" in page.headers
        assert "Strict-Transport-Security" in page.headers
    finally:
        alice.close()
        bob.close()


def test_http_redirects_to_its_https_port(stack):
    with socket.create_connection(("127.0.0.1", stack.http_port)) as sock:
        sock.sendall(b"GET /call/alice HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 301")
    assert f"Location: https://127.0.0.1:{stack.https_port}/call/alice" in reply


def test_its_coturn_relays_with_the_apps_credentials_between_loopback_peers_only(stack):
    user = Client(stack, "st-carol", ca=stack.cert)
    try:
        servers = user.http.get(stack.url + "/ice-servers").json()["iceServers"]
    finally:
        user.close()
    turn = next(server for server in servers if server["urls"][0].startswith("turn:"))
    port = int(re.match(r"turn:127\.0\.0\.1:(\d+)", turn["urls"][0]).group(1))
    with TurnClient(("127.0.0.1", port), turn["username"], turn["credential"]) as client:
        assert client.allocate().ok
        # Two browsers on this machine may meet through the relay...
        assert client.create_permission("127.0.0.1").ok
        # ...but the shipped config's other refusals stand.
        for internal in ("10.0.0.1", "192.168.1.1", "169.254.169.254"):
            assert client.create_permission(internal).error_code == 403, internal


def test_ctrl_c_stops_nginx_gunicorn_and_coturn(tmp_path):
    stack = Stack(tmp_path / "stack")
    pids = stack.pids()
    assert set(pids) == {"nginx", "gunicorn", "turnserver"}
    turn_port = int(re.search(r"coturn\s+STUN and TURN on 127\.0\.0\.1:(\d+)", stack.output).group(1))
    assert stun_answers(turn_port)

    stack.interrupt()

    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [name for name, pid in pids.items() if Path(f"/proc/{pid}").exists()]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", stack.https_port), timeout=1)
    assert not stun_answers(turn_port)
