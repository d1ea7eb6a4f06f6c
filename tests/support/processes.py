"""Several app processes sharing one real Redis, and sockets that come and go between them."""

import shutil
import tempfile
import threading

import requests
import socketio

from tests.support.redis_server import RedisServer
from tests.support.servers import LiveServer

# Short timers, so that a killed process's sockets are swept (and a ring times out) within a test.
TIMERS = {"RING_TIMEOUT": "4", "GRACE_PERIOD": "30", "PROCESS_TIMEOUT": "2"}


class Service:
    """redis-server and two app processes on it; stop(), kill() and start() one of them by index.

    A process started again gets its old port. Serves as the browser tests'
    `server` too: url (the first process's), check_alive() and output().
    """

    def __init__(self, server: str = "embedded", redis_password: str | None = None, **settings: str):
        self.redis = RedisServer(password=redis_password)
        self.kind = server
        # One folder of app files (the SQLite records) for both, as processes on one host share it.
        self.instance = tempfile.mkdtemp(prefix="service-instance-")
        self.settings = {**TIMERS, "REDIS_URL": self.redis.url, "INSTANCE_PATH": self.instance, **settings}
        self.processes: list[LiveServer | None] = [None, None]
        self.ports: list[int | None] = [None, None]
        for index in range(2):
            self.start(index)

    def __getitem__(self, index: int) -> LiveServer:
        return self.processes[index]

    def start(self, index: int) -> LiveServer:
        live = LiveServer(port=self.ports[index], server=self.kind, **self.settings)
        self.processes[index], self.ports[index] = live, live.port
        return live

    @property
    def url(self) -> str:
        """The first process's URL: where a test's pages open unless they go to another."""
        return f"http://127.0.0.1:{self.ports[0]}"

    def check_alive(self) -> None:
        """Fail the test, with its output, if a process that should run has exited."""
        for live in self.processes:
            if live is not None:
                live.check_alive()

    def output(self) -> str:
        running = [(i, live) for i, live in enumerate(self.processes) if live is not None]
        return "\n".join(f"--- process {i}:\n{live.output()}" for i, live in running)

    def stop(self, index: int) -> None:
        """Stop one process as a deploy does (SIGTERM)."""
        self.processes[index].stop()
        self.processes[index] = None

    def kill(self, index: int) -> None:
        """SIGKILL one process, as a crash would."""
        live = self.processes[index]
        live.proc.kill()
        live.proc.wait()
        live.stop()
        self.processes[index] = None

    def close(self) -> None:
        for live in self.processes:
            if live is not None:
                live.stop()
        self.redis.close()
        shutil.rmtree(self.instance, ignore_errors=True)


class Socket:
    """Another socket of a user who has joined, with their session cookie, on `server`."""

    def __init__(self, server: LiveServer, cookie: str):
        self.received: list[tuple[str, object]] = []
        self.arrived = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=5)

    def _record(self, event, payload=None):
        with self.arrived:
            self.received.append((event, payload))
            self.arrived.notify_all()

    def wait_for(self, event: str, timeout: float = 5.0):
        def found():
            return next((p for e, p in self.received if e == event), None)

        with self.arrived:
            assert self.arrived.wait_for(found, timeout), f"no {event!r}; got {self.received}"
            return found()

    def close(self) -> None:
        self.sio.disconnect()


def join_status(server: LiveServer, name: str, http: requests.Session | None = None) -> int:
    """The status of a join as `name` from a new browser, or from the one behind `http`."""
    browser = http or requests.Session()
    page = browser.get(server.url + "/").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    status = browser.post(
        server.url + "/join", data={"name": name, "csrf_token": token}, allow_redirects=False
    )
    if http is None:
        browser.close()
    return status.status_code
