"""chat/ws_writer.py: writes that never wait, in order, and a reset for a client too far behind.

The server's end is a gevent socket (non-blocking, as under gunicorn's gevent
worker) and the Writer's drain task a greenlet; the client is a plain socket,
read by a thread when a test wants it read. The servers use the Writer for
real in tests/test_websocket_transport.py.
"""

import socket
import threading
import time
from types import SimpleNamespace

import gevent
import gevent.socket
import pytest

from chat import websocket_transport
from chat.ws_writer import MAX_BACKLOG_BYTES, BacklogFull, Writer, frame, message_frame


@pytest.fixture
def connection():
    """(the server's gevent socket, the client's plain socket); small buffers, so that they fill soon."""
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(listener.getsockname())
    server_end, _ = listener.accept()
    server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    listener.close()
    yield server_end, client
    server_end.close()
    client.close()


def writer_for(sock) -> Writer:
    return Writer(sock, gevent.spawn, gevent.sleep)


def read_all(client, into: bytearray) -> threading.Thread:
    def run():
        client.settimeout(5)
        while chunk := client.recv(65536):
            into.extend(chunk)

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    return reader


def test_frames():
    assert frame(0x1, b"hi") == b"\x81\x02hi"
    assert frame(0x2, b"x" * 126)[:4] == b"\x82\x7e\x00\x7e"
    assert frame(0x1, b"x" * 65536)[:10] == b"\x81\x7f" + (65536).to_bytes(8, "big")
    assert message_frame("é") == b"\x81\x02\xc3\xa9"
    assert message_frame(b"\x00") == b"\x82\x01\x00"


def test_writes_return_at_once_and_arrive_in_order(connection):
    server_end, client = connection
    writer = writer_for(server_end)
    messages = [frame(0x1, b"%06d" % i + b"x" * 2000) for i in range(400)]  # 800 KB, unread for now
    started = time.monotonic()
    for message in messages:
        writer.write(message)
    assert time.monotonic() - started < 0.5
    assert writer.draining, "the premise: the kernel did not take it all"

    received = bytearray()
    reader = read_all(client, received)
    assert writer.flushed(5)
    assert not writer.draining and writer.backlog_bytes == 0
    writer.write(frame(0x1, b"after"))  # straight to the kernel again
    assert not writer.draining
    server_end.shutdown(socket.SHUT_WR)
    reader.join(5)
    assert bytes(received) == b"".join(messages) + frame(0x1, b"after")


def test_a_client_that_reads_nothing_is_reset_past_the_backlog_limit(connection):
    server_end, client = connection
    writer = writer_for(server_end)
    offer = frame(0x1, b"x" * 24_000)
    written = 0
    with pytest.raises(BacklogFull):
        while written < 64 << 20:
            writer.write(offer)
            written += len(offer)
    # The kernel's small share, then the backlog's.
    assert MAX_BACKLOG_BYTES - len(offer) < written < 2 * MAX_BACKLOG_BYTES
    assert writer.broken
    with pytest.raises(OSError):
        writer.write(offer)
    gevent.sleep(0.1)  # the drain task sees its write fail, and ends
    assert not writer.draining
    server_end.close()  # as the server does once the reader has seen the connection end
    client.settimeout(5)
    with pytest.raises(ConnectionResetError):  # the client reads what arrived, then the reset
        while client.recv(1 << 20):
            pass


def test_a_write_on_a_closed_socket_fails_and_writes_nothing(connection):
    server_end, client = connection
    writer = writer_for(server_end)
    server_end.close()
    with pytest.raises(OSError):
        writer.write(frame(0x1, b"lost"))
    assert writer.broken


def test_a_close_the_client_does_not_read_is_reset(connection, monkeypatch):
    """The close packet and frame wait behind a backlog the client never reads: reset after CLOSE_TIMEOUT."""
    server_end, client = connection
    monkeypatch.setattr(websocket_transport, "CLOSE_TIMEOUT", 0.3)
    writer = writer_for(server_end)
    while writer.backlog_bytes < 200_000:  # far more than the kernel holds for the client
        writer.write(frame(0x1, b"x" * 10_000))
    closing = []
    ws = SimpleNamespace(close=lambda: closing.append(writer.write(frame(0x8, b"\x03\xe8"))))
    started = time.monotonic()
    websocket_transport._shut(writer, ws, say_close=True)
    assert 0.3 <= time.monotonic() - started < 2
    assert closing == [None] and writer.broken
    gevent.sleep(0.1)  # the drain task sees its write fail, and ends
    server_end.close()
    client.settimeout(5)
    with pytest.raises(ConnectionResetError):
        while client.recv(1 << 20):
            pass


def test_a_close_the_client_reads_ends_the_connection_cleanly(connection):
    server_end, client = connection
    writer = writer_for(server_end)
    for _ in range(100):
        writer.write(frame(0x1, b"x" * 10_000))  # 1 MB, more than the kernel holds for the client
    ws = SimpleNamespace(close=lambda: writer.write(frame(0x8, b"\x03\xe8")))
    received = bytearray()
    reader = read_all(client, received)
    websocket_transport._shut(writer, ws, say_close=True)
    reader.join(5)
    assert not writer.broken
    # Everything, then Engine.IO's close packet ("1") and the close frame, then the end.
    assert bytes(received).endswith(frame(0x1, b"1") + frame(0x8, b"\x03\xe8"))
    assert len(received) == 100 * len(frame(0x1, b"x" * 10_000)) + 3 + 4
