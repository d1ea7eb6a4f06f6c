"""chat/serving/backports.py's eventlet Message.push against eventlet's own: the same messages, and a limit.

The live servers refusing a fragmented message over MAX_MESSAGE_BYTES are
tests/live/test_message_limit.py.
"""

import logging
import os
import socket
import struct
import subprocess
import sys
import warnings
import zlib

import pytest

from chat.serving import backports
from tests.support.paths import ROOT
from tests.support.websocket_frames import BINARY, CLOSE, CONTINUATION, TEXT, TOO_BIG, client_frame

LIMIT = 64 * 1024  # the message limit the Messages below are made with: MAX_MESSAGE_BYTES's default
FRAME = 16 * 1024  # a fragment's payload: a quarter of the limit


@pytest.fixture(scope="module")
def eventlet_websocket():
    with warnings.catch_warnings():
        # eventlet warns on import that it is deprecated.
        warnings.simplefilter("ignore")
        from eventlet import websocket
    return websocket


@pytest.fixture(scope="module")
def eventlets_push(eventlet_websocket):
    """eventlet's own Message.push, whether or not this process has put the backport in place."""
    key = "eventlet.websocket.RFC6455WebSocket.Message.push"
    push = backports.ORIGINALS.get(key, eventlet_websocket.RFC6455WebSocket.Message.__dict__["push"])
    assert push is not backports.message_push
    return push


def message(websocket, opcode: int, compressed: bool = False):
    """A Message as eventlet's _recv_frame makes it for a frame of `opcode`, with the limit at LIMIT."""
    decoder = websocket.RFC6455WebSocket.UTF8Decoder() if opcode == TEXT else None
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS) if compressed else None
    return websocket.RFC6455WebSocket.Message(opcode, LIMIT, decoder=decoder, decompressor=decompressor)


def deflated(data: bytes) -> bytes:
    """`data` as a permessage-deflate client sends it (without the sync flush's tail)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def fragments(data: bytes, sizes: list[int]) -> list[bytes]:
    """`data` cut into pieces of `sizes` (the last piece takes the rest), some of them empty."""
    pieces, start = [], 0
    for size in sizes:
        pieces.append(data[start : start + size])
        start += size
    return [*pieces, data[start:]]


SOME_TEXT = "é signal ✓ " * 300  # multi-byte characters, cut mid-character by some of the fragments
MESSAGES = {
    "text, one frame": (TEXT, SOME_TEXT.encode(), []),
    "text, fragments": (TEXT, SOME_TEXT.encode(), [1, 0, 7, 1000, 3]),
    "text, at the limit": (TEXT, b"x" * LIMIT, [LIMIT // 4] * 3),
    "binary, one frame": (BINARY, os.urandom(5000), []),
    "binary, fragments": (BINARY, os.urandom(LIMIT - 1000), [1, 2, 0, 30000, 17]),  # deflate adds a little
    "empty": (TEXT, b"", []),
}


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize("name", MESSAGES)
def test_the_backport_gives_what_eventlets_push_gives_under_the_limit(
    eventlet_websocket, eventlets_push, name, compressed
):
    opcode, data, sizes = MESSAGES[name]
    wire = deflated(data) if compressed else data
    theirs, ours = (message(eventlet_websocket, opcode, compressed) for _ in range(2))
    pieces = fragments(wire, sizes)
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        eventlets_push(theirs, piece, final=final)
        backports.message_push(ours, piece, final=final)
    assert ours.finished == theirs.finished is True
    assert ours.getvalue() == theirs.getvalue() == (data.decode() if opcode == TEXT else data)


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_the_backport_refuses_the_fragment_that_passes_the_limit(eventlet_websocket, opcode):
    ours = message(eventlet_websocket, opcode)
    for _ in range(4):
        backports.message_push(ours, b"a" * (LIMIT // 4))
    with pytest.raises(eventlet_websocket.FailedConnectionError) as refused:
        backports.message_push(ours, b"a", final=True)
    assert refused.value.status == TOO_BIG
    assert len(refused.value.message.encode()) <= 123  # it goes in a close frame
    assert sum(map(len, ours.data)) == LIMIT  # the refused byte was not kept
    assert not ours.finished


def test_an_over_limit_message_closes_eventlets_websocket_with_1009(eventlet_websocket, monkeypatch):
    # How the refusal travels: out of _recv_frame (not a ValueError, so not 1007), to
    # _iter_frames, which sends the close frame with its status and ends wait().
    websocket = eventlet_websocket
    monkeypatch.setattr(websocket.RFC6455WebSocket.Message, "push", backports.message_push)
    server_end, client = socket.socketpair()
    with server_end, client:
        ws = websocket.RFC6455WebSocket(server_end, {}, max_frame_length=LIMIT)
        client.sendall(client_frame(TEXT, b"a" * FRAME, fin=False))
        for _ in range(LIMIT // FRAME):
            client.sendall(client_frame(CONTINUATION, b"a" * FRAME, fin=False))
        assert ws.wait() is None
        client.settimeout(5)
        reply = client.recv(200)
        assert reply[0] == 0x80 | CLOSE
        assert struct.unpack("!H", reply[2:4])[0] == TOO_BIG


def test_the_guard_skips_another_version_with_one_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="chat.serving.backports"):
        assert not backports.pinned("eventlet", "0.0.1", "a backport")
    assert [r.getMessage() for r in caplog.records] == [
        f"eventlet is {backports.metadata.version('eventlet')}, not the pinned 0.0.1: a backport not applied"
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="chat.serving.backports"):
        assert backports.pinned("eventlet", backports.EVENTLET, "a backport")
    assert caplog.records == []


def test_the_pinned_version_is_the_one_requirements_txt_pins():
    requirements = (ROOT / "requirements.txt").read_text()
    assert f"eventlet=={backports.EVENTLET}\n" in requirements


@pytest.mark.parametrize("mode, installed", [("eventlet", True), ("gevent", False), ("threading", False)])
def test_the_backport_is_in_place_in_eventlet_mode_only(mode, installed):
    script = (
        "from chat import create_app\nfrom chat.serving import backports\n"
        f"create_app({{'APP_ENV': 'testing', 'ASYNC_MODE': {mode!r}}})\n"
        "from eventlet.websocket import RFC6455WebSocket as W\n"
        "print(W.Message.__dict__['push'] is backports.message_push)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(installed)
