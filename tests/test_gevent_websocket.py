"""chat/gevent_websocket.py: the RFC 6455 handshake and framing, over a socket pair.

A thread plays the request's greenlet; the test is the browser, writing masked
frames with websocket-client's ABNF. gunicorn with gevent runs it for real in
tests/test_websocket_transport.py and tests/test_python_client.py.
"""

import socket
import struct
import threading

import pytest
from websocket import ABNF

from chat.gevent_websocket import WebSocketWSGI

LIMIT = 1000
HANDSHAKE = {
    "HTTP_UPGRADE": "websocket",
    "HTTP_CONNECTION": "keep-alive, Upgrade",
    "HTTP_SEC_WEBSOCKET_VERSION": "13",
    "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",  # RFC 6455's example
}


class Server:
    max_http_buffer_size = LIMIT


class Connection:
    """The server side in a thread, collecting what wait() returns until None."""

    def __init__(self, environ=None, on_open=None):
        self.server_sock, self.client = socket.socketpair()
        self.client.settimeout(5)
        self.received = []
        self.errors = []
        self.statuses = []
        self.ws = WebSocketWSGI(self._app, Server())
        self.on_open = on_open
        environ = {**HANDSHAKE, **(environ or {}), "gunicorn.socket": self.server_sock}
        self.result = None
        self.thread = threading.Thread(target=self._serve, args=(environ,))
        self.thread.start()
        self._pending = b""

    def _app(self, ws):
        try:
            if self.on_open:
                self.on_open(ws)
            while (message := ws.wait()) is not None:
                self.received.append(message)
        except Exception as err:  # wait() must return None, never raise
            self.errors.append(err)

    def _serve(self, environ):
        try:
            self.result = self.ws(environ, lambda status, headers: self.statuses.append(status))
        except StopIteration:
            self.result = "stopped"

    def handshake(self) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.client.recv(4096)
        head, _, self._pending = data.partition(b"\r\n\r\n")
        return head

    def send(self, frame: ABNF):
        self.client.sendall(frame.format())

    def frame(self) -> tuple[int, bytes]:
        """Read one frame the server wrote: (opcode, payload)."""
        head = self._take(2)
        assert head[0] & 0x80 and not head[1] & 0x80, "server frames are final and unmasked"
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._take(8))[0]
        return head[0] & 0x0F, self._take(length)

    def _take(self, n: int) -> bytes:
        while len(self._pending) < n:
            chunk = self.client.recv(65536)
            assert chunk, "the server closed the connection"
            self._pending += chunk
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def finish(self):
        self.thread.join(5)
        assert not self.thread.is_alive(), "wait() did not return None"
        assert self.errors == []
        self.client.close()
        self.server_sock.close()


def text(data, fin=1, opcode=ABNF.OPCODE_TEXT):
    return ABNF(fin=fin, opcode=opcode, data=data)  # ABNF's own default is fin=0


def close_code(payload: bytes) -> int:
    return struct.unpack("!H", payload[:2])[0]


def test_the_handshake_answers_rfc_6455s_example_without_extensions():
    conn = Connection({"HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate"})
    head = conn.handshake().decode()
    assert head.startswith("HTTP/1.1 101 Switching Protocols\r\n")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    assert "Extensions" not in head
    conn.client.shutdown(socket.SHUT_WR)
    conn.finish()
    assert conn.result == "stopped" and conn.received == []


def test_another_websocket_version_is_told_which_one_to_use():
    conn = Connection({"HTTP_SEC_WEBSOCKET_VERSION": "8"})
    conn.thread.join(5)
    assert conn.statuses == ["426 Upgrade Required"]
    assert conn.received == [] and conn.result != "stopped"
    conn.finish()


@pytest.mark.parametrize(
    "broken",
    [
        {"HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==ü"},  # not ASCII (gunicorn decodes Latin-1)
        {"HTTP_UPGRADE": "h2c"},
        {"HTTP_CONNECTION": "keep-alive"},
        {"HTTP_SEC_WEBSOCKET_KEY": "c2hvcnQ="},
        {"HTTP_SEC_WEBSOCKET_KEY": "not base64!"},
    ],
)
def test_a_bad_handshake_gets_400_and_no_websocket(broken):
    conn = Connection(broken)
    conn.thread.join(5)
    assert conn.statuses == ["400 Bad Request"]
    assert conn.received == [] and conn.result != "stopped"
    conn.finish()


def test_text_fragments_binary_ping_and_close():
    conn = Connection()
    conn.handshake()
    conn.send(text("hello"))
    conn.send(text("ab", fin=0))
    conn.send(text(b"are you there", opcode=ABNF.OPCODE_PING))  # control frames may come between fragments
    conn.send(text("cd", opcode=ABNF.OPCODE_CONT))
    conn.send(text(b"\x00\xff", opcode=ABNF.OPCODE_BINARY))
    conn.send(text("héllo".encode()))  # ABNF would encode a str as Latin-1
    assert conn.frame() == (ABNF.OPCODE_PONG, b"are you there")
    conn.send(text(struct.pack("!H", 1001), opcode=ABNF.OPCODE_CLOSE))
    opcode, payload = conn.frame()
    assert (opcode, close_code(payload)) == (ABNF.OPCODE_CLOSE, 1001)
    conn.finish()
    assert conn.received == ["hello", "abcd", b"\x00\xff", "héllo"]
    assert conn.result == "stopped"


@pytest.mark.parametrize(
    "frames, code",
    [
        ([text("x" * (LIMIT + 1))], 1009),
        ([text("x" * 600, fin=0), text("x" * 600, opcode=ABNF.OPCODE_CONT)], 1009),
        ([text("plain", fin=1)], 1002),  # not masked: sent with the mask flag cleared below
        ([text("x", opcode=ABNF.OPCODE_CONT)], 1002),  # a continuation of nothing
        ([text("a", fin=0), text("b")], 1002),  # a new message inside a fragmented one
        ([text(b"\xff\xfe")], 1007),  # not UTF-8
        ([b"\x83\x81\x00\x00\x00\x00?"], 1002),  # a reserved opcode (ABNF refuses to make one)
        ([text(b"", fin=0, opcode=ABNF.OPCODE_PING)], 1002),  # a fragmented control frame
        ([b"\x81\xff\x80" + b"\x00" * 7], 1002),  # a 64-bit length with its top bit set
        ([text(b"\x03", opcode=ABNF.OPCODE_CLOSE)], 1002),  # a close payload of one byte
        ([text(struct.pack("!H", 1005), opcode=ABNF.OPCODE_CLOSE)], 1002),  # a code only for APIs
        ([text(struct.pack("!H", 999), opcode=ABNF.OPCODE_CLOSE)], 1002),
        ([text(struct.pack("!H", 1000) + b"\xff", opcode=ABNF.OPCODE_CLOSE)], 1007),  # reason not UTF-8
        ([text(struct.pack("!H", 3000) + b"bye", opcode=ABNF.OPCODE_CLOSE)], 3000),  # echoed
    ],
)
def test_a_bad_frame_closes_with_the_code_it_deserves(frames, code):
    conn = Connection()
    conn.handshake()
    conn.send(text("first"))
    for frame in frames:
        raw = frame if isinstance(frame, bytes) else frame.format()
        if code == 1002 and getattr(frame, "data", None) == "plain":
            raw = bytes([raw[0], raw[1] & 0x7F]) + raw[6:]  # drop the mask
        conn.client.sendall(raw)
    opcode, payload = conn.frame()
    assert (opcode, close_code(payload)) == (ABNF.OPCODE_CLOSE, code)
    conn.client.shutdown(socket.SHUT_WR)
    conn.finish()
    assert conn.received == ["first"]


def test_sends_are_final_unmasked_frames_of_every_length():
    sizes = [0, 125, 126, 65535, 65536, 70000]

    def on_open(ws):
        for size in sizes:
            ws.send("y" * size)
        ws.send(b"\x01\x02")

    conn = Connection(on_open=on_open)
    conn.handshake()
    for size in sizes:
        assert conn.frame() == (ABNF.OPCODE_TEXT, b"y" * size)
    assert conn.frame() == (ABNF.OPCODE_BINARY, b"\x01\x02")
    conn.ws.close()
    opcode, payload = conn.frame()
    assert (opcode, close_code(payload)) == (ABNF.OPCODE_CLOSE, 1000)
    with pytest.raises(OSError):
        conn.ws.send("after close")
    conn.client.shutdown(socket.SHUT_WR)
    conn.finish()


def test_a_ping_whose_pong_cannot_be_written_ends_the_wait_quietly():
    conn = Connection()
    conn.handshake()
    conn.server_sock.shutdown(socket.SHUT_WR)  # as a reset by the server would
    conn.send(text(b"hello?", opcode=ABNF.OPCODE_PING))
    conn.finish()
    assert conn.received == [] and conn.result == "stopped"


def test_a_client_gone_mid_frame_ends_the_wait():
    conn = Connection()
    conn.handshake()
    conn.client.sendall(text("cut short").format()[:5])
    conn.client.shutdown(socket.SHUT_WR)
    conn.finish()
    assert conn.received == [] and conn.result == "stopped"
