"""What the call history says of each way a call can end (chat/records/call_log.py)."""

import pytest

from chat.records import call_log
from chat.state.store import Call, Ended

RINGING = Call("c1", caller="bob", callee="alice", started_at=1000.0)
ANSWERED = Call("c1", caller="bob", callee="alice", state="active", started_at=1000.0, answered_at=1004.0)


@pytest.mark.parametrize(
    ("call", "reason", "by", "outcome"),
    [
        (ANSWERED, "hangup", "alice", "answered"),
        (ANSWERED, "left", "bob", "answered"),
        (ANSWERED, "gone", "alice", "answered"),
        (ANSWERED, "failed", "bob", "failed"),
        (RINGING, "declined", "alice", "declined"),
        (RINGING, "cancelled", "bob", "cancelled"),
        (RINGING, "no_answer", None, "missed"),
        (RINGING, "left", "bob", "cancelled"),  # the caller went while it rang
        (RINGING, "gone", "bob", "cancelled"),
        (RINGING, "left", "alice", "missed"),  # the callee went while it rang
        (RINGING, "gone", "alice", "missed"),
    ],
)
def test_each_end_of_a_call_has_its_outcome(call, reason, by, outcome):
    assert call_log.outcome(Ended(call, reason, by, 1010.0)) == outcome
