"""Engine.IO sessions that are not connected to Socket.IO are closed after CONNECT_TIMEOUT.

An Engine.IO session is opened before Socket.IO's connect is checked, and
python-socketio keeps it open when that connect is refused (a client may
retry with other credentials) or never comes. Each costs a connection of the
process's MAX_CONNECTIONS; a thousand of them, with no login at all, were
still open a minute later. A browser sends its connect as soon as the session
opens, so one task per server closes, once a second, every session that has
not been connected for CONNECT_TIMEOUT seconds: refused, never connected, or
disconnected from the namespace while its WebSocket stays.

This is socket.io's own `connectTimeout`, which python-socketio does not have.
It reads the Engine.IO server's table of sessions and the Socket.IO
manager's, and closes through `engineio.Server.disconnect`.
"""

import logging
import socket
import time

import socketio

log = logging.getLogger(__name__)
TICK = 1.0  # seconds between rounds
NAMESPACE = "/"


class ConnectDeadline:
    """Close the Engine.IO sessions of `server` that no Socket.IO connection has held for `timeout` s."""

    def __init__(self, server: socketio.Server, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self.unconnected: dict[str, float] = {}  # Engine.IO sid -> when it was first seen unconnected

    def start(self) -> None:
        self.server.start_background_task(self._run)

    def _run(self) -> None:
        while True:
            self.server.sleep(TICK)
            try:
                self.sweep(time.monotonic())
            except Exception:  # one bad round must not end the task
                log.exception("closing unconnected sessions failed")

    def sweep(self, now: float) -> list[str]:
        """Close the sessions unconnected since `timeout` before `now`; return their Engine.IO sids."""
        manager, eio = self.server.manager, self.server.eio
        seen, expired = {}, []
        for eio_sid in list(eio.sockets):
            sid = manager.sid_from_eio_sid(eio_sid, NAMESPACE)
            if sid is not None and manager.is_connected(sid, NAMESPACE):
                continue
            since = self.unconnected.get(eio_sid, now)
            if now - since >= self.timeout:
                expired.append(eio_sid)
            else:
                seen[eio_sid] = since
        self.unconnected = seen
        for eio_sid in expired:
            end_session(self.server, eio_sid)
        if expired:  # one line a round, however many: a flood of them must not flood the log
            log.info("closed %d sessions with no Socket.IO connection after %g s", len(expired), self.timeout)
        return expired


def end_session(server: socketio.Server, eio_sid: str) -> None:
    """Close an Engine.IO session, and its connection at once even if the client does not answer.

    Engine.IO's own close (engineio.Server.disconnect) sends the close packet
    and frame, but the request's greenlet goes on reading until the client
    closes too: a client that never does held its connection for
    PING_INTERVAL + PING_TIMEOUT, and eventlet then still waited on the closed
    socket. Shutting the connection's reading side instead ends that read now
    with end of file, and Engine.IO ends the session the way it does when a
    client goes: the writer sends what is queued, the close frame, and closes.
    (Doing both hangs: the reader's end and the close each queue an end for
    the writer, and the close waits for the queue to be empty.)

    The connection is the WSGI server's socket, found in the session's environ
    (python-socketio's `environ`, by Engine.IO sid, as its get_environ reads
    it) under `eventlet.input`, where eventlet's server puts it and where
    python-engineio's middleware copies gunicorn's. Without one (the threading
    mode of the tests), Engine.IO's close.
    """
    environ = server.environ.get(eio_sid) or {}
    connection = environ.get("eventlet.input")
    sock = connection.get_socket() if connection is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RD)
            return
        except OSError:  # already gone
            pass
    server.eio.disconnect(eio_sid)
