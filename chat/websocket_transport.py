"""Engine.IO's WebSocket transport with one greenlet per connection instead of three.

python-engineio (4.15.1, pinned) serves each WebSocket with three greenlets:
the request's greenlet reads, a second one writes whatever a queue gets, and a
third sleeps until the next ping. Every wait of the first two carries a
45-second timer, and a service task waits once per socket to check the ping
timeouts. With thousands of idle users those greenlets are most of the
server's memory; at a thousand messages a second the cancelled timers live on
in eventlet's timer heap long enough to reach the collector's oldest
generation, and the full collections they bring take 130-160 ms.

In eventlet and gevent mode, `install` changes that for WebSocket
connections (long-polling keeps Engine.IO's own code):

- a send writes the frame from the sending greenlet, under a per-socket lock,
  without queue, writer greenlet or timer;
- the reader waits without a timeout: a client that stops answering pings is
  found by the pinger, which closes the socket and so ends the read;
- one pinger task per server sends every socket's pings and checks their
  answers, in place of a greenlet per socket and Engine.IO's service task;
  a socket whose answer is late has its connection reset.

The close packet and frame are written by a short-lived task: a close that
does not wait returns at once, and one that waits (a server-side disconnect)
waits about CLOSE_TIMEOUT at most (to a pinger tick) for a stuck write, which
the connection's reset then fails. A server that `install` did
not set up (another async mode in the same process) keeps Engine.IO's code.
"""

import contextlib
import logging
import socket
import struct
import time

from engineio import exceptions, packet
from engineio import socket as eio_socket

log = logging.getLogger(__name__)

ENGINEIO_SOCKET = eio_socket.Socket
_original = {
    name: getattr(ENGINEIO_SOCKET, name) for name in ("_websocket_handler", "send", "close", "schedule_ping")
}
PINGER_TICK = 1.0  # seconds between the pinger's rounds; pings are due every PING_INTERVAL
CLOSE_TIMEOUT = 5.0  # seconds a close waits for a write in progress before resetting the connection


class Pinger:
    """Every socket's pings and ping timeouts, from one task of the server.

    A socket is due a ping PING_INTERVAL after it connects or answers the last
    one, and is closed if the answer has not come PING_TIMEOUT after the ping.
    Both delays are the same for every socket, so insertion order is due order.
    """

    def __init__(self, server) -> None:
        self.server = server
        self.pings: dict = {}  # socket -> monotonic time its next ping is due
        self.answers: dict = {}  # socket -> monotonic time by which it must have answered
        self.closing: dict = {}  # socket -> monotonic time by which its close must have been written
        self.task = None

    def schedule(self, sock) -> None:
        self.answers.pop(sock, None)
        self.pings.pop(sock, None)
        self.pings[sock] = time.monotonic() + self.server.ping_interval
        if self.task is None:
            self.task = self.server.start_background_task(self._run)

    def _run(self) -> None:
        while True:
            self.server.sleep(PINGER_TICK)
            try:
                self.tick(time.monotonic())
            except Exception:  # one bad socket must not end everyone's pings
                log.exception("pinger round failed")

    def tick(self, now: float) -> None:
        for sock in _due(self.pings, now):
            if sock.closing or sock.closed:
                continue
            sock.last_ping = time.time()
            self.answers[sock] = now + self.server.ping_timeout
            # In a task of its own: a write to one stuck client must not hold up the others' pings.
            self.server.start_background_task(_ping, sock)
        for sock in _due(self.answers, now):  # still here: no answer came (schedule() takes it out)
            if not (sock.closing or sock.closed):
                self.server.logger.info("%s: Client is gone, closing socket", sock.sid)
                sock.close(wait=False, abort=False, reason=self.server.reason.PING_TIMEOUT)
            if sock.closed and self.server.sockets.get(sock.sid) is sock:
                del self.server.sockets[sock.sid]
        for sock in _due(self.closing, now):  # its close is stuck writing to a client that reads nothing
            self.server.logger.info("%s: Close is stuck, resetting the connection", sock.sid)
            _reset(_raw_socket(sock.chat_ws))


def _ping(sock) -> None:
    with contextlib.suppress(exceptions.SocketIsClosedError):  # closed since the pinger's round
        sock.send(packet.Packet(packet.PING))


def _due(schedule: dict, now: float) -> list:
    """Take the entries of an insertion-ordered {socket: time} schedule that are due by `now`."""
    due = []
    for sock, at in schedule.items():
        if at > now:
            break
        due.append(sock)
    for sock in due:
        del schedule[sock]
    return due


def schedule_ping(self) -> None:
    pinger = getattr(self.server, "chat_pinger", None)
    if pinger is None:
        return _original["schedule_ping"](self)
    # As Engine.IO's: only after the previous ping was answered (or at connect).
    if self.last_ping:
        self.last_ping = None
        pinger.schedule(self)


def send(self, pkt) -> None:
    ws = getattr(self, "chat_ws", None)
    if ws is None:
        return _original["send"](self, pkt)
    if not self.check_ping_timeout():
        return
    with self.chat_send_lock:
        if self.closed:
            return
        try:
            ws.send(pkt.encode())
        except Exception as err:  # the client is gone; the reader sees it too and ends the socket
            self.server.logger.info("%s: send failed: %s", self.sid, err)


def close(self, wait: bool = True, abort: bool = False, reason=None) -> None:
    ws = getattr(self, "chat_ws", None)
    if ws is None:
        return _original["close"](self, wait=wait, abort=abort, reason=reason)
    if self.closed or self.closing:
        return
    self.closing = True
    self.server._trigger_event(
        "disconnect", self.sid, reason or self.server.reason.SERVER_DISCONNECT, run_async=False
    )
    gone = reason == self.server.reason.PING_TIMEOUT
    self.chat_shut = self.server.start_background_task(_shut, self, ws, not abort, gone)
    self.closed = True
    if wait:
        self.chat_shut.join()


def _shut(sock, ws, say_close: bool, gone: bool = False) -> None:
    """Write Engine.IO's close packet (unless aborting), close the WebSocket, and end the connection.

    A client that answered no ping (`gone`) is sent nothing more: its
    connection is reset, so that the kernel does not keep what it never read
    (a suspended tab's backlog) for minutes after the server let it go.

    A write stuck on a client that stopped reading (a send holding the lock,
    or the WebSocket's own reply to a ping) must not hold the close up: after
    CLOSE_TIMEOUT the connection is reset instead, by this task or by the
    pinger. That fails the stuck write, and the kernel drops what was queued
    for the client rather than keeping it for minutes.
    """
    raw = _raw_socket(ws)
    if gone:
        _reset(raw)
        return
    closing = sock.server.chat_pinger.closing
    closing[sock] = time.monotonic() + CLOSE_TIMEOUT
    try:
        if sock.chat_send_lock.acquire(timeout=CLOSE_TIMEOUT):
            try:
                if say_close:
                    ws.send(packet.Packet(packet.CLOSE).encode())
                # eventlet's close() would also close the socket, which its reader may be doing
                # already (on the client's close frame); the shutdown below ends the connection.
                if hasattr(ws, "_send_closing_frame"):
                    ws._send_closing_frame(True)
                else:
                    ws.close()
            except Exception:
                pass
            finally:
                sock.chat_send_lock.release()
        else:
            _reset(raw)
    finally:
        closing.pop(sock, None)
    # Shut down rather than only close: the server's own references to the socket (its request
    # file) keep a close from ending the connection, and a read or write waiting on it.
    if raw is not None:
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)


def _raw_socket(ws):
    """The connection under a WebSocket (`socket` in eventlet's and ours, `ws.sock` in simple-websocket's)."""
    return getattr(ws, "socket", None) or getattr(getattr(ws, "ws", None), "sock", None)


def _reset(raw) -> None:
    """End the connection with a reset: writes waiting on it fail, and the kernel drops its queue."""
    if raw is None:
        return
    with contextlib.suppress(OSError):
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.shutdown(socket.SHUT_RDWR)


def _websocket_handler(self, ws):
    """Engine.IO's handler for the WebSocket transport, as in python-engineio but without the writer."""
    if not hasattr(self.server, "chat_lock"):
        return _original["_websocket_handler"](self, ws)
    if self.connected:  # an upgrade from long-polling: Engine.IO's probe exchange
        self.upgrading = True
        pkt = _wait(self, ws)
        decoded = packet.Packet(encoded_packet=pkt)
        if decoded.packet_type != packet.PING or decoded.data != "probe":
            self.server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
            self.upgrading = False
            return []
        ws.send(packet.Packet(packet.PONG, data="probe").encode())
        self.queue.put(packet.Packet(packet.NOOP))  # ends the pending poll
        pkt = _wait(self, ws)
        decoded = packet.Packet(encoded_packet=pkt)
        if decoded.packet_type != packet.UPGRADE:
            self.upgraded = False
            self.server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet", self.sid)
            self.upgrading = False
            return []
        self.upgraded = True
        self.upgrading = False
    else:
        self.connected = True
        self.upgraded = True

    # One lock for every write on the connection: a WebSocket that writes replies of its own
    # (chat/gevent_websocket.py) shares its lock, so a close can see a stuck reply too.
    self.chat_send_lock = getattr(ws, "write_lock", None) or self.server.chat_lock()
    try:
        with self.chat_send_lock:
            # What was queued before (the OPEN packet, or sends during the upgrade) goes first; the
            # queue is empty when chat_ws is set, with no switch between, so nothing is left in it.
            for pkt in _drain(self):
                ws.send(pkt.encode())
            self.chat_ws = ws
    except Exception as err:  # the client is gone already
        self.server.logger.info("%s: send failed: %s", self.sid, err)
        self.chat_ws = ws
        self.close(wait=True, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        return []
    if self.closing or self.closed:  # closed during the upgrade, by Engine.IO's own close()
        _shut(self, ws, say_close=False)
        return []

    while True:
        try:
            p = _wait(self, ws)
        except Exception as err:
            if not self.closed:
                self.server.logger.info('%s: Unexpected error "%s", closing connection', self.sid, err)
            break
        if p is None:  # closed by the client (or by close())
            break
        try:
            self.receive(packet.Packet(encoded_packet=p))
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            self.server.logger.info("Receive error -- socket is closed")
            break
        except Exception:
            self.server.logger.exception("Unknown receive error")
            break
    self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
    # The WebSocket is closed before the server closes the connection under it.
    shut = getattr(self, "chat_shut", None)
    if shut is not None:
        shut.join()
    return []


def _wait(sock, ws):
    data = ws.wait()
    if data and len(data) > sock.server.max_http_buffer_size:
        raise ValueError("packet is too large")
    return data


def _drain(sock) -> list:
    empty = sock.server.get_queue_empty_exception()
    packets = []
    while True:
        try:
            pkt = sock.queue.get(block=False)
        except empty:
            return packets
        sock.queue.task_done()
        if pkt is not None:
            packets.append(pkt)


class _Socket:
    """eventlet's `environ["eventlet.input"]`: what its WebSocket takes the connection from."""

    __slots__ = ("socket",)

    def __init__(self, sock) -> None:
        self.socket = sock

    def get_socket(self):
        return self.socket


class GunicornEventletInput:
    """WSGI middleware: hand gunicorn's socket to eventlet's WebSocket without a class per request.

    Under gunicorn, python-engineio's middleware defines a new class for every request to wrap
    `environ["gunicorn.socket"]` the way eventlet's WebSocket wants it; each costs about 2.6 KiB
    and a reference cycle, for as long as the request (a WebSocket's: the connection) lasts.
    This one wraps it with one class, and takes the key away so that Engine.IO does not.
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        sock = environ.pop("gunicorn.socket", None)
        if sock is not None:
            environ["eventlet.input"] = _Socket(sock)
        return self.wsgi_app(environ, start_response)


class WithoutCompression:
    """WSGI middleware: WebSockets without permessage-deflate, whatever the browser offers.

    Browsers offer the extension on every WebSocket, and eventlet and
    simple-websocket accept it. The zlib streams it keeps per connection
    (kept between messages, as the extension allows) cost about 90 KiB for
    every connected user, three times the rest of an idle connection, and
    signaling messages are too small to gain from compression. Removing the
    offer from the request makes the server answer without the extension, as
    socket.io's own server does by default.
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


def _lock_factory(async_mode: str):
    if async_mode == "eventlet":
        from eventlet.semaphore import Semaphore
    else:
        from gevent.lock import Semaphore
    return Semaphore


def install(server) -> None:
    """Use this transport for the Socket.IO `server`'s WebSocket connections (eventlet or gevent mode)."""
    eio = server.eio
    if eio.async_mode not in ("eventlet", "gevent"):
        raise ValueError(f"the lean WebSocket transport needs eventlet or gevent, not {eio.async_mode}")
    if eio.async_mode == "gevent":
        from chat import gevent_websocket

        eio._async = {**eio._async, "websocket": gevent_websocket.WebSocketWSGI}
    eio.chat_lock = _lock_factory(eio.async_mode)
    eio.chat_pinger = Pinger(eio)
    eio.start_service_task = False  # the pinger checks the ping timeouts
    ENGINEIO_SOCKET._websocket_handler = _websocket_handler
    ENGINEIO_SOCKET.send = send
    ENGINEIO_SOCKET.close = close
    ENGINEIO_SOCKET.schedule_ping = schedule_ping
