"""`make stack`: nginx, two gunicorn processes on one Redis, and coturn from one command; Ctrl-C ends all.

Sockets through its nginx land on both processes (its console says where),
users on different processes call each other, 2,000 WebSockets are held at
once, and the Redis password is never printed.
"""

import asyncio
import base64
import collections
import concurrent.futures
import hashlib
import json
import os
import re
import resource
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from scripts.stack import free_port, redis_answers, stun_answers
from tests.support.paths import ROOT
from tests.support.socketio_clients import Client, join
from tests.support.turn_client import TurnClient

START_TIMEOUT = 60.0


class Stack:
    """`make -s stack` in a session of its own, as a terminal would run it.

    Its console is read all along, by a thread of its own (the script prints a
    line per socket that connects, and must never block on a full pipe).
    """

    def __init__(self, folder: Path, **settings: str):
        self.folder = folder
        self.https_port, self.http_port = free_port(), free_port()
        env = {
            **os.environ,
            "STACK_PORT": str(self.https_port),
            "STACK_HTTP_PORT": str(self.http_port),
            "STACK_DIR": str(folder),
            **settings,
        }
        self.proc = subprocess.Popen(
            ["make", "-s", "stack"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._console = ""
        self._printed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self.wait_for(lambda text: "Ctrl-C stops everything." in text, START_TIMEOUT):
            self.interrupt()
            pytest.fail(f"make stack did not come up:\n{self.console()}", pytrace=False)
        self.output = self.console()
        # The certificate names localhost, so TLS is verified for real.
        self.url = f"https://localhost:{self.https_port}"
        self.cert = folder / "cert.pem"

    def _read(self) -> None:
        for line in iter(self.proc.stdout.readline, b""):
            with self._printed:
                self._console += line.decode(errors="replace")
                self._printed.notify_all()
        with self._printed:
            self._printed.notify_all()  # the end: a waiter need not wait out its timeout

    def console(self) -> str:
        """Everything the stack has printed so far."""
        with self._printed:
            return self._console

    def wait_for(self, seen, timeout: float) -> bool:
        """Wait until `seen(console)` holds, or the stack has exited, or `timeout` has passed."""
        with self._printed:
            return self._printed.wait_for(
                lambda: seen(self._console) or self.proc.poll() is not None and not self._reader.is_alive(),
                timeout,
            ) and seen(self._console)

    def landed(self) -> dict[str, set[str]]:
        """Per user name, the processes ("gunicorn-1", ...) that the console says its sockets landed on."""
        found = collections.defaultdict(set)
        for process, name in re.findall(
            r"^\[(gunicorn-\d+) [\d.:]+\] (\S+) connected: socket ", self.console(), re.M
        ):
            found[name].add(process)
        return found

    def redis_password(self) -> str:
        return urllib.parse.urlsplit((self.folder / "redis-url").read_text().strip()).password

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
            self._reader.join(timeout=5)
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("stack"))
    yield stack
    stack.interrupt()


def test_it_prints_the_url_and_serves_the_app_over_https(stack):
    assert f"https://127.0.0.1:{stack.https_port}/" in stack.output
    assert re.search(
        r"gunicorn \w+ worker, 2 processes: gunicorn-1 on 127\.0\.0\.1:\d+, gunicorn-2 on", stack.output
    )
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


def test_sockets_through_its_nginx_land_on_both_processes_and_their_users_call_each_other(stack):
    """The console says which process took each socket; users on different processes share one state."""
    users = [Client(stack, f"st-spread-{number}", ca=stack.cert) for number in range(4)]
    try:
        names = [user.name for user in users]
        assert stack.wait_for(
            lambda text: all(f"] {name} connected: socket " in text for name in names), 10
        ), stack.console()
        landed = stack.landed()
        assert all(len(landed[name]) == 1 for name in names), landed
        by_process = collections.defaultdict(list)
        for user in users:
            by_process[next(iter(landed[user.name]))].append(user)
        assert sorted(by_process) == ["gunicorn-1", "gunicorn-2"], landed
        caller, callee = by_process["gunicorn-1"][0], by_process["gunicorn-2"][0]
        call_id = caller.sio.call("call", {"to": callee.name}, timeout=5)["call_id"]
        assert callee.wait_for("ring") == {"call_id": call_id, "from": caller.name}
        assert callee.sio.call("accept", {"call_id": call_id}, timeout=5)["ok"]
        offer = {"type": "offer", "sdp": "v=0\r\n"}
        assert caller.sio.call("signal", {"call_id": call_id, "description": offer}, timeout=5)["ok"]
        assert callee.wait_for("signal")["description"] == offer
    finally:
        for user in users:
            user.close()


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


class RawSocketIO:
    """A logged-in Socket.IO connection over a WebSocket written by hand, on asyncio.

    Light enough to hold thousands at once from one process. It answers
    Engine.IO's pings, and WebSocket pings, whenever it reads.
    """

    def __init__(self, port: int, cookie: str, context: ssl.SSLContext):
        self.port, self.cookie, self.context = port, cookie, context
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """WebSocket upgrade (101), Engine.IO open, Socket.IO connect accepted and `hello`."""
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=self.context, server_hostname="localhost"
        )
        key = base64.b64encode(os.urandom(16)).decode()
        origin = f"localhost:{self.port}"
        self.writer.write(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {origin}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: https://{origin}\r\nCookie: {self.cookie}\r\n\r\n".encode()
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode(errors="replace")
        status = head.split("\r\n", 1)[0]
        if not status.startswith("HTTP/1.1 101 "):
            raise ConnectionError(status)
        digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        if f"sec-websocket-accept: {base64.b64encode(digest).decode()}".lower() not in head.lower():
            raise ConnectionError(f"a wrong Sec-WebSocket-Accept: {head!r}")
        opening = await self.recv()
        if not opening.startswith("0{"):
            raise ConnectionError(f"no Engine.IO open packet: {opening!r}")
        self.send("40")
        got = {await self.recv(), await self.recv()}  # `hello`, then the connect's ack
        if not any(packet.startswith("40{") for packet in got):
            raise ConnectionError(f"Socket.IO connect refused: {got}")
        if not any(packet.startswith('42["hello",') for packet in got):
            raise ConnectionError(f"no hello: {got}")

    async def call(self, ack_id: int, event: str, payload: object) -> object:
        """Emit `event` with an ack id and return the ack's payload."""
        self.send(f"42{ack_id}{json.dumps([event, payload])}")
        while True:
            packet = await self.recv()
            if packet.startswith(f"43{ack_id}["):
                return json.loads(packet[len(f"43{ack_id}") :])[0]

    def send(self, text: str, opcode: int = 0x1) -> None:
        """One masked frame, as a client must send (payloads under 64 KiB)."""
        data = text.encode()
        mask = os.urandom(4)
        length = bytes([0x80 | len(data)]) if len(data) < 126 else b"\xfe" + struct.pack("!H", len(data))
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
        self.writer.write(bytes([0x80 | opcode]) + length + mask + masked)

    async def recv(self) -> str:
        """The next Engine.IO packet; pings are answered on the way."""
        while True:
            head = await self.reader.readexactly(2)
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = (await self.reader.readexactly(length)).decode()
            if opcode == 0x8:
                raise ConnectionError(f"closed by the server: {payload!r}")
            if opcode == 0x9:
                self.send(payload, opcode=0xA)
            elif payload == "2":
                self.send("3")
            elif opcode == 0x1:
                return payload

    async def close(self) -> None:
        if self.writer is None:
            return
        if not self.writer.is_closing():
            self.send("", opcode=0x8)
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (OSError, TimeoutError, ssl.SSLError):
            self.writer.transport.abort()


WEBSOCKETS = 2000


def failures(results: list) -> collections.Counter:
    """How many of `results` are exceptions, by kind."""
    errors = (f"{type(r).__name__}: {r}"[:100] for r in results if isinstance(r, BaseException))
    return collections.Counter(errors)


async def hold_websockets(stack, cookie: str, count: int) -> None:
    """Open `count` sockets at once, check that every one answers while all are open, close them."""
    context = ssl.create_default_context(cafile=str(stack.cert))
    sockets = [RawSocketIO(stack.https_port, cookie, context) for _ in range(count)]
    opening = asyncio.Semaphore(100)  # handshakes in flight; the rest wait their turn

    async def connect(sock):
        async with opening:
            await asyncio.wait_for(sock.connect(), 15)

    try:
        opened = await asyncio.gather(*(connect(sock) for sock in sockets), return_exceptions=True)
        refused = failures(opened)
        assert not refused, f"{sum(refused.values())} of {count} did not connect: {refused.most_common(5)}"
        # All open at this moment: every one is still answered, through nginx, by the app.
        watch = {"name": "nobody"}
        acks = await asyncio.gather(
            *(asyncio.wait_for(sock.call(1, "watch", watch), 15) for sock in sockets), return_exceptions=True
        )
        lost = failures(acks)
        assert not lost, f"{sum(lost.values())} of {count} lost while all were open: {lost.most_common(5)}"
        assert all(ack["ok"] and ack["online"] is False for ack in acks)
    finally:
        await asyncio.gather(*(sock.close() for sock in sockets), return_exceptions=True)


def test_its_nginx_holds_2000_websockets_at_once(stack):
    """Logged-in Socket.IO connections, all open together (Debian's worker_connections 768 held ~380).

    One user, many tabs: a single join, then every socket with its cookie.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = WEBSOCKETS + 1000
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"this test needs {needed} open files; the hard limit is {hard}", pytrace=False)
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    http = join(stack, "st-many", ca=stack.cert)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    http.close()
    try:
        # In a thread of its own: Playwright's sync API leaves an event loop set in this one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: asyncio.run(hold_websockets(stack, cookie, WEBSOCKETS))).result()
    except AssertionError as error:
        log = (stack.folder / "nginx-error.log").read_text(errors="replace")
        limits = collections.Counter(re.findall(r"\d+ worker_connections are not enough[^,]*", log))
        raise AssertionError(f"{error}\nnginx's error log: {dict(limits)}") from None
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_ctrl_c_stops_nginx_both_gunicorns_redis_and_coturn_and_never_printed_the_password(tmp_path):
    stack = Stack(tmp_path / "stack")
    pids = stack.pids()
    assert set(pids) == {"nginx", "gunicorn-1", "gunicorn-2", "redis", "turnserver"}
    turn_port = int(re.search(r"coturn\s+STUN and TURN on 127\.0\.0\.1:(\d+)", stack.output).group(1))
    redis_port = int(re.search(r"redis\s+on 127\.0\.0\.1:(\d+)", stack.output).group(1))
    app_ports = [int(port) for port in re.findall(r"gunicorn-\d on 127\.0\.0\.1:(\d+)", stack.output)]
    password = stack.redis_password()
    assert stun_answers(turn_port)
    assert redis_answers(redis_port, password)
    assert len(app_ports) == 2

    stack.interrupt()

    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [name for name, pid in pids.items() if Path(f"/proc/{pid}").exists()]
    for port in (stack.https_port, redis_port, *app_ports):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
    assert not stun_answers(turn_port)
    console = stack.console()
    assert "Stopping nginx, gunicorn, Redis and coturn." in console
    assert password not in console
    # Nor in the logs or configs it wrote, but for the one file meant to hold it.
    written = [path for path in stack.folder.rglob("*") if path.is_file() and path.name != "redis-url"]
    assert not [path.name for path in written if password.encode() in path.read_bytes()]
