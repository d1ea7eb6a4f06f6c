"""Engine.IO and Socket.IO spoken frame by frame over a WebSocket, as a hostile client would.

raw = Raw(server, cookie_of(server, "mallory"))
raw.connect()                                   # "40{...}": accepted
raw.send(event(1, "watch", {"name": "alice"}))
raw.until(lambda m: m.startswith("431"))        # the acknowledgement
raw.close()
"""

import json
import time

import websocket

from tests.support.socketio_clients import join


def cookie_of(server, name: str) -> str:
    """The cookies (a Cookie header) of a browser that has joined as `name` at server.url."""
    http = join(server, name)
    http.close()
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


class Raw:
    """An Engine.IO WebSocket spoken frame by frame; answers the server's pings while it reads."""

    def __init__(self, server, cookie: str | None = None) -> None:
        url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(url, cookie=cookie, timeout=5)
        assert self.ws.recv().startswith("0{")  # Engine.IO's open packet
        self.seen: list[str] = []
        self.untaken: list[str] = []

    def send(self, text: str) -> None:
        self.ws.send(text)

    def connect(self) -> str:
        """Send Socket.IO's connect; return the answer (40... accepted, 44... refused)."""
        self.send("40")
        return self.until(lambda m: m.startswith(("40", "44")))

    def until(self, wanted, timeout: float = 5.0) -> str:
        """The first message not yet taken that `wanted` accepts, waiting for it up to `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.untaken:
                if wanted(message):
                    self.untaken.remove(message)
                    return message
            if time.monotonic() >= deadline:
                break
            self._next(deadline)
        raise AssertionError(f"nothing wanted within {timeout} s; saw {self.seen[-5:]}")

    def drain(self, seconds: float) -> list[str]:
        """Everything that arrives within `seconds`."""
        deadline, start = time.monotonic() + seconds, len(self.seen)
        while time.monotonic() < deadline:
            self._next(deadline)
        return self.seen[start:]

    def closed_within(self, seconds: float) -> bool:
        """Whether the server ends the connection within `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self._next(deadline)
        except (websocket.WebSocketConnectionClosedException, ConnectionError, EOFError):
            return True
        return False

    def _next(self, deadline: float) -> str | None:
        self.ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            opcode, data = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise websocket.WebSocketConnectionClosedException("closed by the server")
        message = data.decode("utf-8", "replace")
        if message == "2":
            self.send("3")
        self.seen.append(message)
        self.untaken.append(message)
        return message

    def close(self) -> None:
        # close() does nothing on a connection the server ended; shutdown() closes the socket anyway.
        if self.ws.connected:
            self.ws.close()
        self.ws.shutdown()


def event(ack_id: int, name: str, payload: dict) -> str:
    """A Socket.IO event packet asking for an acknowledgement."""
    return f"42{ack_id}{json.dumps([name, payload])}"
