"""chat/serving/backports.py's gevent-mode constructor against python-engineio's, and the reader's wait.

The live proof is tests/live/test_signal_flood.py (a flood in gevent mode keeps the
server's memory flat); these pin down the parts: the constructor gives
simple-websocket what python-engineio gives it plus the message limit and the
waiting event class, and that event holds a second set() until the first is
taken, or until READ_AHEAD_WAIT.
"""

import threading
import time

from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

from chat.serving import backports

ENGINEIO_INIT = "engineio.async_drivers._websocket_wsgi.SimpleWebSocketWSGI.__init__"


class Server:
    max_http_buffer_size = 65536


def engineios_init():
    init = backports.ORIGINALS.get(ENGINEIO_INIT, SimpleWebSocketWSGI.__dict__["__init__"])
    assert init is not backports.simple_websocket_init
    return init


def test_the_constructor_is_engineios_plus_the_limit_and_the_event():
    kwargs = {"thread_class": threading.Thread, "event_class": threading.Event, "selector_class": object}
    theirs, ours = object.__new__(SimpleWebSocketWSGI), object.__new__(SimpleWebSocketWSGI)
    engineios_init()(theirs, "handler", Server(), **kwargs)
    backports.simple_websocket_init(ours, "handler", Server(), **kwargs)

    assert ours.app == theirs.app == "handler"
    assert theirs.server_args == kwargs
    event_class = ours.server_args.pop("event_class")
    assert issubclass(event_class, threading.Event) and event_class is not threading.Event
    assert ours.server_args.pop("max_message_size") == 65536
    assert ours.server_args == {k: v for k, v in kwargs.items() if k != "event_class"}


def test_without_an_event_class_simple_websockets_default_stays():
    ours = object.__new__(SimpleWebSocketWSGI)
    backports.simple_websocket_init(ours, "handler", Server())
    assert ours.server_args == {"max_message_size": 65536}


def reader(event, sets: int, done: list) -> threading.Thread:
    def run():
        for _ in range(sets):
            event.set()
            done.append(time.monotonic())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_second_set_waits_until_the_handler_has_cleared():
    event, done = backports.taken_event(threading.Event)(), []
    thread = reader(event, 2, done)
    time.sleep(0.3)
    assert len(done) == 1 and event.is_set()  # the second set() is waiting

    event.clear()  # the handler has taken what the first announced
    thread.join(timeout=2)
    assert len(done) == 2 and event.is_set()


def test_the_wait_ends_after_read_ahead_wait_if_nobody_clears(monkeypatch):
    monkeypatch.setattr(backports, "READ_AHEAD_WAIT", 0.2)
    event, done = backports.taken_event(threading.Event)(), []
    started = time.monotonic()
    reader(event, 3, done).join(timeout=5)
    assert len(done) == 3
    assert 0.35 < done[2] - started < 3  # two waits of 0.2 s: the second and the third set()
    assert event.is_set()


def test_wait_and_clear_still_behave_as_the_event_class():
    event = backports.taken_event(threading.Event)()
    assert not event.is_set() and not event.wait(0.01)
    event.set()
    assert event.wait(0.01)
    event.clear()
    assert not event.is_set()
