"""Who each connected socket of this process belongs to.

A socket's sender is settled from its session cookie when it connects, and
every event of that socket is handled as that sender: never a name from the
payload. The registry is per process by nature (a socket id lives in the
process whose Socket.IO server holds the connection), so it is not in the
Store; it sits behind this interface so that the handlers do not depend on
how it is kept.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Sender:
    """Who a connected socket belongs to, settled from its session when it connected."""

    name: str
    sid: str
    address: str | None
    owner: str = ""  # the Store's owner of the name, shared by its devices (chat/web/login.py)
    device: str = ""  # the id of the device the socket's cookie signed in


class Senders(Protocol):
    """The senders of this process's connected sockets, by socket id."""

    def add(self, sender: Sender) -> None:
        """Record the sender of a socket that has connected."""

    def get(self, sid: str) -> Sender | None:
        """The sender of socket `sid`, or None if it is not (or no longer) connected."""

    def remove(self, sid: str) -> None:
        """Forget a socket that has disconnected; nothing if it was not known."""

    def __len__(self) -> int:
        """How many sockets are known."""

    def __iter__(self) -> Iterator[Sender]:
        """Every known sender, as they are now (the registry may change meanwhile)."""


class LocalSenders:
    """Senders in a dict of this process: a lookup per event, no lock (one writer per socket)."""

    def __init__(self) -> None:
        self._by_sid: dict[str, Sender] = {}

    def add(self, sender: Sender) -> None:
        self._by_sid[sender.sid] = sender

    def get(self, sid: str) -> Sender | None:
        return self._by_sid.get(sid)

    def remove(self, sid: str) -> None:
        self._by_sid.pop(sid, None)

    def __len__(self) -> int:
        return len(self._by_sid)

    def __iter__(self) -> Iterator[Sender]:
        return iter(list(self._by_sid.values()))
