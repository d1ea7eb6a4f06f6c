"""`make stack`: the production shape on this machine, for trying it out.

    browser --https/wss--> nginx (deploy/nginx-main.conf and nginx.conf, self-signed certificate)
                           --http--> gunicorn-1, gunicorn-2, ... (gunicorn.conf.py, eventlet) --> the app
                                     each with REDIS_URL --> redis-server (deploy/redis.conf)
    browser --STUN/TURN--> coturn (deploy/turnserver.conf via `flask turn-config`)

Everything listens on 127.0.0.1: https://127.0.0.1:8443 by default
(STACK_PORT changes it; STACK_HTTP_PORT, 8080, is nginx's redirect to it).
STACK_PROCESSES (default 2) gunicorn processes share their state through one
Redis, as videocall@8001 and videocall@8002 do on a server; nginx's upstream
lists them all. gunicorn, Redis and coturn take free ports, and Redis's user
a new password, never printed (REDIS_URL is in .stack/redis-url, mode 0600).
GUNICORN_WORKER=gevent picks the other worker. The console says, as each
socket connects, which process took it. Logs and the generated certificate and
configs are in .stack/ (STACK_DIR). Ctrl-C, or SIGTERM, stops everything this
started.

The tests use the rendering functions below, so that what they run is what
`make stack` runs.
"""

import ctypes
import hashlib
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
TURNSERVER = "/usr/bin/turnserver"
REDIS = "/usr/bin/redis-server"
SHIPPED_SITE = ROOT / "deploy" / "nginx.conf"
SHIPPED_MAIN = ROOT / "deploy" / "nginx-main.conf"
SHIPPED_REDIS = ROOT / "deploy" / "redis.conf"
# deploy/redis.conf's ACL user for the app, and where its password's SHA-256 goes.
REDIS_USER = "videocall"
REDIS_PASSWORD_PLACEHOLDER = "#PASSWORD_SHA256"
START_TIMEOUT = 20.0


# --- Ports and certificate --------------------------------------------------------------------------


def end_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stop a process with `sig`, and SIGKILL it if it has not exited within `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _is_free(ip: str, port: int) -> bool:
    """True if both UDP and TCP can bind ip:port now."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(family, kind) as sock:
            try:
                sock.bind((ip, port))
            except OSError:
                return False
    return True


def free_port_pair(ip: str = "127.0.0.1", avoid: tuple[int, ...] = ()) -> int:
    """A port P such that P and P+1 are free on UDP and TCP.

    coturn listens on the port and, for RFC 5780, on the "alternative" port
    P+1, both for UDP and TCP.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((ip, 0))
            port = sock.getsockname()[1]
        pair = (port, port + 1)
        if port < 65535 and set(pair).isdisjoint(avoid) and all(_is_free(ip, p) for p in pair):
            return port
    raise RuntimeError("no free pair of ports")


def make_certificate(folder: Path, days: int = 7) -> tuple[Path, Path]:
    """A self-signed certificate and key for localhost and 127.0.0.1, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is needed to make a self-signed certificate (apt-get install openssl)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", str(days), "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    key.chmod(0o600)
    return cert, key


# --- nginx ------------------------------------------------------------------------------------------


def render_site(
    upstream_ports: int | Sequence[int],
    http_port: int,
    https_port: int,
    cert: Path,
    key: Path,
    read_timeout: int | None = None,
) -> str:
    """Return deploy/nginx.conf fitted to loopback ports and a local certificate.

    Only addresses, ports, certificate, static folder and the redirect's port
    change; every proxy setting is the shipped file's. The upstream gets one
    `server` line per port of `upstream_ports` (one port: one line), each with
    the shipped lines' parameters. `read_timeout` shortens /socket.io/'s
    proxy_read_timeout, so that a test can wait past it in seconds.
    """
    ports = [upstream_ports] if isinstance(upstream_ports, int) else list(upstream_ports)
    site = _upstream_servers(SHIPPED_SITE.read_text(), ports)
    replacements = [
        (r"listen \[::\]:\d+[^;]*;\n", ""),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        (r"return 301 https://\$host\$request_uri;", f"return 301 https://$host:{https_port}$request_uri;"),
        (r"ssl_certificate /\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};"),
        (r"alias /srv/videocall/chat/static/;", f"alias {ROOT / 'chat' / 'static'}/;"),
    ]
    if read_timeout:
        replacements.append((r"proxy_read_timeout \d+s;", f"proxy_read_timeout {read_timeout}s;"))
    for pattern, value in replacements:
        site, count = re.subn(pattern, value, site)
        if not count:
            raise ValueError(f"deploy/nginx.conf no longer has {pattern!r}")
    return site


UPSTREAM_SERVERS = re.compile(r"(?:^[ \t]*server 127\.0\.0\.1:\d+[^;\n]*;\n)+", re.MULTILINE)
UPSTREAM_SERVER = re.compile(r"([ \t]*)server 127\.0\.0\.1:\d+([^;\n]*);")


def _upstream_servers(site: str, ports: Sequence[int]) -> str:
    """`site` with its upstream's `server 127.0.0.1:PORT ...;` lines replaced by one per port."""
    if not ports:
        raise ValueError("an upstream needs at least one port")
    block = UPSTREAM_SERVERS.search(site)
    if block is None:
        raise ValueError("deploy/nginx.conf no longer has an upstream of `server 127.0.0.1:PORT` lines")
    indent, parameters = UPSTREAM_SERVER.match(block.group(0)).groups()
    lines = "".join(f"{indent}server 127.0.0.1:{port}{parameters};\n" for port in ports)
    return site[: block.start()] + lines + site[block.end() :]


def nginx_config(folder: Path, site: Path) -> str:
    """Return deploy/nginx-main.conf around `site`, with pid, logs and temporary files in `folder`.

    The worker limits, and every http setting, are the shipped file's. What
    changes: nginx runs in the foreground (it is our child, not a daemon),
    with one worker, so that its worker_connections, a limit per worker, is
    what a test meets (a 1-CPU server has one worker, and several do not
    share the load evenly); it includes `site` instead of sites-enabled, and
    no conf.d or dynamic modules, which belong to the machine, not the app.
    """
    main = SHIPPED_MAIN.read_text()
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp_paths = "".join(f"\t{kind}_temp_path {folder}/{kind};\n" for kind in kinds)
    # As root, nginx would run its workers as www-data, who cannot read a
    # checkout in a private folder (mktemp -d is mode 0700). As anyone else,
    # it cannot switch users and would only warn about the directive.
    user = "user root;\n" if os.geteuid() == 0 else ""
    replacements = [
        (r"^user www-data;\n", user),
        (r"^worker_processes auto;", "daemon off;\nworker_processes 1;"),
        (r"^pid /run/nginx\.pid;", f"pid {folder}/nginx.pid;"),
        (r"^error_log /var/log/nginx/error\.log;", f"error_log {folder}/nginx-error.log info;"),
        (r"^include /etc/nginx/modules-enabled/\*\.conf;\n", ""),
        (r"access_log /var/log/nginx/access\.log;", f"access_log {folder}/nginx-access.log;"),
        (r"\tinclude /etc/nginx/conf\.d/\*\.conf;\n", temp_paths),
        (r"include /etc/nginx/sites-enabled/\*;", f"include {site};"),
    ]
    for pattern, value in replacements:
        main, count = re.subn(pattern, value, main, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"deploy/nginx-main.conf no longer has {pattern!r} once")
    return main


# --- coturn -----------------------------------------------------------------------------------------


def turn_settings(port: int, secret: str) -> dict[str, str]:
    """The app's settings for a coturn on 127.0.0.1:port."""
    return {
        "STUN_URLS": f"stun:127.0.0.1:{port}",
        "TURN_URLS": f"turn:127.0.0.1:{port}?transport=udp,turn:127.0.0.1:{port}?transport=tcp",
        "TURN_SECRET": secret,
    }


def coturn_command(config: Path, folder: Path, port: int, tls_port: int, cert: Path, key: Path) -> list[str]:
    """turnserver with `config` as it is, plus loopback addresses and one exception.

    The shipped config refuses loopback peers, rightly for a public server;
    here both browsers are on this machine, so 127.0.0.1 alone is allowed.
    """
    return [
        TURNSERVER,
        *("-c", str(config)),
        *("--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"),
        *("--listening-port", str(port), "--tls-listening-port", str(tls_port)),
        *("--cert", str(cert), "--pkey", str(key)),
        *("--allow-loopback-peers", "--allowed-peer-ip", "127.0.0.1"),
        *("--log-file", "stdout", "--no-cli", "--pidfile", str(folder / "turnserver.pid")),
        # An empty user database of its own instead of Debian's /var/lib/turn/turndb.
        *("--db", str(folder / "turndb")),
    ]


def stun_answers(port: int, timeout: float = 0.2) -> bool:
    """True if a STUN Binding request to 127.0.0.1:port gets its response."""
    transaction = secrets.token_bytes(12)
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, ("127.0.0.1", port))
            reply = sock.recv(2048)
        except OSError:
            return False
    return reply[:2] == b"\x01\x01" and reply[8:20] == transaction


# --- Redis ------------------------------------------------------------------------------------------


def render_redis_config(password: str) -> str:
    """Return deploy/redis.conf with the SHA-256 of `password` for the app's user; nothing else changes."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    config = SHIPPED_REDIS.read_text()
    if config.count(REDIS_PASSWORD_PLACEHOLDER) != 1:
        raise ValueError(f"deploy/redis.conf no longer has {REDIS_PASSWORD_PLACEHOLDER!r} once")
    return config.replace(REDIS_PASSWORD_PLACEHOLDER, "#" + digest)


def redis_command(config: Path, folder: Path, port: int) -> list[str]:
    """redis-server with `config` as it is, but for its port and where its files go.

    Command-line options come after the file's and win: the port, `dir` (the
    append-only file) in `folder`/redis, the pid file in `folder`, and the log
    on standard output. bind, the users, persistence and memory stay the file's.
    """
    return [
        REDIS,
        str(config),
        *("--port", str(port)),
        *("--dir", str(folder / "redis")),
        *("--pidfile", str(folder / "redis.pid")),
        *("--logfile", ""),
        *("--daemonize", "no"),
    ]


def redis_url(port: int, password: str) -> str:
    """REDIS_URL for the app's user on 127.0.0.1:port, database 0 (deploy/videocall.env's form)."""
    return f"redis://{REDIS_USER}:{password}@127.0.0.1:{port}/0"


class RedisError(Exception):
    """An error reply from Redis (its text: "NOAUTH ...", "NOPERM ...", "WRONGPASS ...")."""


class RedisConnection:
    """Redis's protocol (RESP2) over a plain socket: enough to check a server, no client library."""

    def __init__(self, port: int, timeout: float = 2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def command(self, *args: str | int) -> object:
        """Send one command; return its reply (str, int, None or list), or raise RedisError."""
        self.send(*args)
        return self.reply()

    def send(self, *args: str | int) -> None:
        parts = [str(arg).encode() for arg in args]
        self.sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))

    def reply(self) -> object:
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if rest == "-1" else self.file.read(int(rest) + 2)[:-2].decode()
        if kind == b"*":
            return None if rest == "-1" else [self.reply() for _ in range(int(rest))]
        raise ConnectionError(f"not a Redis reply: {line!r}")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> "RedisConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def redis_answers(port: int, password: str) -> bool:
    """True if Redis on 127.0.0.1:port lets the app's user in and answers PING."""
    try:
        with RedisConnection(port, timeout=1.0) as redis:
            return redis.command("AUTH", REDIS_USER, password) == "OK" and redis.command("PING") == "PONG"
    except (OSError, RedisError):
        return False


# --- Following the app's logs -----------------------------------------------------------------------

# What the app logs (logger chat.signaling.connection) when a socket connects.
CONNECTED = re.compile(r"\S+ connected: socket \S+")


class LogFollower:
    """The lines added to a log file since the last look (`tail -f`, read on demand)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_lines(self) -> list[str]:
        """Whole lines written since the last call; a line still being written waits for its end."""
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                data = log.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        return [line.decode(errors="replace") for line in lines]


def connections(label: str, lines: list[str]) -> list[str]:
    """The app's "NAME connected: socket SID" among `lines`, each prefixed with the process's label."""
    return [f"[{label}] {match.group(0)}" for line in lines if (match := CONNECTED.search(line))]


# --- Running it -------------------------------------------------------------------------------------


def raise_open_files_limit(wanted: int = 65536) -> None:
    """Raise this process's soft limit of open files, which the servers inherit, up to the hard one.

    gunicorn holds a file per connection (MAX_CONNECTIONS, 10,000), far past a
    shell's usual 1,024; on a server, videocall.service sets LimitNOFILE=65536.
    (nginx's workers set their own, worker_rlimit_nofile.)
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the stack script dies, even by SIGKILL."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Stack:
    """coturn, Redis, the gunicorn processes and nginx started in that order; stop() ends them in reverse."""

    def __init__(self, folder: Path, https_port: int, http_port: int, apps: int = 2):
        self.folder = folder
        self.https_port, self.http_port = https_port, http_port
        self.url = f"https://127.0.0.1:{https_port}/"
        self.app_count = apps
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []
        # name -> port of each gunicorn process, in the order they started.
        self.app_ports: dict[str, int] = {}
        self.followers: dict[str, LogFollower] = {}
        self.redis_password = secrets.token_urlsafe(32)

    def start(self) -> None:
        for name, port in (("STACK_PORT", self.https_port), ("STACK_HTTP_PORT", self.http_port)):
            if not _is_free("127.0.0.1", port):
                raise RuntimeError(f"Port {port} is taken: set {name} to another port.")
        for program, package in ((NGINX, "nginx"), (TURNSERVER, "coturn"), (REDIS, "redis-server")):
            if not Path(program).exists():
                raise RuntimeError(f"{program} is missing: apt-get install {package}")
        cert, key = make_certificate(self.folder)
        turn_port = free_port_pair()
        self.turn_port = turn_port
        settings = turn_settings(turn_port, os.environ.get("TURN_SECRET") or secrets.token_urlsafe(32))
        self._start_coturn(settings, cert, key, turn_port)
        self.redis_port = free_port()
        self._start_redis()
        self._start_apps(settings)
        self._start_nginx(cert, key)

    def _spawn(self, name: str, command: list[str], **options) -> subprocess.Popen:
        log = self.folder / f"{name}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session: the terminal's Ctrl-C reaches only this
                # script, which then stops the servers in order.
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **options,
            )
        self.processes.append((name, proc, log))
        return proc

    def _start_coturn(self, settings: dict[str, str], cert: Path, key: Path, port: int) -> None:
        from chat.turn.coturn_config import TEMPLATE, render

        config = self.folder / "turnserver.conf"
        config.touch(mode=0o600)
        urls = settings["TURN_URLS"].split(",")
        config.write_text(render(TEMPLATE.read_text(), urls, settings["TURN_SECRET"]))
        tls_port = free_port_pair(avoid=(port, port + 1))
        command = coturn_command(config, self.folder, port, tls_port, cert, key)
        self._spawn("turnserver", command, cwd=self.folder)
        self._wait("turnserver", lambda: stun_answers(port))

    def _start_redis(self) -> None:
        """deploy/redis.conf with this stack's password; REDIS_URL in redis-url for redis-cli -u."""
        (self.folder / "redis").mkdir()
        config = self.folder / "redis.conf"
        config.write_text(render_redis_config(self.redis_password))
        url_file = self.folder / "redis-url"
        url_file.touch(mode=0o600)
        url_file.write_text(redis_url(self.redis_port, self.redis_password) + "\n")
        self._spawn("redis", redis_command(config, self.folder, self.redis_port), cwd=self.folder)
        self._wait("redis", lambda: redis_answers(self.redis_port, self.redis_password))

    def _start_apps(self, settings: dict[str, str]) -> None:
        """The gunicorn processes, all at once, with the same secret and Redis; then wait for each."""
        env = {
            **os.environ,
            "APP_ENV": "production",
            # One secret for all: a session cookie from one process is good at every other.
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(32),
            "PROXY_HOPS": "1",
            # Invite links, and the one host served: the address this stack prints.
            "PUBLIC_URL": os.environ.get("PUBLIC_URL") or self.url.rstrip("/"),
            "TRUSTED_HOSTS": os.environ.get("TRUSTED_HOSTS") or "localhost",
            "REDIS_URL": redis_url(self.redis_port, self.redis_password),
            # The processes' shared files (the SQLite records): the stack's own folder, gone with it.
            "INSTANCE_PATH": os.environ.get("INSTANCE_PATH") or str(self.folder / "instance"),
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
        for number in range(1, self.app_count + 1):
            name, port = f"gunicorn-{number}", free_port()
            self.app_ports[name] = port
            pid = str(self.folder / f"{name}.pid")
            command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--pid", pid, "wsgi:app"]
            self._spawn(name, command, cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"})
            self.followers[name] = LogFollower(self.folder / f"{name}.log")
        for name, port in self.app_ports.items():
            self._wait(name, lambda port=port: answers(f"http://127.0.0.1:{port}/"))

    def _start_nginx(self, cert: Path, key: Path) -> None:
        site = self.folder / "site.conf"
        ports = list(self.app_ports.values())
        site.write_text(render_site(ports, self.http_port, self.https_port, cert, key))
        config = self.folder / "nginx.conf"
        config.write_text(nginx_config(self.folder, site))
        self._spawn("nginx", [NGINX, "-p", str(self.folder), "-c", str(config)])
        self._wait("nginx", lambda: answers(f"{self.url}static/favicon.svg"))

    def _wait(self, name: str, ready) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within {START_TIMEOUT:.0f} s.\n{self._tail(name)}")
            time.sleep(0.1)

    def check(self) -> None:
        """Raise if a server has exited, with the end of its log."""
        for name, proc, _ in self.processes:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}.\n{self._tail(name)}")

    def new_connections(self) -> list[str]:
        """The sockets that connected since the last call, each labelled with the process that took it."""
        found = []
        for name, follower in self.followers.items():
            found += connections(f"{name} 127.0.0.1:{self.app_ports[name]}", follower.new_lines())
        return found

    def _tail(self, name: str, lines: int = 30) -> str:
        log = self.folder / f"{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        if name == "nginx" and (self.folder / "nginx-error.log").exists():
            text += (self.folder / "nginx-error.log").read_text(errors="replace")
        # A traceback may quote REDIS_URL; the password stays off the console.
        text = text.replace(self.redis_password, "********")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the servers, the last started first: nginx, the gunicorns, Redis, coturn."""
        for _, proc, _ in reversed(self.processes):
            # SIGINT is gunicorn's quick shutdown (SIGTERM would wait up to
            # graceful_timeout for open sockets); nginx and coturn exit on it
            # too, and Redis shuts down as on SIGTERM, its AOF flushed.
            end_process(proc, signal.SIGINT)


def answers(url: str) -> bool:
    """True if `url` answers HTTP at all (any status; https without checking the certificate)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=context):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _stop(signum, frame) -> None:
    """First Ctrl-C or SIGTERM: stop. Later ones (make passes them on too) change nothing."""
    _ignore_signals()
    raise KeyboardInterrupt


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def app_processes() -> int:
    """STACK_PROCESSES: how many gunicorn processes (default 2)."""
    value = os.environ.get("STACK_PROCESSES", "2")
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(f"STACK_PROCESSES must be a whole number of at least 1, not {value!r}.")
    return int(value)


def summary(stack: Stack, folder: Path) -> str:
    """What runs where, for the console: no secret in it."""
    worker = os.environ.get("GUNICORN_WORKER", "eventlet")
    apps = ", ".join(f"{name} on 127.0.0.1:{port}" for name, port in stack.app_ports.items())
    count = f"{len(stack.app_ports)} process" + ("es" if len(stack.app_ports) > 1 else "")
    return (
        f"\nThe video-call app, production shape, is at  {stack.url}\n\n"
        f"  nginx    https on 127.0.0.1:{stack.https_port} (self-signed certificate: the browser warns"
        f" once), http on {stack.http_port} redirects\n"
        f"  gunicorn {worker} worker, {count}: {apps}\n"
        f"  redis    on 127.0.0.1:{stack.redis_port}, the processes' shared state"
        f' (redis-cli -u "$(cat {folder}/redis-url)")\n'
        f"  coturn   STUN and TURN on 127.0.0.1:{stack.turn_port}\n"
        f"  logs     {folder}/\n\n"
        "Open it in two windows (one private) to call yourself; below, each socket as it connects,"
        " and the process it landed on. Ctrl-C stops everything."
    )


def main() -> int:
    folder = Path(os.environ.get("STACK_DIR") or ROOT / ".stack").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    https_port = int(os.environ.get("STACK_PORT", "8443"))
    http_port = int(os.environ.get("STACK_HTTP_PORT", "8080"))
    stack = None
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack = Stack(folder, https_port, http_port, app_processes())
        raise_open_files_limit()
        stack.start()
        print(summary(stack, folder), flush=True)
        while True:
            stack.check()
            for line in stack.new_connections():
                print(line, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping nginx, gunicorn, Redis and coturn.", flush=True)
        return 0
    except (RuntimeError, subprocess.CalledProcessError, ValueError) as error:
        print(f"make stack: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        _ignore_signals()
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
