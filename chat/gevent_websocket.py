"""A WebSocket for gevent mode that reads in the request's own greenlet.

Engine.IO's gevent driver serves WebSockets with simple-websocket, which runs
a reader thread (a greenlet) for each connection and hands every message to
the request's greenlet through an event, parsing frames with wsproto. Under
gunicorn's gevent worker this class does the RFC 6455 handshake and framing
itself on gunicorn's socket, in the greenlet that serves the request: one
greenlet per connection, and no switch per message.

It offers what Engine.IO's WebSocket handler uses (`wait`, `send`, `close`)
and no extension or subprotocol. Once chat/websocket_transport.py has given
it the connection's `chat_writer` (chat/ws_writer.py), every frame it writes,
its replies to pings and its close frame included, goes through that, and
so never waits on the client. Elsewhere (no gunicorn socket in the WSGI
environment) Engine.IO's own gevent WebSocket serves the request.
"""

import base64
import contextlib
import hashlib
import struct

from engineio.async_drivers import gevent as engineio_gevent

from chat.eventlet_mask import apply_mask
from chat.ws_writer import frame

ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RECV_BYTES = 65536
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1002, 1007, 1009


def _valid_close_code(code: int) -> bool:
    """RFC 6455 section 7.4 and IANA's registry: the codes an endpoint may send."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class WebSocketWSGI:
    """Engine.IO's `_async["websocket"]` in gevent mode: `WebSocketWSGI(handler, server)(environ, ...)`."""

    chat_writer = None  # the connection's Writer, once the transport has made it

    def __init__(self, handler, server) -> None:
        self.app = handler
        self.server = server
        self.socket = None
        self.closed = False
        self._buffer = bytearray()

    def __call__(self, environ, start_response):
        # chat.socket: gunicorn's socket, handed over by websocket_transport.GunicornSocket.
        sock = environ.get("chat.socket") or environ.get("gunicorn.socket")
        if sock is None:
            return engineio_gevent.WebSocketWSGI(self.app, self.server)(environ, start_response)
        if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "13") != "13":
            headers = [("Sec-WebSocket-Version", "13"), ("Content-Type", "text/plain")]
            start_response("426 Upgrade Required", headers)
            return [b"This server speaks WebSocket version 13.\n"]
        accept = _accept_key(environ)
        if accept is None:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"Not a WebSocket handshake.\n"]
        self.socket = sock
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        try:
            self.app(self)
        except Exception:
            self.server.logger.exception("WebSocket handler failed")
        # The connection was the response: gunicorn closes it without writing another.
        raise StopIteration()

    def wait(self):
        """Return the next message (str if text, bytes if binary), or None once the connection is over."""
        limit = self.server.max_http_buffer_size
        parts: list[bytes] = []
        kind = None
        size = 0
        while not self.closed:
            head = self._read(2)
            if head is None:
                return self._gone()
            fin, opcode, length = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x7F
            if head[0] & 0x70 or not head[1] & 0x80:  # extension bits, or a client frame not masked
                return self._fail(PROTOCOL_ERROR)
            if opcode >= CLOSE and (not fin or length > 125):
                return self._fail(PROTOCOL_ERROR)
            if length >= 126:
                extended = self._read(2 if length == 126 else 8)
                if extended is None:
                    return self._gone()
                length = int.from_bytes(extended, "big")
                if length >> 63:
                    return self._fail(PROTOCOL_ERROR)
            if opcode < CLOSE:
                size += length
                if size > limit:
                    return self._fail(TOO_BIG)
            mask = self._read(4)
            payload = self._read(length)
            if mask is None or payload is None:
                return self._gone()
            payload = apply_mask(payload, mask)
            if opcode == CLOSE:
                return self._closed_by_client(payload)
            if opcode == PING:
                try:
                    self._write(PONG, payload)
                except OSError:  # gone, or reset for reading none of the pongs
                    return self._gone()
                continue
            if opcode == PONG:
                continue
            if opcode not in (CONTINUATION, TEXT, BINARY) or (opcode == CONTINUATION) != (kind is not None):
                return self._fail(PROTOCOL_ERROR)
            kind = kind or opcode
            if payload:  # an empty fragment adds nothing, and a flood of them would grow the list unbounded
                parts.append(payload)
            if fin:
                data = b"".join(parts)
                if kind == BINARY:
                    return data
                try:
                    return data.decode("utf-8")
                except UnicodeDecodeError:
                    return self._fail(INVALID_DATA)
        return None

    def send(self, message) -> None:
        """Write one message: text for a str, binary for bytes."""
        if self.closed:
            raise OSError("the WebSocket is closed")
        if isinstance(message, str):
            self._write(TEXT, message.encode("utf-8"))
        else:
            self._write(BINARY, message)

    def close(self) -> None:
        """Write the close frame, once. The connection ends when the server shuts the socket down."""
        self._close_with(NORMAL)

    # Helpers

    def _read(self, n: int) -> bytes | None:
        buffer = self._buffer
        while len(buffer) < n:
            try:
                chunk = self.socket.recv(RECV_BYTES)
            except OSError:
                return None
            if not chunk:
                return None
            buffer += chunk
        data = bytes(buffer[:n])
        del buffer[:n]
        return data

    def _write(self, opcode: int, payload: bytes) -> None:
        write = self.socket.sendall if self.chat_writer is None else self.chat_writer.write
        write(frame(opcode, payload))

    def _close_with(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):  # the client is gone already
            self._write(CLOSE, struct.pack("!H", code))

    def _closed_by_client(self, payload: bytes) -> None:
        """Answer the client's close frame with its code (a bad one earns 1002 or 1007)."""
        code = int.from_bytes(payload[:2], "big") if payload else NORMAL
        if len(payload) == 1 or not _valid_close_code(code):
            return self._fail(PROTOCOL_ERROR)
        try:
            payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            return self._fail(INVALID_DATA)
        return self._fail(code)

    def _fail(self, code: int) -> None:
        """Close from the reader, with `code`."""
        self._close_with(code)
        return None

    def _gone(self) -> None:
        self.closed = True
        return None


def _accept_key(environ) -> bytes | None:
    """The Sec-WebSocket-Accept value for a valid RFC 6455 handshake, else None."""
    upgrade = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
    connection = "upgrade" in [
        token.strip() for token in environ.get("HTTP_CONNECTION", "").lower().split(",")
    ]
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    if not (upgrade and connection and environ.get("HTTP_SEC_WEBSOCKET_VERSION") == "13"):
        return None
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except ValueError:  # binascii.Error, or a key that is not ASCII
        return None
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + ACCEPT_GUID).digest())
