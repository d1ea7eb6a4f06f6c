"""Alembic's environment for the durable records: the app's Flask-SQLAlchemy engine and metadata.

Run through Flask-Migrate (chat.records.upgrade, or `flask db ...`), inside
the app's context. Logging is left as the app set it up: no fileConfig,
which would switch off every logger that exists already.
"""

from alembic import context
from flask import current_app
from sqlalchemy import text

UPGRADE_LOCK = 0x76696465  # "vide": the advisory lock that serializes upgrades

database = current_app.extensions["migrate"].db
metadata = database.metadata


def run_offline() -> None:
    """Write the SQL (`flask db upgrade --sql`) instead of running it."""
    url = database.engine.url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    with database.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            **current_app.extensions["migrate"].configure_args,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Processes that start together upgrade one at a time (released at the commit).
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
