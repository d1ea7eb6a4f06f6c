"""The app, for gunicorn (`wsgi:app`), and `python wsgi.py` for the embedded server."""

if __name__ == "__main__":
    # The embedded server runs on eventlet; it must patch the standard
    # library before anything else imports it.
    import eventlet

    eventlet.monkey_patch()

from chat import create_app
from chat.serving.embedded import run

app = create_app()

if __name__ == "__main__":
    run(app)
