"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`.

One worker per process, as Flask-SocketIO requires (its sockets live in one
process; several processes need a shared store and message queue). Every
value can be overridden from the environment as shown.
"""

import os

# Loopback only: nginx in front terminates TLS and proxies here.
bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
worker_class = os.environ.get("GUNICORN_WORKER", "eventlet")
workers = 1
# Simultaneous connections the worker holds (each socket is one): eventlet's
# and gevent's default of 1,000 would cap the app.
worker_connections = int(os.environ.get("MAX_CONNECTIONS", "10000"))
# Let calls in progress finish their signaling on restart.
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
# A listen backlog that a burst of reconnects (after a restart) does not overflow.
backlog = 2048
# No control socket (gunicorn 25.1+, for `gunicornc`): nothing here uses it, several
# processes of one user would share its default path ($HOME/.gunicorn/gunicorn.ctl) and
# unlink each other's, and the systemd units' ProtectSystem=strict forbids creating it.
control_socket_disable = True

# The app's own log lines (INFO and up: who joined, which socket connected where, Redis
# outages) beside gunicorn's on stderr, where journald keeps both; the access log on stdout.
# Merged into gunicorn's defaults (its handlers and formatter).
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}
