"""The in-memory Store: one process, guarded by a lock."""

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chat.errors import SignalingError
from chat.state.store import GRACE, RING, RINGING, Call, Deliver, Ended


@dataclass
class _Holder:
    owner: str
    sids: dict[str, str] = field(default_factory=dict)  # socket id -> the device it was attached from
    away_since: float | None = None


# How long a Leave is remembered against old copies of the session cookie.
LEFT_MEMORY = 600.0


class MemoryStore:
    """Store kept in this process's memory; see chat.state.store.Store for the contract."""

    def __init__(self, grace: float, ring_timeout: float = 30.0, clock: Callable[[], float] = time.time):
        self._grace = grace
        self._ring_timeout = ring_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._holders: dict[str, _Holder] = {}
        self._left: dict[str, tuple[str, float]] = {}  # name -> (owner, when), oldest first
        self._calls: dict[str, Call] = {}
        self._call_of: dict[str, str] = {}
        self._deadlines: dict[tuple[str, str], float] = {}  # (RING, call id) or (GRACE, name) -> when due
        self._deliver: Deliver = _nowhere

    # Presence

    def claim(self, name: str, owner: str) -> Ended | None:
        with self._lock:
            return self._claim(name, owner)[1]

    def holder(self, name: str) -> str | None:
        with self._lock:
            holder = self._holders.get(name)
            return holder.owner if holder and not self._expired(holder) else None

    def attach(self, name: str, owner: str, sid: str, device: str = "") -> Ended | None:
        with self._lock:
            holder, ended = self._claim(name, owner)
            holder.sids[sid] = device
            holder.away_since = None
            self._deadlines.pop((GRACE, name), None)
            return ended

    def detach(self, name: str, sid: str) -> int | None:
        with self._lock:
            holder = self._holders.get(name)
            if holder is None or sid not in holder.sids:
                return None
            del holder.sids[sid]
            if not holder.sids:
                holder.away_since = self._clock()
                self._deadlines[GRACE, name] = holder.away_since + self._grace
            return len(holder.sids)

    def sids(self, name: str, device: str | None = None) -> list[str]:
        with self._lock:
            holder = self._holders.get(name)
            if holder is None:
                return []
            return sorted(sid for sid, on in holder.sids.items() if device is None or on == device)

    def release(self, name: str, owner: str) -> tuple[list[str], Ended | None]:
        with self._lock:
            holder = self._holders.get(name)
            if holder is None or holder.owner != owner:
                return [], None
            now = self._clock()
            while self._left and next(iter(self._left.values()))[1] <= now - LEFT_MEMORY:
                del self._left[next(iter(self._left))]
            self._left.pop(name, None)
            self._left[name] = (owner, now)
            return sorted(holder.sids), self._drop(name, "left")

    def has_left(self, name: str, owner: str) -> bool:
        with self._lock:
            left = self._left.get(name)
            return left is not None and left[0] == owner and self._clock() - left[1] < LEFT_MEMORY

    def expire(self, name: str) -> tuple[bool, Ended | None]:
        with self._lock:
            holder = self._holders.get(name)
            if holder is None or not self._expired(holder):
                if holder is None or holder.away_since is None:
                    self._deadlines.pop((GRACE, name), None)
                return False, None
            return True, self._drop(name, "gone")

    # Calls

    def start_call(self, caller: str, callee: str) -> Call:
        with self._lock:
            if caller == callee:
                raise SignalingError("self_call")
            holder = self._holders.get(callee)
            if holder is None or self._expired(holder):
                raise SignalingError("offline")
            if caller in self._call_of:
                raise SignalingError("already_in_call")
            if callee in self._call_of:
                raise SignalingError("busy")
            call = Call(id=secrets.token_urlsafe(12), caller=caller, callee=callee, started_at=self._clock())
            self._calls[call.id] = call
            self._call_of[caller] = self._call_of[callee] = call.id
            self._deadlines[RING, call.id] = self._clock() + self._ring_timeout
            return call

    def accept(self, name: str, call_id: str) -> Call:
        with self._lock:
            call = self._ringing(name, call_id, must_be="callee")
            call = self._calls[call.id] = call.activated(self._clock())
            self._deadlines.pop((RING, call.id), None)
            return call

    def decline(self, name: str, call_id: str) -> Ended:
        with self._lock:
            self._ringing(name, call_id, must_be="callee")
            return self._end(call_id, "declined", name)

    def cancel(self, name: str, call_id: str) -> Ended:
        with self._lock:
            self._ringing(name, call_id, must_be="caller")
            return self._end(call_id, "cancelled", name)

    def hangup(self, name: str, call_id: str, failed: bool = False) -> Ended:
        with self._lock:
            call = self._party(name, call_id)
            if call.state == RINGING:
                reason = "cancelled" if name == call.caller else "declined"
            else:
                reason = "failed" if failed else "hangup"
            return self._end(call_id, reason, name)

    def expire_ring(self, call_id: str) -> Ended | None:
        with self._lock:
            call = self._calls.get(call_id)
            if call is None or call.state != RINGING:
                self._deadlines.pop((RING, call_id), None)
                return None
            return self._end(call_id, "no_answer", None)

    def move(self, name: str, call_id: str) -> Call:
        with self._lock:
            call = self._active(name, call_id)
            call = self._calls[call.id] = call.moved()
            return call

    def relay(self, sender: str, call_id: str, message: dict, encoded: str | None = None) -> str:
        with self._lock:
            peer = self._active(sender, call_id).peer_of(sender)
        self._deliver(peer, message)  # outside the lock: the emit may wait for a socket's queue
        return peer

    def serve(self, deliver: Deliver, spawn: Callable[..., object], running: Callable[[], bool]) -> None:
        self._deliver = deliver  # one process: every socket is here, nothing to listen to

    def call_of(self, name: str) -> Call | None:
        with self._lock:
            call_id = self._call_of.get(name)
            return self._calls[call_id] if call_id else None

    # Deadlines and upkeep

    def due(self, limit: int = 100) -> list[tuple[str, str]]:
        with self._lock:
            now = self._clock()
            due = sorted((when, deadline) for deadline, when in self._deadlines.items() if when <= now)
            return [deadline for _, deadline in due[:limit]]

    def keep_alive(self) -> bool:
        """Nothing to do: every socket of this store is in this process."""
        return True

    # Helpers; the lock is held by the caller.

    def _expired(self, holder: _Holder) -> bool:
        return (
            not holder.sids
            and holder.away_since is not None
            and self._clock() - holder.away_since >= self._grace
        )

    def _claim(self, name: str, owner: str) -> tuple[_Holder, Ended | None]:
        holder = self._holders.get(name)
        ended = None
        if holder is not None and holder.owner != owner:
            if not self._expired(holder):
                raise SignalingError("name_taken")
            ended = self._drop(name, "gone")
            holder = None
        if holder is None:
            # Held from now, but in its grace period until a socket attaches.
            holder = self._holders[name] = _Holder(owner, away_since=self._clock())
            self._deadlines[GRACE, name] = holder.away_since + self._grace
            self._left.pop(name, None)
        return holder, ended

    def _drop(self, name: str, reason: str) -> Ended | None:
        del self._holders[name]
        self._deadlines.pop((GRACE, name), None)
        call_id = self._call_of.get(name)
        return self._end(call_id, reason, name) if call_id else None

    def _end(self, call_id: str, reason: str, by: str | None) -> Ended:
        call = self._calls.pop(call_id)
        self._deadlines.pop((RING, call_id), None)
        for party in (call.caller, call.callee):
            if self._call_of.get(party) == call_id:
                del self._call_of[party]
        return Ended(call, reason, by, self._clock())

    def _party(self, name: str, call_id: object) -> Call:
        call = self._calls.get(call_id) if isinstance(call_id, str) else None
        if call is None or name not in (call.caller, call.callee):
            raise SignalingError("no_such_call")
        return call

    def _ringing(self, name: str, call_id: str, must_be: str) -> Call:
        call = self._party(name, call_id)
        if call.state != RINGING:
            raise SignalingError("not_ringing")
        if (name == call.caller) != (must_be == "caller"):
            raise SignalingError("not_allowed")
        return call

    def _active(self, name: str, call_id: str) -> Call:
        call = self._party(name, call_id)
        if call.state == RINGING:
            raise SignalingError("not_active")
        return call


def _nowhere(name: str, message: dict) -> None:
    """Deliver before serve: no process has asked for messages yet."""
