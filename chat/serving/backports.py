"""Version-guarded backports of single library functions.

Where a fault is inside a library and nothing it supports reaches it, the fix
is one function of that library, written against the version that
requirements.txt pins and put in place only when exactly that version is
installed: another version may have fixed the fault or changed what the
function must do, so there the backport is skipped with one log line saying
so. docs/architecture.md lists each with the upstream behaviour it works
around; tests/unit/test_message_push_backport.py and
tests/unit/test_read_backpressure.py test them against the originals.
"""

import logging
from importlib import metadata

log = logging.getLogger(__name__)

EVENTLET = "0.41.3"  # the eventlet that requirements.txt pins and the backports below are written for
ENGINEIO = "4.15.1"  # the python-engineio that requirements.txt pins, for simple_websocket_init
ORIGINALS: dict = {}  # "module.Class.function" -> the library's own function, once replaced


def pinned(distribution: str, version: str, backport: str) -> bool:
    """Whether `distribution` is installed at exactly `version`; if not, log that `backport` is skipped."""
    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        installed = "not installed"
    if installed == version:
        return True
    log.warning("%s is %s, not the pinned %s: %s not applied", distribution, installed, version, backport)
    return False


def message_push(self, data: bytes, final: bool = False) -> None:
    """eventlet's RFC6455WebSocket.Message.push, refusing a message whose fragments pass max_frame_length.

    eventlet checks the length of each frame only, and joins a message's
    fragments when the last one has come, so a message of any size passes as
    frames under the limit. Here the bytes pushed to one message are counted
    as they arrive (what the wire carries: compressed bytes when the client
    compresses, whose decompressed size getvalue still limits), and the
    chunk that takes the count over max_frame_length, which Engine.IO sets
    to max_http_buffer_size, is refused before it is kept. The
    FailedConnectionError is not one of the errors _recv_frame turns into
    1007; _iter_frames closes the connection with its status, 1009, and
    wait() returns None.
    """
    received = getattr(self, "chat_received", 0) + len(data)
    if received > self.max_frame_length:
        from eventlet.websocket import FailedConnectionError  # imported here: gevent mode has no eventlet

        raise FailedConnectionError(1009, f"Message over {self.max_frame_length} bytes.")
    self.chat_received = received
    self.finished = final
    if data:  # an empty fragment adds nothing to the message, and a flood of them would grow the list
        self.data.append(data)


def install_eventlet() -> None:
    """Put the eventlet backports in place (eventlet mode), if eventlet is the pinned version.

    chat/serving/eventlet_mask.py's unmasking goes under the same guard: it replaces
    RFC6455WebSocket._apply_mask, which another version may change too.
    """
    if not pinned("eventlet", EVENTLET, "the WebSocket message limit and fast unmasking"):
        return
    from eventlet.websocket import RFC6455WebSocket

    from chat.serving import eventlet_mask

    message = RFC6455WebSocket.Message
    ORIGINALS.setdefault("eventlet.websocket.RFC6455WebSocket.Message.push", message.__dict__["push"])
    message.push = message_push
    eventlet_mask.install()


def simple_websocket_init(self, handler, server, **kwargs) -> None:
    """python-engineio's SimpleWebSocketWSGI.__init__, giving simple-websocket the message limit.

    In gevent mode Engine.IO serves WebSockets with simple-websocket, which
    can refuse a message over `max_message_size` as its fragments arrive
    (closing with 1009), but python-engineio does not pass it one: a message
    of any size is joined in memory, and only then refused by Engine.IO as
    over max_http_buffer_size. This is the same constructor with that limit
    (python-engineio's own eventlet driver does the same for eventlet).
    """
    self.app = handler
    self.server_args = {"max_message_size": int(server.max_http_buffer_size), **kwargs}
    if "event_class" in kwargs:  # the one chat adds: the reader waits for the handler (below)
        self.server_args["event_class"] = taken_event(kwargs["event_class"])


READ_AHEAD_WAIT = 5.0  # seconds simple-websocket's reader waits for the handler to take what it read


def taken_event(event_class: type) -> type:
    """simple-websocket's `event_class` (a documented parameter), made to hold its reader back.

    simple-websocket reads in a task of its own, appends each message it has
    read to a list and sets this event; the handler (Engine.IO's) takes the
    messages and, once the list is empty, waits on the event and clears it.
    Nothing stops the reader: while the client sends faster than the handler
    takes, the list grows without limit (under gevent the reader does not even
    yield while the socket has data). Here set() waits, up to
    READ_AHEAD_WAIT, while the event is still set, that is while the handler
    has not yet taken what the last set() announced: the reader is then at
    most one read (simple-websocket's receive_bytes, 4 KiB, or one message up
    to max_message_size) ahead, the kernel's buffers fill, and TCP makes the
    client wait. The wait ends early when the handler clears; after
    READ_AHEAD_WAIT (a handler that is gone or stuck) the reader goes on as
    before.
    """

    class TakenEvent(event_class):
        def __init__(self) -> None:
            super().__init__()
            self.taken = event_class()

        def set(self) -> None:
            if self.is_set():
                self.taken.clear()
                self.taken.wait(READ_AHEAD_WAIT)
            super().set()

        def clear(self) -> None:
            super().clear()
            self.taken.set()

    TakenEvent.__qualname__ = f"TakenEvent[{event_class.__module__}.{event_class.__qualname__}]"
    return TakenEvent


def install_gevent() -> None:
    """Put the gevent-mode backport in place, if python-engineio is the pinned version."""
    if not pinned("python-engineio", ENGINEIO, "the WebSocket message limit in gevent mode"):
        return
    from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

    ORIGINALS.setdefault(
        "engineio.async_drivers._websocket_wsgi.SimpleWebSocketWSGI.__init__",
        SimpleWebSocketWSGI.__dict__["__init__"],
    )
    SimpleWebSocketWSGI.__init__ = simple_websocket_init
