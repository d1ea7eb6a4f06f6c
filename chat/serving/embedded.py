"""The embedded server that `make run` starts: one process, eventlet."""

import logging
import resource
import socket

from flask import Flask

from chat.extensions import socketio
from chat.serving.middleware import is_websocket

log = logging.getLogger(__name__)
LISTEN_BACKLOG = 2048


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted`; return it.

    Every connection is a file descriptor, and the usual soft limit (1,024)
    would cap the server long before memory does.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def run(app: Flask) -> None:
    """Serve `app` with Socket.IO until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = app.config["HOST"], app.config["PORT"]
    max_connections = app.config["MAX_CONNECTIONS"]
    files = raise_open_file_limit(max_connections + 64)
    log.info(
        "serving on http://%s:%s (%s mode, up to %d connections, %d open files)",
        host,
        port,
        socketio.async_mode,
        max_connections,
        files,
    )
    if socketio.async_mode == "eventlet":
        _run_eventlet(app, host, port, max_connections)
    else:
        socketio.run(app, host=host, port=port, log_output=False)


def _run_eventlet(app: Flask, host: str, port: int, max_connections: int) -> None:
    import eventlet
    import eventlet.wsgi

    # socketio.run() would listen with a backlog of 50, so a burst of
    # reconnects (after a restart, say) overflows it and waits on SYN retries;
    # and eventlet's WSGI server stops accepting at 1,024 connections unless
    # given max_size.
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = eventlet.listen(address, family=family, backlog=LISTEN_BACKLOG)
    timeout = app.config["REQUEST_TIMEOUT"]
    eventlet.wsgi.server(
        listener,
        WebSocketsWithoutTimeout(app),
        max_size=max_connections,
        log_output=False,
        # Not the traceback of a failed request to its client (eventlet's default); the app
        # logs it (chat.serving.middleware.ErrorShield).
        debug=False,
        # A client that is slow to send its request line (keepalive: for every request on a
        # connection, the first included) or that stalls in its headers or body is let go.
        keepalive=timeout,
        socket_timeout=timeout,
    )


class WebSocketsWithoutTimeout:
    """WSGI middleware: a WebSocket's reads wait for as long as Engine.IO's pings keep it alive.

    eventlet's socket_timeout bounds every read of a connection, and an idle
    WebSocket reads nothing between pings (PING_INTERVAL, 25 s).
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        connection = environ.get("eventlet.input")
        if connection is not None and is_websocket(environ):
            connection.get_socket().settimeout(None)
        return self.wsgi_app(environ, start_response)
