"""Drive the Node load generator (benchmarks/loadgen/loadgen.js) from Python.

The generator is one Node process pinned to GENERATOR_CPU; it holds every
simulated user. Given several URLs (server processes sharing their state), it
spreads the users over them round-robin in join order, and `pair` puts the two
parties of every call on different URLs (`across_targets` in its result counts
them). It reads one JSON command a line on stdin and answers each
with a `result` line on stdout, with `progress` lines meanwhile:

- `{"cmd": "join", "count", "concurrency", "prefix"}`: log `count` more users in
  (GET /, POST /join, Socket.IO until `hello`), `concurrency` at a time.
- `{"cmd": "pair", "calls"}`: users[i] calls users[i + calls], who accepts; with
  several URLs, each caller calls a user of another URL among the first 2 × calls.
- `{"cmd": "relay", "rate", "seconds", "kind"}`: `signal` messages at a fixed rate
  over all calls, both directions; kind `ice` (a ~200-byte candidate) or `offer`
  (a ~5.4 KB SDP); latency from the send time carried inside the relayed field.
- `{"cmd": "saturate", "window", "seconds", "kind"}`: closed loop with `window`
  messages in flight, each delivery answered by the receiver.
- `{"cmd": "hangup"}`, `{"cmd": "close"}`, `{"cmd": "status"}`; `{"cmd": "stop"}`
  ends a running relay early.

Every result carries the generator's own CPU use during the command.
`background_load()` keeps figure 2's load running for other benchmarks.
"""

import json
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.servers import GENERATOR_CPU, ROOT, pinned

SCRIPT = ROOT / "benchmarks" / "loadgen" / "loadgen.js"
Progress = Callable[[float, float], None]


class LoadGeneratorError(RuntimeError):
    pass


class LoadGenerator:
    """One Node load-generator process aimed at `url` (or at each of a list of URLs); close() ends it."""

    def __init__(self, url: str | list[str], cpu: int = GENERATOR_CPU, stderr: Path | None = None):
        self.urls = [url] if isinstance(url, str) else list(url)
        self.url = self.urls[0]
        self._stderr = open(stderr, "wb") if stderr else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [shutil.which("node") or "/usr/bin/node", str(SCRIPT), *self.urls],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            preexec_fn=pinned(cpu),
        )
        ready = self._line()
        if ready.get("type") != "ready":
            raise LoadGeneratorError(f"the generator did not start: {ready}")
        self.pid = self.proc.pid
        # A unique name prefix for this generator's users (names are a-z, 0-9, ., _, -).
        self.prefix = secrets.token_hex(3)
        self.joined = 0

    def _line(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise LoadGeneratorError(f"the generator exited (code {self.proc.poll()})")
        return json.loads(line)

    def send(self, **cmd: object) -> None:
        """Send a command without waiting for its result."""
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def wait(self, progress: Progress | None = None) -> dict:
        """Read lines until the next result; pass progress lines to `progress(done, total)`."""
        while True:
            msg = self._line()
            if msg["type"] == "progress":
                if progress:
                    progress(msg["done"], msg["total"])
            elif msg["type"] == "result":
                if not msg.get("ok"):
                    raise LoadGeneratorError(f"{msg['cmd']} failed: {msg.get('error')}")
                return msg

    def command(self, progress: Progress | None = None, **cmd: object) -> dict:
        self.send(**cmd)
        return self.wait(progress)

    def join(self, count: int, concurrency: int = 64, progress: Progress | None = None) -> dict:
        """Log `count` more users in; names continue where the last join stopped."""
        prefix = f"b{self.prefix}-{self.joined}-"
        result = self.command(progress, cmd="join", count=count, concurrency=concurrency, prefix=prefix)
        self.joined += count
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(cmd="exit")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()


@contextmanager
def background_load(
    url: str, rate: int = 1000, users: int = 1000, kind: str = "ice", max_seconds: int = 3600
) -> Iterator[LoadGenerator]:
    """Keep figure 2's load on the server at `url` until the block exits.

    Logs `users` users in, pairs them into users/2 accepted calls, and relays
    `rate` `signal` messages a second (kind "ice" or "offer") over them, on the
    generator core, for at most `max_seconds`. Yields the LoadGenerator; after
    the block, its `background_result` holds the relay's figures (sent,
    delivered, latency p50/p90/p99/max, generator CPU).
    """
    gen = LoadGenerator(url)
    try:
        gen.join(users)
        gen.command(cmd="pair", calls=users // 2)
        gen.send(cmd="relay", rate=rate, seconds=max_seconds, kind=kind, drain_ms=2000)
        try:
            yield gen
        finally:
            gen.send(cmd="stop")
            gen.background_result = gen.wait()
    finally:
        gen.close()
