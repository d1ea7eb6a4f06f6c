"""The targets under test, on free loopback ports and pinned to one core; their RSS and CPU time.

The app under gunicorn with the eventlet worker and with gevent (the two async
modes tests/support/servers.py starts), the minimal Node.js relay in benchmarks/baseline/,
and the minimal Flask-SocketIO relay in benchmarks/flask_relay/ under the same
gunicorn worker as the app of each mode. Each runs on SERVER_CPU; the load
generator runs on GENERATOR_CPU.
"""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "benchmarks" / "baseline"
SERVER_CPU = 0
GENERATOR_CPU = 1
START_TIMEOUT = 30.0
TICKS = os.sysconf("SC_CLK_TCK")
ERROR_WORDS = re.compile(r"error|traceback|exception|critical", re.IGNORECASE)

# The app in production, with limits that 10,000 users from 127.0.0.1 do not hit.
APP_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": "benchmark-secret-" + "0" * 32,
    "HOST": "127.0.0.1",
    "JOIN_PER_MINUTE": "1000000000",
    "CALLS_PER_MINUTE": "1000000000",
    "CALLS_PER_MINUTE_PER_ADDRESS": "1000000000",
    "REPEAT_CALLS": "1000000000",
    # The signal limits stay checked on every signal (their cost is measured) but never bite:
    # a saturation run sends more than 50 a second per user over few calls, and a long one
    # relays more than a call's byte budget.
    "SIGNALS_PER_SECOND": "1000000000",
    "SIGNAL_BURST": "1000000000",
    "SIGNAL_BYTES_PER_CALL": "1000000000000",
    "MAX_CONNECTIONS": "16000",
    "PYTHONUNBUFFERED": "1",
}
# The async modes the app supports, as tests/support/servers.py starts them.
MODES = {
    "eventlet": {"GUNICORN_WORKER": "eventlet"},
    "gevent": {"GUNICORN_WORKER": "gevent"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_open_files() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def pinned(cpu: int) -> Callable[[], None]:
    """A preexec_fn: run the child on `cpu` only, with as many open files as allowed."""

    def setup() -> None:
        os.sched_setaffinity(0, {cpu % os.cpu_count()})
        raise_open_files()

    return setup


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command: state is field 3, utime 14 and stime 15 (1-based, as in proc(5)).
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    """Resident memory of a process (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def core_times() -> dict[int, tuple[float, float]]:
    """Busy and total seconds of each CPU core so far, from /proc/stat."""
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks = [int(v) for v in values]
                idle = ticks[3] + ticks[4]  # idle + iowait
                times[int(name[3:])] = ((sum(ticks[:8]) - idle) / TICKS, sum(ticks[:8]) / TICKS)
    return times


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


class Target:
    """A server under test on a free port of 127.0.0.1, pinned to SERVER_CPU."""

    name = "target"
    kind = "target"
    stop_signal = signal.SIGTERM

    def __init__(self) -> None:
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen | None = None
        self.pid = 0  # the process that serves (gunicorn's worker, not its master)
        self.logdir = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        self.starts = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {**os.environ, "PORT": str(self.port)}

    def start(self) -> "Target":
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts += 1
        log = open(self.logdir / f"server-{self.starts}.log", "wb")  # noqa: SIM115 (the child writes it)
        self.proc = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned(SERVER_CPU),
        )
        log.close()
        try:
            self._wait_ready()
            self.pid = self._serving_pid()
        except BaseException:
            self.stop()
            raise
        return self

    def _serving_pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {self.url} in {START_TIMEOUT} s:\n{self.output()}")

    def output(self, tail: int = 4000) -> str:
        path = self.logdir / f"server-{self.starts}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def error_summary(self) -> dict[str, int]:
        """Error lines in all of this target's logs so far, numbers blanked, with their counts."""
        counts: Counter[str] = Counter()
        for path in sorted(self.logdir.glob("server-*.log")):
            # eventlet's worker writes some messages without a newline; split those apart too.
            for line in re.split(r"\n|(?=server=127\.0\.0\.1:)", path.read_text(errors="replace")):
                if ERROR_WORDS.search(line) and "DEPRECATED" not in line:
                    counts[re.sub(r"\d+", "N", line.strip())[:200]] += 1
        return dict(counts.most_common(20))

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in {self.proc.pid, self.pid})

    def restart(self) -> "Target":
        self.stop()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class AppTarget(Target):
    """The app under gunicorn (gunicorn.conf.py) in one async mode.

    `settings` are added to its environment (over APP_ENV) from its next start on.
    """

    kind = "app"
    # SIGQUIT, gunicorn's quick shutdown: its graceful one waits up to graceful_timeout for open
    # sockets, and a benchmark has no reason to wait for its own load.
    stop_signal = signal.SIGQUIT

    def __init__(self, mode: str, settings: dict[str, str] | None = None) -> None:
        self.name = f"app-{mode}"
        self.mode = mode
        self.settings = dict(settings or {})
        super().__init__()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            **APP_ENV,
            "PORT": str(self.port),
            "PUBLIC_URL": f"http://127.0.0.1:{self.port}",  # production needs one
            **MODES[self.mode],
            **self.settings,
        }
        return env

    def _serving_pid(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            workers = children(self.proc.pid)
            if workers:
                return workers[0]
            time.sleep(0.05)
        raise RuntimeError("gunicorn started no worker")


class NodeTarget(Target):
    """The minimal Node.js socket.io relay (benchmarks/baseline/server.js)."""

    name = "node"
    kind = "node"

    def command(self) -> list[str]:
        return [shutil.which("node") or "/usr/bin/node", str(BASELINE / "server.js")]


class FlaskRelayTarget(Target):
    """The minimal Flask-SocketIO relay (benchmarks/flask_relay/) under gunicorn's worker for `mode`.

    The same gunicorn.conf.py as the app (access log, keepalive, backlog; gunicorn reads it from
    the working directory anyway), the worker class given by -k, one worker.
    """

    kind = "flask_relay"
    stop_signal = signal.SIGQUIT  # as for the app
    _serving_pid = AppTarget._serving_pid  # gunicorn's worker, as for the app

    def __init__(self, mode: str) -> None:
        self.name = f"flask-relay-{mode}"
        self.mode = mode
        super().__init__()

    def command(self) -> list[str]:
        worker = MODES[self.mode]["GUNICORN_WORKER"]
        return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-k", worker, "-w", "1"] + [
            "--worker-connections",
            APP_ENV["MAX_CONNECTIONS"],
            "benchmarks.flask_relay.app:app",
        ]

    def env(self) -> dict[str, str]:
        keep = ("SECRET_KEY", "PYTHONUNBUFFERED")
        return {**os.environ, **{k: APP_ENV[k] for k in keep}, "PORT": str(self.port)}
