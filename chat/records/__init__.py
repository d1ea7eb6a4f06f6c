"""Durable records (registered names, devices, device links, calls) in SQL, through Flask-SQLAlchemy.

DATABASE_URL picks the database: unset, a SQLite file in the instance
folder (`make run` needs no server); `postgresql://user:password@host/db`
(psycopg2) for several processes or machines. The schema is Alembic's,
through Flask-Migrate: `upgrade(app)` brings a database to the newest
revision (chat/records/migrations). Live state stays in the Store.

- models.py: the tables
- registry.py: what may be done with them
- call_log.py: the call history, as calls end
"""

import fcntl
import logging
import os
from pathlib import Path

import sqlalchemy
from flask import Flask
from flask_migrate import upgrade as alembic_upgrade
from sqlalchemy.exc import SQLAlchemyError

from chat.errors import Unavailable
from chat.extensions import db, migrate
from chat.serving.mode import async_mode

MIGRATIONS = Path(__file__).with_name("migrations")
log = logging.getLogger(__name__)
SQLITE_FILE = "videocall.sqlite3"
CONNECT_TIMEOUT = 5  # seconds


def init_app(app: Flask) -> None:
    """Bind the records to `app`'s database."""
    url = app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app)
    options = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        # A database that does not answer fails a request in seconds (libpq waits forever).
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        _cooperative_psycopg2()
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sqlalchemy.event.listen(db.engine, "connect", _sqlite_pragmas)


def unavailable(err: SQLAlchemyError) -> Unavailable:
    """The database failed (down, or refusing): undo this request's changes, log it, say `unavailable`.

    The log names the kind of failure only: the error's text may hold the
    statement and its parameters.
    """
    db.session.rollback()
    log.warning("the database did not answer: %s", type(err).__name__)
    return Unavailable()


def database_url(app: Flask) -> str:
    """DATABASE_URL, or the SQLite file in the instance folder (made if missing)."""
    url = app.config.get("DATABASE_URL")
    if url:
        return url
    os.makedirs(app.instance_path, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / SQLITE_FILE}"


def upgrade(app: Flask) -> None:
    """Bring the database to the newest schema (Alembic's `upgrade head`), one process at a time.

    PostgreSQL: an advisory lock in migrations/env.py. A SQLite file: a lock
    on a file beside it, since Alembic runs SQLite's DDL outside a
    transaction and two processes starting together would both create the
    tables.
    """
    with app.app_context():
        database = db.engine.url.database
        if db.engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
            alembic_upgrade(directory=str(MIGRATIONS))
            return
        with open(f"{database}.upgrade-lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            alembic_upgrade(directory=str(MIGRATIONS))


def _cooperative_psycopg2() -> None:
    """Make psycopg2's waits on the database yield to the other greenlets of this process.

    libpq blocks in C, where monkey patching does not reach: psycopg2's
    documented hook is a wait callback. eventlet's monkey_patch sets one (its
    psycopg patch); gevent has none, so psycogreen's is set here. Under
    threads (tests, `flask run`) nothing is needed.
    """
    if async_mode() == "gevent":
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


def _sqlite_pragmas(connection, _record) -> None:
    # SQLite leaves foreign keys unchecked unless asked, per connection; WAL lets readers go on
    # while one process writes, and busy_timeout makes a writer wait for another's lock. In WAL,
    # synchronous=NORMAL (SQLite's advice) syncs at checkpoints rather than at every commit: a
    # crash of the app loses nothing, a power cut the last commits at most (a registration
    # 1.07 ms instead of 1.50, benchmarks/records.py).
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
