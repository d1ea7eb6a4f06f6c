"""The durable records: registered names, their devices, device links and calls.

Live state (who is online, calls in progress) is in the Store; these rows
outlive restarts. Times are naive UTC (chat.records.registry.utcnow), the same
in SQLite and PostgreSQL. Device keys and link tokens
are kept as SHA-256 hex digests only: a copy of the database signs nobody in.
"""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chat.extensions import db
from chat.names import MAX_LENGTH

DIGEST = 64  # hex characters of a SHA-256


class Registration(db.Model):
    """A name registered to the devices that hold one of its keys."""

    __tablename__ = "registrations"

    name: Mapped[str] = mapped_column(String(MAX_LENGTH), primary_key=True)
    # The Store's owner of the name (chat/state/store.py) for every device of it: a random token,
    # new with each registration, so that a lapsed name's old sessions never count as the new holder's.
    owner: Mapped[str] = mapped_column(String(DIGEST))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Its last sign-in on any device: a name unused for NAME_KEEP_DAYS lapses.
    used_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    devices: Mapped[list["Device"]] = relationship(
        back_populates="registration", cascade="all, delete-orphan"
    )


class Device(db.Model):
    """One browser of a registered name, known by its long-lived key."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(ForeignKey("registrations.name", ondelete="CASCADE"), index=True)
    key_digest: Mapped[str] = mapped_column(String(DIGEST), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    seen_at: Mapped[datetime] = mapped_column(DateTime)

    registration: Mapped[Registration] = relationship(back_populates="devices")


class DeviceLink(db.Model):
    """A one-time link that signs another browser in as `name`, until it is used or expires."""

    __tablename__ = "device_links"

    token_digest: Mapped[str] = mapped_column(String(DIGEST), primary_key=True)
    name: Mapped[str] = mapped_column(ForeignKey("registrations.name", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class CallRecord(db.Model):
    """A call, for its parties' histories: answered, missed, declined, ...

    Parties are names, not keys of registrations: the row of a call with a
    name that is given up is deleted with it (chat/records/registry.py).
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(MAX_LENGTH))
    callee: Mapped[str] = mapped_column(String(MAX_LENGTH))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # answered, missed, declined, cancelled, failed
    seen_at: Mapped[datetime | None] = mapped_column(DateTime)  # a missed call, by its callee

    __table_args__ = (
        Index("ix_calls_caller_started", "caller", "started_at"),
        Index("ix_calls_callee_started", "callee", "started_at"),
    )
