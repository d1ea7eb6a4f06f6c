"""WSGI middleware around the whole app: WebSocket handshakes it accepts, and errors it hides.

Both are plain WSGI, outside Flask-SocketIO's Engine.IO middleware, so they
hold whichever server and async mode runs the app.
"""

import logging
import sys

log = logging.getLogger(__name__)
WEBSOCKET_VERSION = "13"  # RFC 6455


def is_websocket(environ) -> bool:
    """Whether the request asks to become a WebSocket."""
    return environ.get("HTTP_UPGRADE", "").lower() == "websocket"


class WebSocketHandshake:
    """WebSockets of RFC 6455 only, and without permessage-deflate, whatever the client offers.

    eventlet still speaks the drafts before RFC 6455 (hixie-75 and -76), whose
    messages it buffers without any limit up to their end marker, and which
    raised on a request without Origin; browsers have sent version 13 since
    2012. Other versions get 426 with the version this server speaks, as
    RFC 6455 section 4.4 asks.

    Browsers offer permessage-deflate on every WebSocket, and eventlet and
    simple-websocket accept it. The zlib streams it keeps per connection cost
    about 90 KiB for every connected user, three times the rest of an idle
    connection, and signaling messages are too small to gain from
    compression. Removing the offer makes the server answer without the
    extension, as socket.io's own server does by default.
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if is_websocket(environ):
            if environ.get("HTTP_SEC_WEBSOCKET_VERSION") != WEBSOCKET_VERSION:
                headers = [("Sec-WebSocket-Version", WEBSOCKET_VERSION), ("Content-Type", "text/plain")]
                start_response("426 Upgrade Required", headers)
                return [b"This server speaks WebSocket version 13 (RFC 6455).\n"]
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


class ErrorShield:
    """Log an exception that escapes the app and answer a plain 500, never a traceback.

    Flask answers its own errors; this catches those of the layers around it
    (Engine.IO, the WebSocket drivers). The servers' own 500 pages are no
    help: eventlet's sends the traceback unless told not to, and neither logs
    where the app's log goes. What a server uses as a signal passes through:
    StopIteration (a WebSocket driver telling gunicorn the connection is
    handled) and OSError (the client is gone).
    """

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        try:
            return self.wsgi_app(environ, start_response)
        except (StopIteration, OSError):
            raise
        except Exception:
            log.exception("%s %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            # With exc_info, a response that had begun is ended by the server instead.
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
            return [b"Internal Server Error\n"]
