"""The call history: every call that ended, and the calls refused because their callee was away.

announce_ended (chat/signaling/announce.py), the one way a call ends, hands
each ended call here; the `call` handler hands the calls refused `offline`
or `busy`. A call its callee did not take is `missed` (registry.MISSED):
refused, not answered in time, or left while it rang. A refused call is
kept only when its callee is a registered name, so that a name registered
later never inherits calls meant for nobody; the caller is told the same
either way (docs/protocol.md).

The database failing loses the record, not the call: the failure is logged
and the call's end is announced all the same.
"""

from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from chat import records
from chat.records import registry
from chat.records.models import CallRecord
from chat.records.registry import MISSED, utcnow
from chat.state.store import Ended


def outcome(ended: Ended) -> str:
    """What the history says of an ended call: answered, failed, declined, cancelled or missed."""
    call = ended.call
    if call.answered_at is not None:
        return "failed" if ended.reason == "failed" else "answered"
    if ended.reason in ("declined", "cancelled"):
        return ended.reason
    if ended.reason in ("left", "gone") and ended.by == call.caller:
        return "cancelled"  # the caller went while it rang
    return MISSED  # not answered in time, or the callee went while it rang


def keep_ended(ended: Ended) -> bool:
    """Record an ended call; say whether it was recorded."""
    call = ended.call
    return _keep(
        call.caller,
        call.callee,
        outcome(ended),
        _time(call.started_at),
        _time(call.answered_at),
        _time(ended.at),
    )


def keep_refused(caller: str, callee: str) -> bool:
    """Record a call refused because `callee` was offline or busy, as missed, if `callee` is registered."""
    try:
        if not registry.is_kept(callee, registry.kept_for()):
            return False
    except SQLAlchemyError as err:
        return _failed(err)
    now = utcnow()
    return _keep(caller, callee, MISSED, now, None, now)


def listing(name: str) -> dict:
    """What a user's page shows: the last calls, newest first, and the missed ones not yet seen."""
    try:
        calls = registry.history(name)
        missed = registry.unseen_missed(name)
    except SQLAlchemyError as err:
        raise records.unavailable(err) from None
    return {"calls": [entry(c, name) for c in calls], "missed": [entry(c, name) for c in missed]}


def mark_seen(name: str) -> None:
    """The user has seen the calls it missed."""
    try:
        registry.mark_seen(name)
    except SQLAlchemyError as err:
        raise records.unavailable(err) from None


def entry(record: CallRecord, name: str) -> dict:
    """One call as `name` sees it (docs/protocol.md, CallEntry)."""
    duration = None
    if record.answered_at is not None and record.ended_at is not None:
        duration = max(0, round((record.ended_at - record.answered_at).total_seconds()))
    incoming = record.callee == name
    return {
        "id": record.id,
        "peer": record.caller if incoming else record.callee,
        "direction": "incoming" if incoming else "outgoing",
        "outcome": record.outcome,
        "at": record.started_at.isoformat(timespec="seconds") + "Z",
        "duration": duration,
    }


def _keep(caller, callee, what, started_at, answered_at, ended_at) -> bool:
    try:
        keep = registry.kept_for()
        registry.record_call(caller, callee, what, started_at, answered_at, ended_at, keep=keep)
    except SQLAlchemyError as err:
        return _failed(err)
    return True


def _failed(err: SQLAlchemyError) -> bool:
    records.unavailable(err)
    return False


def _time(seconds: float | None) -> datetime | None:
    """A Store time (seconds since the epoch) as the records keep it: naive UTC."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
