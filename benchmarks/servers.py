"""The targets under test, on free loopback ports and pinned to one core; their RSS and CPU time.

The app under gunicorn with the eventlet worker and with gevent (the two async
modes tests/support/servers.py starts), the minimal Node.js relay in benchmarks/baseline/,
and the minimal Flask-SocketIO relay in benchmarks/flask_relay/ under the same
gunicorn worker as the app of each mode. Each runs on SERVER_CPU; the load
generator runs on GENERATOR_CPU.

PairTarget runs two processes of the app (or of the Node relay) sharing one
RedisServer of its own (REDIS_URL): by default both processes and Redis on
SERVER_CPU (PAIR_PINNING), the generator still on GENERATOR_CPU.
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

from scripts.stack import end_process, free_port

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "benchmarks" / "baseline"
SERVER_CPU = 0
GENERATOR_CPU = 1
START_TIMEOUT = 30.0
TICKS = os.sysconf("SC_CLK_TCK")
ERROR_WORDS = re.compile(r"error|traceback|exception|critical", re.IGNORECASE)
REDIS_SERVER = "/usr/bin/redis-server"
# Where a PairTarget's processes and its Redis run (CPU numbers), and the generator: all of the
# server side on the server's core, so that the generator keeps a core of its own, as for one process.
PAIR_PINNING = {"processes": [SERVER_CPU, SERVER_CPU], "redis": SERVER_CPU, "generator": GENERATOR_CPU}
# The relay at the fixed rate once more with a core per process, as a machine with more cores
# would run them: process 2 then shares CPU 1 with the generator (about 12 % of it at 1,000/s).
SPREAD_PINNING = {"processes": [SERVER_CPU, GENERATOR_CPU], "redis": SERVER_CPU, "generator": GENERATOR_CPU}

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


# Settings of the shell that would change what a target is: a target gets them only from its own
# settings (a PairTarget's processes get REDIS_URL so), never from the environment of the run.
NOT_INHERITED = ("REDIS_URL", "RATE_LIMIT_STORAGE")


def inherited_env() -> dict[str, str]:
    """This process's environment without NOT_INHERITED."""
    return {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}


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
    cpu = SERVER_CPU  # the core it runs on

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
        return {**inherited_env(), "PORT": str(self.port)}

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
            preexec_fn=pinned(self.cpu),
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

    def pids(self) -> list[int]:
        """The processes whose CPU time is the server's (gunicorn's master and worker, or node)."""
        return sorted({self.proc.pid, self.pid})

    def parts(self) -> dict[str, list[int]]:
        """The pids of each part of the server, when its CPU use is reported part by part too."""
        return {}

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def restart(self) -> "Target":
        self.stop()
        return self.start()

    def stop(self) -> None:
        if self.proc is not None:
            end_process(self.proc, self.stop_signal)
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
            **inherited_env(),
            **APP_ENV,
            "PORT": str(self.port),
            "PUBLIC_URL": f"http://127.0.0.1:{self.port}",  # production needs one
            # A database of its own at each start (SQLite): the users of every run register anew.
            "INSTANCE_PATH": str(self.logdir / f"instance-{self.starts}"),
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
    """The minimal Node.js socket.io relay (benchmarks/baseline/server.js).

    `settings` are added to its environment (REDIS_URL: its state in that Redis, shared.js).
    """

    name = "node"
    kind = "node"

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        super().__init__()

    def command(self) -> list[str]:
        return [shutil.which("node") or "/usr/bin/node", str(BASELINE / "server.js")]

    def env(self) -> dict[str, str]:
        return {**inherited_env(), "PORT": str(self.port), **self.settings}


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
        return {**inherited_env(), **{k: APP_ENV[k] for k in keep}, "PORT": str(self.port)}


def redis_command(port: int, *args: str, timeout: float = 5.0) -> str:
    """One command to the Redis on 127.0.0.1:`port`; its reply as text (an error reply raises)."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        reply = sock.makefile("rb")
        line = reply.readline().rstrip(b"\r\n")
        if line[:1] == b"-":
            raise RuntimeError(f"redis {args[0]}: {line[1:].decode(errors='replace')}")
        if line[:1] == b"$":
            size = int(line[1:])
            return "" if size < 0 else reply.read(size + 2)[:size].decode(errors="replace")
        return line[1:].decode(errors="replace")


class RedisServer:
    """A redis-server of its own on a free port of 127.0.0.1, in a folder of its own, pinned to `cpu`.

    Persistence is off (no RDB snapshots, no append-only file), so that no fork or disk write of
    Redis falls into a figure; what a benchmark stores lives and dies with the process.
    """

    name = "redis"
    # The settings it runs with, as given on its command line (recorded in the results).
    ARGS = ("--save", "", "--appendonly", "no", "--protected-mode", "yes", "--maxclients", "10000")

    def __init__(self, cpu: int = SERVER_CPU, folder: Path | None = None) -> None:
        self.cpu = cpu
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="bench-redis-"))
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or REDIS_SERVER
        if not Path(binary).exists():
            raise RuntimeError(f"no {REDIS_SERVER}: scripts/ensure-packages.sh {REDIS_SERVER}=redis-server")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder)]
            + ["--logfile", str(self.folder / "redis.log"), "--daemonize", "no", *self.ARGS],
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned(self.cpu),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if redis_command(self.port, "PING", timeout=1) == "PONG":
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on {self.port} in {START_TIMEOUT} s")
            time.sleep(0.05)

    def log(self, tail: int = 4000) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def info(self) -> dict[str, str]:
        """INFO's fields (redis_version, used_memory, ...)."""
        out = {}
        for line in redis_command(self.port, "INFO").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                out[key] = value.strip()
        return out

    def describe(self) -> dict:
        """What the results record of it: version, settings, placement."""
        info = self.info()
        return {
            "version": info.get("redis_version"),
            "binary": shutil.which("redis-server") or REDIS_SERVER,
            "args": list(self.ARGS),
            "persistence": "off (save '' and appendonly no: no snapshot, no append-only file)",
            "cpu": self.cpu,
        }

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc else 0.0

    def command_stats(self) -> dict[str, tuple[int, int]]:
        """(calls, microseconds) of each command so far, from INFO commandstats."""
        out = {}
        for line in redis_command(self.port, "INFO", "commandstats").splitlines():
            name, sep, fields = line.partition(":")
            if sep and name.startswith("cmdstat_"):
                values = dict(field.split("=", 1) for field in fields.split(","))
                out[name[len("cmdstat_") :]] = (int(values["calls"]), int(values["usec"]))
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # with persistence off it exits without writing anything
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class PairTarget(Target):
    """Two processes of one server sharing one Redis of their own (REDIS_URL): a relay across processes.

    `make()` builds one process (an AppTarget or a NodeTarget, each with its own `settings`);
    each gets REDIS_URL on start, and its own port. `urls` are theirs, in order; `url` the
    first's. The processes and Redis run where PAIR_PINNING says. CPU time is the sum of all
    of them (both processes' pids and Redis's); parts() splits it. A third process with no
    users (the bystander) can be started beside them with start_bystander(): it measures
    what every extra process costs per message relayed between the other two.
    """

    kind = "pair"

    def __init__(self, name: str, make: Callable[[], Target], pinning: dict | None = None) -> None:
        self.name = name
        super().__init__()
        self.pinning = dict(pinning or PAIR_PINNING)
        self.make = make
        self.redis = RedisServer(self.pinning["redis"], self.logdir / "redis")
        self.processes: list[Target] = []
        self.bystander: Target | None = None
        self.urls: list[str] = []

    def _process(self, index: int, cpu: int) -> Target:
        process = self.make()
        process.cpu = cpu
        process.logdir.rmdir()  # its own empty folder: its logs go in the pair's
        process.logdir = self.logdir / f"process-{index}"
        process.logdir.mkdir(exist_ok=True)
        process.settings["REDIS_URL"] = self.redis.url
        # The processes of one host share their SQLite records, as the deployed ones do.
        process.settings["INSTANCE_PATH"] = str(self.logdir / f"instance-{self.starts}")
        return process

    def start(self) -> "PairTarget":
        self.starts += 1
        self.redis.start()
        self.processes = []
        try:
            for index, cpu in enumerate(self.pinning["processes"], start=1):
                process = self._process(index, cpu)
                self.processes.append(process)
                process.start()
        except BaseException:
            self.stop()
            raise
        self.urls = [p.url for p in self.processes]
        self.url, self.port = self.urls[0], self.processes[0].port
        self.proc, self.pid = self.processes[0].proc, self.processes[0].pid
        return self

    def start_bystander(self) -> Target:
        """A third process on the same Redis and the processes' core, that no user connects to."""
        self.bystander = self._process(len(self.processes) + 1, self.pinning["processes"][0])
        self.bystander.start()
        return self.bystander

    def stop_bystander(self) -> None:
        if self.bystander is not None:
            self.bystander.stop()
            self.bystander = None

    def pids(self) -> list[int]:
        return sorted(pid for pids in self.parts().values() for pid in pids)

    def parts(self) -> dict[str, list[int]]:
        out = {f"process_{i}": p.pids() for i, p in enumerate(self.processes, start=1) if p.proc}
        if self.redis.proc:
            out["redis"] = [self.redis.pid]
        if self.bystander is not None and self.bystander.proc:
            out["bystander"] = self.bystander.pids()
        return out

    def output(self, tail: int = 4000) -> str:
        return "\n".join(p.output(tail) for p in self.processes)

    def error_summary(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for index, process in enumerate(self.processes, start=1):
            for line, n in process.error_summary().items():
                counts[f"process {index}: {line}"] += n
        return dict(counts.most_common(20))

    def rss_kib(self) -> int:
        return sum(p.rss_kib() for p in self.processes)

    def stop(self) -> None:
        self.stop_bystander()
        for process in self.processes:
            process.stop()
        self.redis.stop()
        self.proc = None
