"""The Redis Store: presence, calls and deadlines shared by every process of one service.

Every change is one call of the Lua script beside this file, which Redis runs
atomically: a name is claimed, a call started (with its busy check), accepted,
cancelled or timed out by exactly one process, whatever the others do at the
same moment. See chat.state.store.Store for the contract, and the script for
the keys.

Sockets live in the process that accepted them, so the Store records through
which process each was attached. Every process beats about once a second
(keep_alive); the sockets of a process that has been silent for
PROCESS_TIMEOUT seconds (killed, its machine gone) are detached by whichever
process notices first, which starts their users' grace periods.

Relayed signals go through Redis Pub/Sub, one channel per user, to the
processes that hold the user's sockets (chat/state/redis_channels.py).
"""

import json
import secrets
from collections.abc import Callable
from pathlib import Path

import redis

from chat.errors import SignalingError, Unavailable
from chat.state.memory import LEFT_MEMORY
from chat.state.redis_channels import UserChannels
from chat.state.redis_client import Outage
from chat.state.store import Call, Deliver, Ended

SCRIPT = (Path(__file__).with_name("redis_store.lua")).read_text()

# Seconds without a heartbeat after which a process counts as stopped (the PROCESS_TIMEOUT setting).
PROCESS_TIMEOUT = 10.0


class RedisStore:
    """Store kept in Redis; see chat.state.store.Store for the contract.

    `clock` is for tests: without it the script reads Redis's own clock, the
    same for every process whatever their machines' clocks say.
    """

    def __init__(
        self,
        client: redis.Redis,
        grace: float,
        ring_timeout: float = 30.0,
        clock: Callable[[], float] | None = None,
        prefix: str = "chat:",
        outage: Outage | None = None,
        process_timeout: float = PROCESS_TIMEOUT,
    ):
        self._client = client
        self._script = client.register_script(SCRIPT)
        self._settings = [
            prefix,
            "",
            repr(grace),
            repr(ring_timeout),
            repr(LEFT_MEMORY),
            secrets.token_hex(8),
        ]
        self._clock = clock
        self._process_timeout = process_timeout
        self._outage = outage or Outage(_where(client))
        self.process = self._settings[5]
        self._undone: list[tuple[str, str]] = []  # detaches that Redis did not take, oldest first
        self.channels = UserChannels(client, prefix, self.process, self._outage)

    def _call(self, op: str, *args: object) -> str:
        """The script's reply to `op`: JSON, or for relay a bare name; a refusal raises."""
        settings = self._settings
        if self._clock is not None:
            settings = [settings[0], repr(self._clock()), *settings[2:]]
        try:
            reply = self._script(args=[*settings, op, *args])
        except redis.RedisError as err:  # down, loading, out of memory (noeviction), a password refused
            self._outage.failed(err)
            raise Unavailable() from None
        self._outage.answered()
        if reply.startswith('{"error"'):
            raise SignalingError(json.loads(reply)["error"])
        return reply

    def _run(self, op: str, *args: object) -> dict:
        return json.loads(self._call(op, *args))

    # Presence

    def claim(self, name: str, owner: str) -> Ended | None:
        return _ended(self._run("claim", name, owner).get("ended"))

    def holder(self, name: str) -> str | None:
        return self._run("holder", name).get("owner")

    def attach(self, name: str, owner: str, sid: str, device: str = "") -> Ended | None:
        ended = _ended(self._run("attach", name, owner, sid, device).get("ended"))
        self.channels.watch(name, sid)
        return ended

    def detach(self, name: str, sid: str) -> int | None:
        self.channels.unwatch(name, sid)  # the socket is gone from this process whatever Redis says
        try:
            return self._run("detach", name, sid).get("remaining")
        except Unavailable:
            self._undone.append((name, sid))  # the socket is gone all the same: keep_alive detaches it later
            raise

    def sids(self, name: str, device: str | None = None) -> list[str]:
        try:
            devices = self._client.hgetall(f"{self._settings[0]}sockets:{name}")
        except redis.RedisError as err:
            self._outage.failed(err)
            raise Unavailable() from None
        return sorted(sid for sid, on in devices.items() if device is None or on == device)

    def release(self, name: str, owner: str) -> tuple[list[str], Ended | None]:
        result = self._run("release", name, owner)
        return sorted(result.get("sids") or []), _ended(result.get("ended"))

    def has_left(self, name: str, owner: str) -> bool:
        return bool(self._run("has_left", name, owner)["left"])

    def expire(self, name: str) -> tuple[bool, Ended | None]:
        result = self._run("expire", name)
        return bool(result["released"]), _ended(result.get("ended"))

    # Calls

    def start_call(self, caller: str, callee: str) -> Call:
        return _call(self._run("start_call", caller, callee, secrets.token_urlsafe(12))["call"])

    def accept(self, name: str, call_id: str) -> Call:
        return _call(self._run("accept", name, _id(call_id))["call"])

    def decline(self, name: str, call_id: str) -> Ended:
        return _ended(self._run("decline", name, _id(call_id))["ended"])

    def cancel(self, name: str, call_id: str) -> Ended:
        return _ended(self._run("cancel", name, _id(call_id))["ended"])

    def hangup(self, name: str, call_id: str, failed: bool = False) -> Ended:
        return _ended(self._run("hangup", name, _id(call_id), "1" if failed else "0")["ended"])

    def expire_ring(self, call_id: str) -> Ended | None:
        return _ended(self._run("expire_ring", _id(call_id)).get("ended"))

    def move(self, name: str, call_id: str) -> Call:
        return _call(self._run("move", name, _id(call_id))["call"])

    def relay(self, sender: str, call_id: str, message: dict, encoded: str | None = None) -> str:
        if encoded is None:
            encoded = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        return self._call("relay", sender, _id(call_id), encoded)

    def serve(self, deliver: Deliver, spawn: Callable[..., object], running: Callable[[], bool]) -> None:
        spawn(self.channels.listen, deliver, running)

    def call_of(self, name: str) -> Call | None:
        found = self._run("call_of", name).get("call")
        return _call(found) if found else None

    # Deadlines and upkeep

    def due(self, limit: int = 100) -> list[tuple[str, str]]:
        members = self._run("due", limit).get("due") or []
        return [tuple(member.split(":", 1)) for member in members]

    def keep_alive(self) -> bool:
        """Beat, detach the sockets of stopped processes, and the ones whose detach failed.

        False if Redis did not know this process: at the first beat, and after
        Redis lost its data (restarted without persistence, or flushed); the
        caller then attaches its sockets again.
        """
        known = bool(self._run("keep_alive", self._process_timeout)["known"])
        while self._undone:
            name, sid = self._undone[0]
            self._run("detach", name, sid)
            self._undone.pop(0)
        return known


def _where(client: redis.Redis) -> str:
    options = client.get_connection_kwargs()
    return f"redis://{options.get('host')}:{options.get('port')}/{options.get('db', 0)}"


def _id(call_id: object) -> str:
    # The script looks keys up by it; anything but a string names no call.
    return call_id if isinstance(call_id, str) else ""


def _call(fields: dict) -> Call:
    return Call(
        id=fields["id"],
        caller=fields["caller"],
        callee=fields["callee"],
        state=fields["state"],
        epoch=int(fields["epoch"]),
        started_at=float(fields.get("started") or 0.0),
        answered_at=None if fields.get("answered") is None else float(fields["answered"]),
    )


def _ended(found: dict | None) -> Ended | None:
    if not found:
        return None
    return Ended(_call(found["call"]), found["reason"], found.get("by"), float(found["at"]))
