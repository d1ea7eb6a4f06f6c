"""Presence and call state: the interface every backend honours.

A name is held by one browser session (its *owner*, a random token kept in
the session cookie) while any of its sockets is connected, and for a grace
period after the last one drops. A user is in at most one call, which is
either ringing or active. Backends keep only plain strings and numbers, so
that a shared one (Redis) can honour the same contract for several server
processes; no method hands out a live Python object.

The Store also keeps the deadlines that follow from its state: a ringing
call's ring timeout, and the grace period of a name whose last socket went.
It sets and clears them itself; any process may ask which are due, and
expire_ring or expire acts on one once, whichever process asks first.

Methods that refuse raise SignalingError with a stable code; a backend that
cannot be reached raises Unavailable (code "unavailable").
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

RINGING = "ringing"
ACTIVE = "active"

# What a process does with a relayed message for a user whose sockets it holds: (user, message).
Deliver = Callable[[str, dict], None]

# Kinds of deadline, as due() names them: (RING, call id) or (GRACE, name).
RING = "ring"
GRACE = "grace"


@dataclass(frozen=True)
class Call:
    """A call between two users; epoch counts moves of the call to a new page.

    Times are seconds since the epoch, by the Store's clock: when it started
    ringing, and when it was accepted.
    """

    id: str
    caller: str
    callee: str
    state: str = RINGING
    epoch: int = 0
    started_at: float = 0.0
    answered_at: float | None = None

    def peer_of(self, name: str) -> str:
        return self.callee if name == self.caller else self.caller

    def view(self, name: str) -> dict:
        """Describe the call as the user `name` sees it."""
        return {
            "call_id": self.id,
            "peer": self.peer_of(name),
            "role": "caller" if name == self.caller else "callee",
            "state": self.state,
            "epoch": self.epoch,
        }

    def activated(self, at: float) -> "Call":
        return replace(self, state=ACTIVE, answered_at=at)

    def moved(self) -> "Call":
        return replace(self, epoch=self.epoch + 1)


@dataclass(frozen=True)
class Ended:
    """A call that is over: why, which party (if any) ended it, and when (the Store's clock)."""

    call: Call
    reason: str
    by: str | None
    at: float = 0.0


class Store(Protocol):
    """Who holds which name, which sockets they have, and their calls."""

    # Presence

    def claim(self, name: str, owner: str) -> Ended | None:
        """Take `name` for `owner`, or keep it; raise name_taken if held by another.

        A holder past its grace period loses the name here; the call it was
        in, if any, is returned as ended. Taking a free name forgets who left it.
        """

    def holder(self, name: str) -> str | None:
        """Return the owner holding `name`, or None when it is free."""

    def attach(self, name: str, owner: str, sid: str, device: str = "") -> Ended | None:
        """Record a connected socket of `owner` on `device`, claiming `name` if free."""

    def detach(self, name: str, sid: str) -> int | None:
        """Forget a socket; return how many of the user's sockets remain.

        None means the socket was not attached (the name was released).
        """

    def sids(self, name: str, device: str | None = None) -> list[str]:
        """Return the connected sockets of `name`, or only those attached from `device`."""

    def release(self, name: str, owner: str) -> tuple[list[str], Ended | None]:
        """Free `name` now (Leave); return its sockets and the call it ended.

        The store then remembers for a while that `owner` left `name`, so that
        an old copy of the session cookie (a tab or request that has not seen
        the logout yet) cannot take the name back; see has_left.
        """

    def has_left(self, name: str, owner: str) -> bool:
        """Say whether `owner` left `name` recently and nobody has claimed it since."""

    def expire(self, name: str) -> tuple[bool, Ended | None]:
        """Free `name` if its grace period is over; say whether it did."""

    # Calls

    def start_call(self, caller: str, callee: str) -> Call:
        """Ring `callee` on behalf of `caller`."""

    def accept(self, name: str, call_id: str) -> Call:
        """Accept a ringing call as its callee."""

    def decline(self, name: str, call_id: str) -> Ended:
        """Decline a ringing call as its callee."""

    def cancel(self, name: str, call_id: str) -> Ended:
        """Withdraw a ringing call as its caller."""

    def hangup(self, name: str, call_id: str, failed: bool = False) -> Ended:
        """End a call as either party (a ringing one counts as cancel or decline).

        `failed` says the media connection could not be made or was lost.
        """

    def expire_ring(self, call_id: str) -> Ended | None:
        """End the call as unanswered if it is still ringing."""

    def move(self, name: str, call_id: str) -> Call:
        """Move an active call to another page of `name` (a reload, another tab)."""

    def relay(self, sender: str, call_id: str, message: dict, encoded: str | None = None) -> str:
        """Pass `message` to the peer of `sender` in this active call; return the peer.

        `encoded` is the message as compact JSON, if the caller has made it
        already (to count its bytes): a shared backend sends that text.

        Refused (not_active, no_such_call) unless the call is active and
        `sender` one of its parties. The message is handed to the `deliver`
        of every process that has a socket of the peer attached (see serve),
        in the order relayed; a process that has none does not see it.
        """

    def serve(self, deliver: Deliver, spawn: Callable[..., object], running: Callable[[], bool]) -> None:
        """Hand the messages relayed to users attached in this process to `deliver`, from now on.

        Called once per process. A shared backend listens in a task started
        with `spawn` (the server's start_background_task), which stops once
        `running()` is false.
        """

    def call_of(self, name: str) -> Call | None:
        """Return the call `name` is in, if any."""

    # Deadlines and upkeep

    def due(self, limit: int = 100) -> list[tuple[str, str]]:
        """Return up to `limit` deadlines that are due, soonest first: (RING, call id) or (GRACE, name).

        A deadline stays due until expire_ring or expire has acted on it.
        """

    def keep_alive(self) -> bool:
        """Upkeep, called about once a second by every process; False if the backend did not know it.

        A shared backend records that this process is alive, and detaches the
        sockets of processes that have stopped without saying so (killed, or
        their machine gone), so that their users' grace periods start. False
        means the backend has forgotten this process's sockets (its first
        call, or a Redis that lost its data): the caller attaches them again.
        """
