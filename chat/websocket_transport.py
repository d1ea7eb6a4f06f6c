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

- every frame goes out through the connection's `chat.ws_writer.Writer`: one
  non-blocking write from the sending greenlet, and a drain task only for a
  client that reads slower than it is written to. A send never waits, so the
  Socket.IO handlers can run in the reader's greenlet (`async_handlers` off);
- the reader waits without a timeout: a client that stops answering pings is
  found by the pinger, which resets its connection and so ends the read;
- one pinger task per server sends every socket's pings and checks their
  answers, in place of a greenlet per socket and Engine.IO's service task.

A close writes the close packet and frame and waits up to CLOSE_TIMEOUT for
the client to read what is still queued for it, then resets the connection.
A server that `install` did not set up (another async mode in the same
process), or a WebSocket class it does not know, keeps Engine.IO's code.
"""

import contextlib
import logging
import socket
import time

from engineio import exceptions, packet
from engineio import socket as eio_socket

from chat.ws_writer import Writer, can_write, message_frame

log = logging.getLogger(__name__)

ENGINEIO_SOCKET = eio_socket.Socket
_original = {
    name: getattr(ENGINEIO_SOCKET, name) for name in ("_websocket_handler", "send", "close", "schedule_ping")
}
PINGER_TICK = 1.0  # seconds between the pinger's rounds; pings are due every PING_INTERVAL
CLOSE_TIMEOUT = 5.0  # seconds a close waits for the client to read what is queued for it


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
            with contextlib.suppress(exceptions.SocketIsClosedError):
                sock.send(packet.Packet(packet.PING))  # never waits on the client
        for sock in _due(self.answers, now):  # still here: no answer came (schedule() takes it out)
            if not (sock.closing or sock.closed):
                self.server.logger.info("%s: Client is gone, closing socket", sock.sid)
                sock.close(wait=False, abort=False, reason=self.server.reason.PING_TIMEOUT)
            if sock.closed and self.server.sockets.get(sock.sid) is sock:
                del self.server.sockets[sock.sid]


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
    writer = getattr(self, "chat_writer", None)
    if writer is None:
        return _original["send"](self, pkt)
    if not self.check_ping_timeout():  # raises if closed, returns False if it closed it now
        return
    try:
        writer.write(message_frame(pkt.encode()))
    except OSError as err:  # the client is gone or too far behind; the reader sees it too and ends the socket
        self.server.logger.info("%s: send failed: %s", self.sid, err)


def close(self, wait: bool = True, abort: bool = False, reason=None) -> None:
    writer = getattr(self, "chat_writer", None)
    if writer is None:
        return _original["close"](self, wait=wait, abort=abort, reason=reason)
    if self.closed or self.closing:
        return
    self.closing = True
    self.server._trigger_event(
        "disconnect", self.sid, reason or self.server.reason.SERVER_DISCONNECT, run_async=False
    )
    gone = reason == self.server.reason.PING_TIMEOUT
    self.chat_shut = self.server.start_background_task(_shut, writer, self.chat_ws, not abort, gone)
    self.closed = True
    if wait:
        self.chat_shut.join()


def _shut(writer: Writer, ws, say_close: bool, gone: bool = False) -> None:
    """Write Engine.IO's close packet (unless aborting) and the close frame, then end the connection.

    A client that answered no ping (`gone`) is sent nothing more: its
    connection is reset, so that the kernel does not keep what it never read
    (a suspended tab's backlog) for minutes after the server let it go. So is
    one that has not read what was queued for it CLOSE_TIMEOUT later.
    """
    if gone:
        writer.reset()
        return
    with contextlib.suppress(OSError):  # the connection is gone already
        if say_close:
            writer.write(message_frame(packet.Packet(packet.CLOSE).encode()))
        if hasattr(ws, "_send_closing_frame"):  # eventlet's: it then sends no second one
            ws._send_closing_frame(True)
        else:
            ws.close()
    if not writer.flushed(CLOSE_TIMEOUT):
        writer.reset()
    # Shut down rather than only close: the server's own references to the socket (its request
    # file) keep a close from ending the connection, and a read waiting on it.
    with contextlib.suppress(OSError):
        writer.sock.shutdown(socket.SHUT_RDWR)


def _raw_socket(ws):
    """The connection under a WebSocket this transport knows (eventlet's, or chat.gevent_websocket's)."""
    if not hasattr(type(ws), "chat_writer"):
        return None
    sock = getattr(ws, "socket", None)
    return sock if can_write(sock) else None


def _websocket_handler(self, ws):
    """Engine.IO's handler for the WebSocket transport, as in python-engineio but without the writer."""
    raw = _raw_socket(ws)
    if not hasattr(self.server, "chat_pinger") or raw is None:
        return _original["_websocket_handler"](self, ws)
    # Every frame of the connection goes through one Writer, the WebSocket's own replies
    # (pongs, its close frame) too, so that none interleaves with another.
    writer = ws.chat_writer = Writer(raw, self.server.start_background_task, self.server.sleep)
    try:
        if self.connected:  # an upgrade from long-polling: Engine.IO's probe exchange
            self.upgrading = True
            pkt = _wait(self, ws)
            decoded = packet.Packet(encoded_packet=pkt)
            if decoded.packet_type != packet.PING or decoded.data != "probe":
                self.server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
                self.upgrading = False
                return []
            writer.write(message_frame(packet.Packet(packet.PONG, data="probe").encode()))
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
        # What was queued before (the OPEN packet, or sends during the upgrade) goes first; a write
        # never switches greenlets, so nothing can be queued between the last of it and chat_writer.
        for pkt in _drain(self):
            writer.write(message_frame(pkt.encode()))
    except OSError as err:  # the client is gone already
        self.server.logger.info("%s: send failed: %s", self.sid, err)
        self.chat_writer, self.chat_ws = writer, ws
        self.close(wait=True, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        return []
    self.chat_writer, self.chat_ws = writer, ws
    if self.closing or self.closed:  # closed during the upgrade, by Engine.IO's own close()
        _shut(writer, ws, say_close=False)
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


class GunicornSocket:
    """WSGI middleware: hand gunicorn's socket to the WebSocket without a class per request.

    Under gunicorn, python-engineio's middleware defines a new class for every
    request that has `environ["gunicorn.socket"]`, to wrap it the way
    eventlet's WebSocket wants it; each costs about 2.6 KiB and a reference
    cycle, for as long as the request (a WebSocket's: the connection) lasts.
    This one takes the key away so that Engine.IO does not, and gives the
    socket to eventlet's WebSocket in one class defined once (eventlet mode),
    or to chat/gevent_websocket.py as `chat.socket` (gevent mode).
    """

    def __init__(self, wsgi_app, async_mode: str) -> None:
        self.wsgi_app = wsgi_app
        self.eventlet = async_mode == "eventlet"

    def __call__(self, environ, start_response):
        sock = environ.pop("gunicorn.socket", None)
        if sock is not None:
            if self.eventlet:
                environ["eventlet.input"] = _Socket(sock)
            else:
                environ["chat.socket"] = sock
        return self.wsgi_app(environ, start_response)


def _eventlet_send(self, data: bytes) -> None:
    """eventlet's RFC6455WebSocket._send (each frame it writes: pongs, its close frame) via the Writer."""
    writer = self.chat_writer
    if writer is None:
        return _original["eventlet_send"](self, data)
    writer.write(data)


def install(server) -> None:
    """Use this transport for the Socket.IO `server`'s WebSocket connections (eventlet or gevent mode)."""
    eio = server.eio
    if eio.async_mode not in ("eventlet", "gevent"):
        raise ValueError(f"the lean WebSocket transport needs eventlet or gevent, not {eio.async_mode}")
    if eio.async_mode == "gevent":
        from chat import gevent_websocket

        eio._async = {**eio._async, "websocket": gevent_websocket.WebSocketWSGI}
    else:
        from eventlet.websocket import RFC6455WebSocket

        if "eventlet_send" not in _original:
            _original["eventlet_send"] = RFC6455WebSocket._send
            RFC6455WebSocket.chat_writer = None  # set per connection by _websocket_handler
            RFC6455WebSocket._send = _eventlet_send
    eio.chat_pinger = Pinger(eio)
    eio.start_service_task = False  # the pinger checks the ping timeouts
    ENGINEIO_SOCKET._websocket_handler = _websocket_handler
    ENGINEIO_SOCKET.send = send
    ENGINEIO_SOCKET.close = close
    ENGINEIO_SOCKET.schedule_ping = schedule_ping
