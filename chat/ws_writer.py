"""Writes to a WebSocket connection that never make the writer wait.

Socket.IO's event handlers run in the greenlet that reads the sender's
connection (python-socketio's `async_handlers` is off: a task per event cost
a quarter of a relayed message's CPU). A handler that relays to a peer whose
connection is full, a hung tab's, must still return at once, or the sender's
own messages would wait behind it. So a `Writer` hands each frame to the
kernel with one non-blocking write when nothing of the connection's is
queued or being written; what the kernel does not take waits in the
connection's backlog, which one drain task (started only then) writes out in
order as the client reads. A client whose backlog passes MAX_BACKLOG_BYTES is
not keeping up: its connection is reset, and Socket.IO's reconnection brings
it back.

`write` never switches greenlets, so frames from different writers (events,
pings, the WebSocket's own pongs and close frames) never interleave.
"""

import contextlib
import socket
import struct
import time
from collections.abc import Callable

# The C function itself: eventlet's monkey patching makes os.write wait for the descriptor.
from posix import write as write_now

MAX_BACKLOG_BYTES = 1 << 20  # unread by a client beyond what the kernel holds for it
TEXT, BINARY, CLOSE, PONG = 0x1, 0x2, 0x8, 0xA


class BacklogFull(OSError):
    """The client has not read MAX_BACKLOG_BYTES of what was written to it; its connection is reset."""


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, unfragmented WebSocket frame, as a server sends them."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return head + payload


def message_frame(message: str | bytes) -> bytes:
    """A text frame for a str, a binary one for bytes."""
    if isinstance(message, str):
        return frame(TEXT, message.encode("utf-8"))
    return frame(BINARY, message)


def can_write(sock) -> bool:
    """Whether a Writer can write to `sock`: a plain green socket (not TLS, which must go through ssl)."""
    return sock is not None and not hasattr(sock, "cipher") and hasattr(sock, "sendall")


class Writer:
    """The frames going out on one connection: `sock`, a green socket whose descriptor is non-blocking.

    `spawn(fn)` starts a task (the server's start_background_task); `sleep(s)` waits cooperatively.
    """

    __slots__ = ("sock", "spawn", "sleep", "backlog", "backlog_bytes", "draining", "broken")

    def __init__(self, sock, spawn: Callable, sleep: Callable[[float], None]) -> None:
        self.sock = sock
        self.spawn = spawn
        self.sleep = sleep
        self.backlog: list[bytes] = []
        self.backlog_bytes = 0  # queued, and being written by the drain task
        self.draining = False
        self.broken = False

    def write(self, data: bytes) -> None:
        """Send `data` (whole frames) after all written before; OSError if the connection is gone."""
        if self.broken:
            raise BrokenPipeError("the connection is closed")
        if not self.draining:
            try:
                # fileno() each time: once the socket is closed it is -1, never a number reused by
                # another connection.
                sent = write_now(self.sock.fileno(), data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.broken = True
                raise
            if sent == len(data):
                return
            data = data[sent:]
            self.draining = True
            self.spawn(self._drain)
        self.backlog.append(data)
        self.backlog_bytes += len(data)
        if self.backlog_bytes > MAX_BACKLOG_BYTES:
            self.reset()
            raise BacklogFull(f"the client left {self.backlog_bytes} bytes unread")

    def flushed(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the backlog to be written; whether it was."""
        deadline = time.monotonic() + timeout
        while self.draining and not self.broken:
            if time.monotonic() >= deadline:
                return False
            self.sleep(0.05)
        return not self.draining

    def reset(self) -> None:
        """End the connection with a reset: a write waiting on it fails, and the kernel drops its queue."""
        self.broken = True
        self.backlog.clear()
        reset(self.sock)

    def _drain(self) -> None:
        try:
            while self.backlog and not self.broken:
                data = b"".join(self.backlog)
                self.backlog.clear()
                self.sock.sendall(data)  # waits for the client to read; other writes queue meanwhile
                self.backlog_bytes -= len(data)
        except OSError:
            self.broken = True
            self.backlog.clear()
        finally:
            self.draining = False


def reset(sock) -> None:
    """Reset the connection under `sock` (SO_LINGER 0, then shutdown); nothing if it is closed already."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
