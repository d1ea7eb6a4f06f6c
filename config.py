"""Settings, read from the environment.

Pick a class with APP_ENV (development, production or testing; production is
the default, so a server that forgets to say is never left in a development
mode). Every value below can be overridden by the environment variable of the
same name. Secrets only ever come from the environment.
"""

import os


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    """Settings shared by every environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY")
    HOST = os.environ.get("HOST", "127.0.0.1")
    PORT = _env_int("PORT", 5000)
    # Base of invite links, e.g. https://talk.example.org; unset means the
    # host the request came in on.
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "").rstrip("/") or None
    # Hosts served besides PUBLIC_URL's (Flask's TRUSTED_HOSTS; ".example.org" takes its
    # subdomains); with neither set, any (development only: production needs PUBLIC_URL).
    TRUSTED_HOSTS = _env_list("TRUSTED_HOSTS")
    # STUN and TURN URLs handed to browsers. None by default: on one LAN,
    # host candidates are enough.
    STUN_URLS = _env_list("STUN_URLS")
    TURN_URLS = _env_list("TURN_URLS")
    # Shared with coturn (static-auth-secret); never sent to a browser.
    TURN_SECRET = os.environ.get("TURN_SECRET")
    # How long TURN credentials last. coturn checks them again when an
    # allocation is refreshed, so this bounds the length of a relayed call.
    TURN_TTL = _env_int("TURN_TTL", 24 * 3600)
    # "relay" sends all media through TURN, hiding every user's address.
    ICE_TRANSPORT_POLICY = os.environ.get("ICE_TRANSPORT_POLICY", "all")
    RING_TIMEOUT = _env_float("RING_TIMEOUT", 30.0)
    GRACE_PERIOD = _env_float("GRACE_PERIOD", 30.0)
    # Origins allowed to open a Socket.IO connection; empty means the app's own.
    ALLOWED_ORIGINS = _env_list("ALLOWED_ORIGINS")
    # Flask-SocketIO async mode. Not a setting: it follows the server (chat.serving.mode.async_mode),
    # gunicorn's worker class or the embedded server's eventlet; tests set it.
    ASYNC_MODE = None
    # Embedded server only: how many connections it holds at once.
    MAX_CONNECTIONS = _env_int("MAX_CONNECTIONS", 10000)
    # Engine.IO heartbeat: the server pings every PING_INTERVAL seconds and
    # drops a client silent for PING_TIMEOUT more. A proxy's read timeout must
    # be longer than their sum (deploy/nginx.conf: 120 s).
    PING_INTERVAL = _env_float("PING_INTERVAL", 25.0)
    PING_TIMEOUT = _env_float("PING_TIMEOUT", 20.0)
    # Seconds an Engine.IO session may stay open without a Socket.IO connection (refused, or
    # never asked for); a browser connects at once.
    CONNECT_TIMEOUT = _env_float("CONNECT_TIMEOUT", 5.0)
    # Embedded server only: seconds a client may take to send a request line, and between
    # reads of its headers and body (nginx does this in production).
    REQUEST_TIMEOUT = _env_float("REQUEST_TIMEOUT", 10.0)
    # Largest Socket.IO message accepted, and largest SDP inside one.
    MAX_MESSAGE_BYTES = _env_int("MAX_MESSAGE_BYTES", 64 * 1024)
    MAX_SDP_BYTES = _env_int("MAX_SDP_BYTES", 32 * 1024)
    # Attempts allowed per minute: joins from one address; calls placed by one
    # user, and by all users of one address.
    JOIN_PER_MINUTE = _env_int("JOIN_PER_MINUTE", 20)
    CALLS_PER_MINUTE = _env_int("CALLS_PER_MINUTE", 10)
    CALLS_PER_MINUTE_PER_ADDRESS = _env_int("CALLS_PER_MINUTE_PER_ADDRESS", 30)
    # Calls one user, and all users of one address, may place to the same person within
    # REPEAT_CALL_WINDOW seconds: more would let one caller keep someone busy for everyone.
    REPEAT_CALLS = _env_int("REPEAT_CALLS", 5)
    REPEAT_CALL_WINDOW = _env_float("REPEAT_CALL_WINDOW", 600.0)
    # Fetches of /ice-servers (each a new TURN credential) by one user, all
    # tabs together. A tab fetches once per call it places or that rings in it,
    # once per move of a call and per connection check: room for twice
    # CALLS_PER_MINUTE.
    ICE_SERVERS_PER_MINUTE = _env_int("ICE_SERVERS_PER_MINUTE", 20)
    # Reads of the call history (and marks of missed calls as seen) by one user, all tabs
    # together: a page reads it when it connects and after each call.
    HISTORY_PER_MINUTE = _env_int("HISTORY_PER_MINUTE", 60)
    # Signals (SDP and ICE candidates) one user may send, all tabs together: SIGNAL_BURST at
    # once, SIGNALS_PER_SECOND on average (a call's setup is a few dozen). Past the limit a
    # signal gets rate_limited; SIGNAL_STRIKES refused within one burst window close the connection.
    SIGNALS_PER_SECOND = _env_int("SIGNALS_PER_SECOND", 50)
    SIGNAL_BURST = _env_int("SIGNAL_BURST", 200)
    SIGNAL_STRIKES = _env_int("SIGNAL_STRIKES", 50)
    # Bytes of signals (the relayed JSON) one party may send in one call per
    # SIGNAL_BYTES_WINDOW seconds. A setup with renegotiations is well under 100 KiB; the
    # limit bounds what a peer that stops reading can have queued for it.
    SIGNAL_BYTES_PER_CALL = _env_int("SIGNAL_BYTES_PER_CALL", 1024 * 1024)
    SIGNAL_BYTES_WINDOW = _env_float("SIGNAL_BYTES_WINDOW", 3600.0)
    # Several processes, one service: presence, calls, deadlines and rate-limit counts in
    # Redis, and Socket.IO's messages between the processes through it, e.g.
    # redis://:password@127.0.0.1:6379/0 (docs/deploy.md). Unset: one process, all in memory.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # With REDIS_URL: seconds without a heartbeat after which a process counts as stopped
    # (killed, its machine gone) and its sockets are detached by the others.
    PROCESS_TIMEOUT = _env_float("PROCESS_TIMEOUT", 10.0)
    # Durable records (registered names, devices, calls): a SQLite file in the instance
    # folder when unset; postgresql://user:password@host/db for several processes (chat/records).
    DATABASE_URL = os.environ.get("DATABASE_URL") or None
    # Days a registered name is kept without being used; then anyone may take it.
    NAME_KEEP_DAYS = _env_int("NAME_KEEP_DAYS", 90)
    # Where the rate-limit counts live (a `limits` storage URL); unset: REDIS_URL when set,
    # else this process's memory (lazy-memory://).
    RATE_LIMIT_STORAGE = os.environ.get("RATE_LIMIT_STORAGE") or None
    # How many proxies in front set X-Forwarded-For/-Proto/-Host (nginx: 1).
    # Their headers are trusted from that many hops only; 0 trusts none.
    PROXY_HOPS = _env_int("PROXY_HOPS", 0)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"


class DevelopmentConfig(Config):
    """`make run` on a laptop: plain HTTP, a throwaway secret if none is set."""

    DEBUG = False


class ProductionConfig(Config):
    """Behind nginx with TLS; refuses to start without SECRET_KEY."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


class TestingConfig(Config):
    """Fast timers and a fixed secret for the test suite."""

    TESTING = True
    SECRET_KEY = "testing-secret"
    RING_TIMEOUT = 1.0
    GRACE_PERIOD = 1.0
    ASYNC_MODE = "threading"
    DATABASE_URL = "sqlite://"  # in memory, one per app


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}
