"""Serving the app: the embedded server, WSGI middleware, the async mode, and the backports.

- embedded.py: the server `make run` starts (eventlet, one process)
- middleware.py: WSGI middleware (the WebSocket handshake, the error shield)
- mode.py: the async mode, from the server that runs this process
- backports.py, eventlet_mask.py: the version-guarded backports (docs/architecture.md)
"""
