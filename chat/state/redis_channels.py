"""The Redis channels that carry relayed signals to the processes holding the peer's sockets.

A relayed signal is for one user, so it is published to that user's channel,
<prefix>signal:<name>, by the Store's relay op in the same round trip as the
check of the call, and only the processes with a socket of that user
receive it. A process subscribes to a user's channel when the first of the
user's sockets is attached through it, and unsubscribes when the last one
is detached. (What else the processes tell each other goes through the
Socket.IO message queue, which every process reads in full; for the
signals, most of the traffic, that would cost every process the work of
every message, and the sender a second round trip.)

A subscription is sent to Redis when the socket is attached, before its
`hello`: a peer's next signal (an offer after a `move`, say) is published
well after it. One connection per process listens, in a task of the server
(a green thread under eventlet and gevent). If Redis goes away, it is opened
again, every MAX_BACKOFF seconds at most, and subscribes to every channel the
process needs. Redis keeps no Pub/Sub message for a subscriber that is away:
a signal relayed in the moment between Redis coming back and the listener
reconnecting is lost, like one sent while Redis was down.
"""

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable

import redis
from redis.client import PubSub

from chat.state.redis_client import Outage
from chat.state.store import Deliver

log = logging.getLogger(__name__)

POLL = 1.0  # seconds the listener waits for a message before it looks whether it should stop
MAX_BACKOFF = 1.0  # seconds between tries to listen again while Redis does not answer


class UserChannels:
    """This process's subscriptions to the channels of its users, and the task that listens to them."""

    def __init__(self, client: redis.Redis, prefix: str, process: str, outage: Outage):
        self._client = client
        self._prefix = f"{prefix}signal:"
        # Always subscribed (a PubSub with no channel does not listen); nothing is published to it.
        self._own = f"{prefix}signal-listener:{process}"
        self._outage = outage
        self._lock = threading.Lock()
        self._sids: dict[str, set[str]] = {}  # name -> the sockets attached through this process
        self._pubsub: PubSub | None = None  # while listening

    def channel(self, name: str) -> str:
        """The channel of the messages relayed to `name`."""
        return self._prefix + name

    def watch(self, name: str, sid: str) -> None:
        """Socket `sid` of `name` is attached through this process: receive what is relayed to `name`."""
        with self._lock:
            sids = self._sids.setdefault(name, set())
            first = not sids
            sids.add(sid)
            if first:
                self._send("subscribe", name)

    def unwatch(self, name: str, sid: str) -> None:
        """Socket `sid` is gone; the last one of `name` ends the subscription. Nothing if not watched."""
        with self._lock:
            sids = self._sids.get(name)
            if not sids or sid not in sids:
                return
            sids.discard(sid)
            if not sids:
                del self._sids[name]
                self._send("unsubscribe", name)

    def watched(self) -> list[str]:
        """The names this process receives the messages of."""
        with self._lock:
            return sorted(self._sids)

    def _send(self, command: str, name: str) -> None:
        # Under the lock. Not listening (yet, or while Redis is away): listen() subscribes to all.
        if self._pubsub is None:
            return
        # A failure here the listener meets too, and it listens again on a new connection.
        with contextlib.suppress(redis.RedisError):
            getattr(self._pubsub, command)(self.channel(name))

    def listen(self, deliver: Deliver, running: Callable[[], bool]) -> None:
        """Hand every message of the watched channels to `deliver`, in order, until `running()` is false."""
        wait = 0.0
        while running():
            try:
                pubsub = self._open()
            except redis.RedisError as err:  # Redis is down: the one line of the outage, and backoff
                self._outage.failed(err)
                wait = min(max(wait * 2, 0.05), MAX_BACKOFF)
                time.sleep(wait)  # green under eventlet and gevent, whose workers patch time
                continue
            self._outage.answered()
            wait = 0.0
            try:
                while running():
                    message = pubsub.get_message(timeout=POLL)
                    if message is not None and message["type"] == "message":
                        self._hand(deliver, message)
            except redis.RedisError as err:  # Redis restarted, or closed the connection: listen again
                log.warning("the connection receiving relayed signals was lost (%s); opening another", err)
            finally:
                self._close()

    def _open(self) -> PubSub:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        with self._lock:
            try:
                pubsub.subscribe(self._own, *(self.channel(name) for name in self._sids))
            except BaseException:
                pubsub.close()
                raise
            self._pubsub = pubsub
        return pubsub

    def _close(self) -> None:
        with self._lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            pubsub.close()

    def _hand(self, deliver: Deliver, message: dict) -> None:
        name = message["channel"][len(self._prefix) :]
        try:
            deliver(name, json.loads(message["data"]))
        except Exception:  # one message that cannot be delivered must not stop the others
            log.exception("a message relayed to %s could not be delivered", name)
