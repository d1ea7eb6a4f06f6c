"""A one-to-one video-calling app: Flask pages and Socket.IO signaling.

create_app() puts it together from its parts, each a package named for its
concern: chat/web (pages, join, login, headers), chat/signaling (the
Socket.IO protocol), chat/state (the Store, senders, rate limits),
chat/turn (ICE servers and coturn's config), chat/serving (servers,
middleware, backports). docs/architecture.md describes them.
"""

# chat.signaling registers its connect and disconnect handlers on the unbound
# `socketio` when imported, so it is imported before the first init_app.

import logging
import os
import secrets
import time
from collections.abc import Mapping

import socketio as socketio_server
from flask import Flask, render_template
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, SecurityError, ServiceUnavailable

from chat import records, signaling, state, web
from chat.errors import Unavailable
from chat.extensions import socketio
from chat.serving import backports
from chat.serving.middleware import ErrorShield, WebSocketHandshake
from chat.serving.mode import async_mode
from chat.state import redis_client
from chat.turn import coturn_config
from chat.turn.credentials import check_settings

log = logging.getLogger(__name__)


def create_app(config: Mapping | None = None) -> Flask:
    """Create the app for APP_ENV (default production), with `config` on top."""
    from config import CONFIGS

    # Where the app keeps its files (the SQLite records, the development secret): INSTANCE_PATH,
    # else Flask's instance folder beside the code.
    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=os.path.abspath(instance) if instance else None)
    env = (config or {}).get("APP_ENV") or os.environ.get("APP_ENV", "production")
    if env not in CONFIGS:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {env!r}.")
    app.config.from_object(CONFIGS[env])
    app.config.update(config or {})
    app.config["APP_ENV"] = env
    _check_secret(app)
    check_settings(app.config)

    records.init_app(app)
    records.upgrade(app)  # the newest schema, before anything reads it
    state.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"] or async_mode(),
        # None lets Engine.IO accept only the app's own origin.
        cors_allowed_origins=app.config["ALLOWED_ORIGINS"] or None,
        max_http_buffer_size=app.config["MAX_MESSAGE_BYTES"],
        ping_interval=app.config["PING_INTERVAL"],
        ping_timeout=app.config["PING_TIMEOUT"],
        # WebSocket only: long-polling sessions span many requests, and a POST that Engine.IO
        # refuses as too large left its connection hanging for good (python-engineio 4.15.1,
        # docs/architecture.md). Without polling no process needs sticky routing either.
        transports=["websocket"],
        # Each event is handled in the greenlet that read it, in order, not in a new task
        # (a quarter of a relayed message's CPU). A send only queues the packet for the
        # peer's writer task; what one sender may queue is bounded by the signal limits.
        async_handlers=False,
        serializer=signaling.JsonPacket,
        # With REDIS_URL, emits go through Redis to every process (None: this process only). Always
        # given: Flask-SocketIO keeps the options of an earlier init_app otherwise.
        client_manager=_message_queue(app),
    )
    app.extensions["chat.socketio_server"] = socketio.server
    signaling.init_app(app)
    signaling.timers.start(app)
    signaling.relay.start(app)
    if socketio.async_mode == "eventlet":
        backports.install_eventlet()  # the WebSocket message limit, and fast unmasking
    if socketio.async_mode == "gevent":
        backports.install_gevent()  # the WebSocket message limit, and the reader waits
    if socketio.async_mode in ("eventlet", "gevent"):
        signaling.ConnectDeadline(socketio.server, app.config["CONNECT_TIMEOUT"]).start()
    app.wsgi_app = WebSocketHandshake(app.wsgi_app)
    web.init_app(app)  # ProxyFix outside the handshake middleware: see chat/web/headers.py
    coturn_config.init_app(app)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(SecurityError, _untrusted_host)
    app.register_error_handler(Unavailable, _unavailable)
    app.register_error_handler(SQLAlchemyError, lambda err: _unavailable(records.unavailable(err)))
    app.wsgi_app = ErrorShield(app.wsgi_app)  # outermost
    return app


def _message_queue(app: Flask) -> socketio_server.RedisManager | None:
    url = app.config["REDIS_URL"]
    if not url:
        return None
    return socketio_server.RedisManager(url, channel="chat", redis_options=redis_client.connection_options())


def _check_secret(app: Flask) -> None:
    if app.config.get("SECRET_KEY"):
        return
    if app.config["APP_ENV"] == "production":
        raise RuntimeError(
            "SECRET_KEY is not set. Set it in the environment to a long random "
            "string, e.g. the output of: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    # Development: a key of its own, kept in the instance folder, so that a restart of
    # `make run` signs nobody out.
    path = os.path.join(app.instance_path, SECRET_FILE)
    app.config["SECRET_KEY"] = _kept_secret(path)
    log.warning("SECRET_KEY is not set; using the development key kept in %s.", path)


SECRET_FILE = "secret_key"


def _kept_secret(path: str) -> str:
    """The key in `path`, made (random, readable by this user only) if there is none yet."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by an earlier run, or by another process just now
        for _ in range(50):
            with open(path) as kept:
                key = kept.read().strip()
            if key:
                return key
            time.sleep(0.01)  # the other process has not written it yet
        raise RuntimeError(f"{path} is empty: delete it, or set SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as kept:
        kept.write(key + "\n")
    return key


def _error_page(err: HTTPException):
    return render_template("error.html", error=err), err.code


def _unavailable(err: Unavailable):
    # A page that needs the Store while Redis does not answer (the log says so, once).
    return render_template("error.html", error=ServiceUnavailable(err.message)), 503


def _untrusted_host(err: SecurityError):
    # Not the page: without a trusted host, Flask builds no URL (the page's links).
    return "This server does not serve that host.\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
