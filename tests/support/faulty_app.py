"""The app with a WSGI layer that fails, inside and outside its error shield.

`python -m tests.support.faulty_app` (in the checkout's root) serves it on the
embedded server, as `make run` does; tests/live/test_hostile_clients.py starts it so.
"""

if __name__ == "__main__":
    import eventlet

    eventlet.monkey_patch()

from chat import create_app
from chat.serving.embedded import run


class Fails:
    """Raise for one path, as a bug in a layer around Flask would."""

    def __init__(self, wsgi_app, path: str) -> None:
        self.wsgi_app, self.path = wsgi_app, path

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == self.path:
            raise RuntimeError(f"a bug in a WSGI layer at {self.path}")
        return self.wsgi_app(environ, start_response)


app = create_app()
shield = app.wsgi_app  # chat.middleware.ErrorShield, the outermost layer
shield.wsgi_app = Fails(shield.wsgi_app, "/fails-inside")
app.wsgi_app = Fails(shield, "/fails-outside")  # only the server itself stands between it and the client

if __name__ == "__main__":
    run(app)
