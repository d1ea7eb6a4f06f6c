"""What the durable records allow: register a name, sign devices in, link and remove them, calls.

Every function works in the current Flask-SQLAlchemy session and commits
what it changes, or changes nothing. A rule that two processes could race on
is decided by the database: a name is its table's primary key (two
registrations of one free name: the second is refused `name_taken`), and a
device link is redeemed by one UPDATE that only an unused, unexpired link
matches.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from chat.errors import SignalingError
from chat.extensions import db
from chat.records.models import CallRecord, Device, DeviceLink, Registration

LINK_TTL = timedelta(minutes=10)
HISTORY = 50  # calls kept on a user's page
SEEN_EVERY = timedelta(hours=1)  # how often a device's use is written, at most
LABEL_LENGTH = 120
MISSED = "missed"  # the outcome of a call its callee did not take: away, busy, or not answered


@dataclass(frozen=True)
class Identity:
    """Who a device key signs in: the name, the Store's owner of it, and the device."""

    name: str
    owner: str
    device_id: int


def utcnow() -> datetime:
    """Now, as the records keep it: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_secret() -> str:
    """A device key or link token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def register(name: str, label: str, keep: timedelta, now: datetime | None = None) -> tuple[Identity, str]:
    """Register `name` to a new device: who it is, and its key. Refused `name_taken` if the name is kept.

    A name whose last use is older than `keep` has lapsed: it is deleted, with
    its devices, links and calls, and registered anew.
    """
    now = now or utcnow()
    _lapse(name, now - keep)
    key = new_secret()
    registration = Registration(name=name, owner=new_secret(), created_at=now, used_at=now)
    device = _device(name, key, label, now)
    db.session.add_all([registration, device])
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SignalingError("name_taken") from None
    return Identity(name, registration.owner, device.id), key


def sign_in(key: object, keep: timedelta, now: datetime | None = None) -> Identity | None:
    """Who the device holding `key` is, or None (unknown, removed, or its name lapsed).

    The use is recorded (the name's and the device's), at most once every SEEN_EVERY.
    """
    if not isinstance(key, str) or not key:
        return None
    now = now or utcnow()
    found = select(Device).options(joinedload(Device.registration)).where(Device.key_digest == digest(key))
    device = db.session.scalar(found)  # one query: every page and every connect asks
    if device is None:
        return None
    registration = device.registration
    if registration.used_at < now - keep:
        return None
    identity = Identity(device.name, registration.owner, device.id)
    if now - device.seen_at >= SEEN_EVERY or now - registration.used_at >= SEEN_EVERY:
        device.seen_at = registration.used_at = now
        db.session.commit()
    return identity


def is_kept(name: str, keep: timedelta, now: datetime | None = None) -> bool:
    """Whether `name` is registered and has not lapsed."""
    now = now or utcnow()
    used = db.session.scalar(select(Registration.used_at).where(Registration.name == name))
    return used is not None and used >= now - keep


def create_link(name: str, now: datetime | None = None) -> str:
    """A one-time token that adds a device to `name` within LINK_TTL."""
    now = now or utcnow()
    token = new_secret()
    db.session.add(DeviceLink(token_digest=digest(token), name=name, expires_at=now + LINK_TTL))
    db.session.commit()
    return token


def redeem_link(
    token: object, label: str, keep: timedelta, now: datetime | None = None
) -> tuple[Identity, str] | None:
    """Use a device link once: who the new device is, and its key; None if used, expired, forged or lapsed."""
    if not isinstance(token, str) or not token:
        return None
    now = now or utcnow()
    found = digest(token)
    used = db.session.execute(
        update(DeviceLink)
        .where(DeviceLink.token_digest == found, DeviceLink.used_at.is_(None), DeviceLink.expires_at > now)
        .values(used_at=now)
    )
    if used.rowcount != 1:
        db.session.rollback()
        return None
    name = db.session.scalar(select(DeviceLink.name).where(DeviceLink.token_digest == found))
    if not is_kept(name, keep, now):
        db.session.rollback()
        return None
    key = new_secret()
    device = _device(name, key, label, now)
    db.session.add(device)
    db.session.commit()
    return Identity(name, device.registration.owner, device.id), key


def devices(name: str) -> list[Device]:
    """The devices of `name`, oldest first."""
    return list(
        db.session.scalars(select(Device).where(Device.name == name).order_by(Device.created_at, Device.id))
    )


def remove_device(name: str, device_id: object) -> bool:
    """Revoke one of `name`'s devices (its key signs nobody in from now on); False if it has none such."""
    if not isinstance(device_id, int) or isinstance(device_id, bool):
        return False
    removed = db.session.execute(delete(Device).where(Device.name == name, Device.id == device_id))
    db.session.commit()
    return removed.rowcount == 1


def give_up(name: str) -> None:
    """Delete the registration of `name` for good: its devices, links and calls with it."""
    _delete(name)
    db.session.commit()


def kept_for() -> timedelta:
    """How long a registered name is kept unused: the app's NAME_KEEP_DAYS."""
    return timedelta(days=current_app.config["NAME_KEEP_DAYS"])


def record_call(
    caller: str,
    callee: str,
    outcome: str,
    started_at: datetime,
    answered_at: datetime | None = None,
    ended_at: datetime | None = None,
    keep: timedelta | None = None,
) -> None:
    """Keep a call for its parties' histories; with `keep`, forget their calls older than that."""
    if keep is not None:
        cutoff = started_at - keep
        db.session.execute(
            delete(CallRecord).where(
                CallRecord.started_at < cutoff,
                or_(*(party.in_((caller, callee)) for party in (CallRecord.caller, CallRecord.callee))),
            )
        )
    db.session.add(
        CallRecord(
            caller=caller,
            callee=callee,
            outcome=outcome,
            started_at=started_at,
            answered_at=answered_at,
            ended_at=ended_at,
        )
    )
    db.session.commit()


def history(name: str, limit: int = HISTORY) -> list[CallRecord]:
    """The last `limit` calls of `name` since it was registered, newest first."""
    query = (
        _since_registered(name)
        .where(or_(CallRecord.caller == name, CallRecord.callee == name))
        .order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def unseen_missed(name: str, limit: int = HISTORY) -> list[CallRecord]:
    """The last `limit` calls `name` missed and has not seen yet, oldest first."""
    query = (
        _since_registered(name)
        .where(CallRecord.callee == name, CallRecord.outcome == MISSED, CallRecord.seen_at.is_(None))
        .order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
        .limit(limit)
    )
    return list(reversed(db.session.scalars(query).all()))


def mark_seen(name: str, now: datetime | None = None) -> None:
    """`name` has seen the calls it missed."""
    db.session.execute(
        update(CallRecord)
        .where(CallRecord.callee == name, CallRecord.outcome == MISSED, CallRecord.seen_at.is_(None))
        .values(seen_at=now or utcnow())
    )
    db.session.commit()


def _since_registered(name: str) -> Select:
    # A call of an earlier holder of the name (given up, or lapsed) is never shown to the new one.
    return (
        select(CallRecord)
        .join(Registration, Registration.name == name)
        .where(CallRecord.started_at >= Registration.created_at)
    )


def _device(name: str, key: str, label: str, now: datetime) -> Device:
    return Device(name=name, key_digest=digest(key), label=label[:LABEL_LENGTH], created_at=now, seen_at=now)


def _lapse(name: str, cutoff: datetime) -> None:
    lapsed = db.session.scalar(
        select(Registration.name).where(Registration.name == name, Registration.used_at < cutoff)
    )
    if lapsed is not None:
        _delete(name)
        db.session.commit()


def _delete(name: str) -> None:
    db.session.execute(delete(DeviceLink).where(DeviceLink.name == name))
    db.session.execute(delete(Device).where(Device.name == name))
    db.session.execute(delete(CallRecord).where(or_(CallRecord.caller == name, CallRecord.callee == name)))
    db.session.execute(delete(Registration).where(Registration.name == name))
