"""A WebSocket message over MAX_MESSAGE_BYTES is refused however it is fragmented, before it is buffered.

The attack of the security review: a WebSocket with no cookie sends one text
message as a first frame and continuation frames, each well under the limit,
as fast as the server takes them. Every real server must close it with 1009
after about MAX_MESSAGE_BYTES, its peak memory must not grow with the
message, and the next client must be served. chat/serving/backports.py's
eventlet backport against eventlet's own function is
tests/unit/test_message_push_backport.py.
"""

import base64
import contextlib
import os
import re
import select
import socket
import struct
import time

import pytest

from tests.support.servers import LiveServer
from tests.support.websocket_frames import CLOSE, CONTINUATION, PING, PONG, TEXT, TOO_BIG, client_frame

MiB = 1 << 20
FRAME = 16 * 1024  # each fragment's payload: a quarter of MAX_MESSAGE_BYTES, which the servers keep at 64 KiB
ATTACK = 64 * MiB  # the message the attacker sends
EMPTY_FLOOD = 2 * MiB  # of empty fragments: 350,000 frames
IO_TIMEOUT = 10.0


# A client that speaks just enough RFC 6455


class RawWebSocket:
    """An Engine.IO WebSocket from a plain socket, with no cookie, as an attacker would open it."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def take_frame(self) -> tuple[int, bytes] | None:
        """The next whole server frame in the buffer (opcode, payload), or None."""
        if len(self.buffer) < 2:
            return None
        opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
        start = 2
        if length >= 126:
            size = 2 if length == 126 else 8
            if len(self.buffer) < 2 + size:
                return None
            length, start = int.from_bytes(self.buffer[2 : 2 + size], "big"), 2 + size
        if len(self.buffer) < start + length:
            return None
        payload, self.buffer = self.buffer[start : start + length], self.buffer[start + length :]
        return opcode, payload

    def read_frame(self) -> tuple[int, bytes]:
        while (got := self.take_frame()) is None:
            self._fill()
        return got

    def send_text(self, text: str) -> None:
        self.sock.sendall(client_frame(TEXT, text.encode()))

    def close(self) -> None:
        self.sock.close()


def flood(ws: RawWebSocket, total: int) -> tuple[int, int | None]:
    """Send one text message of `total` bytes in FRAME-byte fragments as fast as the server reads.

    Reads whatever the server sends meanwhile, and stops at its close frame
    (or when it drops the connection). Return the bytes the kernel took from
    the client by then and the close status (None without a close frame).
    """
    first = client_frame(TEXT, b"4" + b"a" * (FRAME - 1), fin=False)
    block = client_frame(CONTINUATION, b"a" * FRAME, fin=False) * (MiB // FRAME)  # 1 MiB of fragments
    last = client_frame(CONTINUATION, b"a" * FRAME, fin=True)
    blocks = [first] + [block] * ((total - 2 * FRAME) // MiB) + [last]
    sock, sent, pending, writing = ws.sock, 0, memoryview(b""), True
    sock.setblocking(False)
    deadline = time.monotonic() + IO_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if writing and not pending:
                if not blocks:
                    writing = False  # all of it sent: wait for the server's answer
                else:
                    pending = memoryview(blocks.pop(0))
            readable, writable, _ = select.select([sock], [sock] if writing else [], [], 1.0)
            if readable:
                try:
                    ws._fill()
                except (ConnectionError, OSError):
                    return sent, None
                while (got := ws.take_frame()) is not None:
                    if got[0] == CLOSE:
                        return sent, struct.unpack("!H", got[1][:2])[0] if len(got[1]) >= 2 else None
            if writable:
                try:
                    n = sock.send(pending)
                except BlockingIOError:
                    continue
                except OSError:  # reset by the server: what it sent before is still to be read
                    writing = False
                    continue
                sent += n
                pending = pending[n:]
        pytest.fail(f"the server neither closed nor read on within {IO_TIMEOUT} s ({sent} bytes sent)")
    finally:
        sock.setblocking(True)


def flood_empty(ws: RawWebSocket, total: int) -> None:
    """Start a text message, send `total` bytes of empty fragments, wait until the server has read them.

    A WebSocket ping goes after them (control frames may come between
    fragments), so its pong says the server got through the flood. A server
    may instead end the session first: simple-websocket (gevent mode) parses
    about 30,000 frames a second, so CONNECT_TIMEOUT (5 s) closes this
    unconnected session before the flood's end; its close frame ends the wait.
    """
    ws.sock.sendall(client_frame(TEXT, b"4", fin=False))
    block = client_frame(CONTINUATION, b"", fin=False) * 10_000
    try:
        for _ in range(total // len(block)):
            ws.sock.sendall(block)
        ws.sock.sendall(client_frame(PING, b"flooded"))
    except OSError:  # closed by the server mid-flood: what it sent before is still to be read
        pass
    while (got := ws.read_frame()) != (PONG, b"flooded"):
        if got[0] == CLOSE:
            return
        assert got[0] != PONG, got


# The server process and its memory


def server_pid(live: LiveServer) -> int:
    """The process that serves the requests: the server itself, or gunicorn's one worker."""
    if "gunicorn" not in " ".join(live.proc.args):
        return live.proc.pid
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{stat}/stat") as f:
                # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
                if int(f.read().rsplit(")", 1)[1].split()[1]) == live.proc.pid:
                    return int(stat)
    pytest.fail("gunicorn has no worker process")


def memory(pid: int, field: str) -> int:
    """A field of /proc/<pid>/status in bytes: VmRSS (now) or VmHWM (the peak)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def reset_peak(pid: int) -> None:
    """Make VmHWM the current RSS, so that it shows the peak from now on (Linux's clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


@pytest.fixture(scope="module", params=["embedded", "gunicorn", "gunicorn-gevent"])
def server(request):
    live = LiveServer(server=request.param)
    live.name = request.param
    yield live
    live.stop()


def test_a_fragmented_message_over_the_limit_is_refused_before_it_is_buffered(server):
    pid = server_pid(server)
    ws = RawWebSocket(server.port)
    try:
        opcode, payload = ws.read_frame()
        assert (opcode, payload[:1]) == (TEXT, b"0")  # Engine.IO's open packet
        before = memory(pid, "VmRSS")
        reset_peak(pid)
        started = time.monotonic()
        sent, status = flood(ws, ATTACK)
        took = time.monotonic() - started
    finally:
        ws.close()
    time.sleep(0.3)  # the connection's end, on the server's side
    peak, after = memory(pid, "VmHWM") - before, memory(pid, "VmRSS") - before
    print(
        f"{server.name}: close {status} after {sent / MiB:.1f} MiB sent in {took:.2f} s;",
        f"peak RSS {peak / MiB:+.1f} MiB, after {after / MiB:+.1f} MiB",
    )
    assert status == TOO_BIG
    # The kernel buffers of both ends hold a few MiB in flight; the message was to be 64.
    assert sent < ATTACK / 4
    assert peak < 8 * MiB
    server.check_alive()

    # The next client is served: Engine.IO opens, and Socket.IO answers its connect (refused: no cookie).
    other = RawWebSocket(server.port)
    try:
        assert other.read_frame()[1][:1] == b"0"
        other.send_text("40")
        assert other.read_frame()[1].startswith(b"44")
    finally:
        other.close()
    server.check_alive()


def test_a_flood_of_empty_fragments_holds_no_memory(server):
    # Each would cost a list entry (8 bytes) for 6 bytes on the wire, for as long as the message lasts.
    pid = server_pid(server)
    ws = RawWebSocket(server.port)
    try:
        assert ws.read_frame()[1][:1] == b"0"
        ws.send_text("40")  # a Socket.IO connect (refused: no cookie), so that the session is not idle
        assert ws.read_frame()[1].startswith(b"44")
        before = memory(pid, "VmRSS")
        reset_peak(pid)
        started = time.monotonic()
        flood_empty(ws, EMPTY_FLOOD)
        took = time.monotonic() - started
        peak = memory(pid, "VmHWM") - before
    finally:
        ws.close()
    print(
        f"{server.name}: {EMPTY_FLOOD // 6} empty fragments in {took:.2f} s; peak RSS {peak / MiB:+.1f} MiB"
    )
    assert peak < 1 * MiB
    server.check_alive()
