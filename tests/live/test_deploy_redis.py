"""deploy/redis.conf in a real redis-server: who may connect, what they may do, persistence, memory.

redis-server runs the shipped file as it is, but for the port, its folder
(dir, pid file, log) and the SHA-256 of a password in place of the
placeholder: scripts/stack.py's render_redis_config and redis_command, which
`make stack` runs too. The checks speak Redis's protocol over a plain socket
(scripts/stack.py's RedisConnection).
"""

import ipaddress
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from scripts.stack import (
    REDIS,
    REDIS_USER,
    SHIPPED_REDIS,
    RedisConnection,
    RedisError,
    free_port,
    redis_answers,
    redis_command,
    redis_url,
    render_redis_config,
)

START_TIMEOUT = 10.0


class ShippedRedis:
    """redis-server with deploy/redis.conf in `folder`; `extra` options go after the file's."""

    def __init__(self, folder: Path, extra: tuple[str, ...] = ()):
        if not Path(REDIS).exists():
            pytest.fail(f"{REDIS} is missing: scripts/ensure-packages.sh {REDIS}=redis-server", pytrace=False)
        self.folder, self.extra = folder, extra
        self.password = secrets.token_urlsafe(32)
        self.port = free_port()
        (folder / "redis").mkdir(parents=True, exist_ok=True)
        self.config = folder / "redis.conf"
        self.config.write_text(render_redis_config(self.password))
        self.start()

    def start(self) -> None:
        self.log = self.folder / "redis.log"
        with self.log.open("a") as out:
            command = redis_command(self.config, self.folder, self.port) + list(self.extra)
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not redis_answers(self.port, self.password):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not start:\n{self.log.read_text()}", pytrace=False)
            time.sleep(0.05)

    def login(self) -> RedisConnection:
        """A connection logged in as the app's user."""
        redis = RedisConnection(self.port)
        assert redis.command("AUTH", REDIS_USER, self.password) == "OK"
        return redis

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown, nothing flushed by Redis itself."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = ShippedRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def app_user(redis_server):
    redis = redis_server.login()
    yield redis
    redis.close()


def refusal(redis: RedisConnection, *command: str) -> str:
    """The error Redis answers `command` with (the test fails if it is carried out)."""
    with pytest.raises(RedisError) as refused:
        redis.command(*command)
    return str(refused.value)


def test_the_app_user_logs_in_with_redis_url_and_nobody_else_does(redis_server):
    url = urllib.parse.urlsplit(redis_url(redis_server.port, redis_server.password))
    with RedisConnection(redis_server.port) as redis:
        # Not logged in: every command but AUTH is refused.
        for command in (("PING",), ("GET", "x"), ("CONFIG", "GET", "bind")):
            assert refusal(redis, *command).startswith("NOAUTH"), command
        # The built-in user `default` is off; a wrong password is wrong.
        assert refusal(redis, "AUTH", "anything").startswith("WRONGPASS")
        assert refusal(redis, "AUTH", "default", "anything").startswith("WRONGPASS")
        assert refusal(redis, "AUTH", REDIS_USER, "not-the-password").startswith("WRONGPASS")
        assert redis.command("AUTH", url.username, url.password) == "OK"
        assert redis.command("ACL", "WHOAMI") == REDIS_USER
        assert redis.command("PING") == "PONG"


def test_it_keeps_an_append_only_file_fsynced_every_second_and_never_evicts(redis_server, app_user):
    def setting(name: str) -> str:
        assert app_user.command("CONFIG", "GET", name)[0] == name
        return app_user.command("CONFIG", "GET", name)[1]

    assert setting("appendonly") == "yes"
    assert setting("appendfsync") == "everysec"
    assert setting("maxmemory-policy") == "noeviction"
    assert int(setting("maxmemory")) == 256 * 1024 * 1024
    assert setting("save") == ""
    assert setting("protected-mode") == "yes"
    # The command line moved the files, nothing else.
    assert setting("dir") == str(redis_server.folder / "redis")
    # Debian's unit may write here only; the shipped file keeps Debian's paths.
    shipped = SHIPPED_REDIS.read_text()
    for line in ("dir /var/lib/redis", "pidfile /run/redis/redis-server.pid"):
        assert f"\n{line}\n" in shipped, line


def _this_hosts_other_address() -> str | None:
    """An address of this host that is not loopback, if it has one (the source of its default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # The kernel writes each 32-bit word in host order (little-endian here).
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(str(ipaddress.ip_address(words)))
    return found


def test_it_listens_on_loopback_only(redis_server, app_user):
    assert app_user.command("CONFIG", "GET", "bind") == ["bind", "127.0.0.1"]
    assert listening_addresses(redis_server.port) == {"127.0.0.1"}
    other = _this_hosts_other_address()
    if other is not None:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((other, redis_server.port), timeout=2).close()


def test_the_app_user_may_do_what_the_app_does(redis_server, app_user):
    """Keys, Lua scripts (the Store's and the rate limits'), Pub/Sub (Flask-SocketIO's message queue)."""
    key = f"test:{secrets.token_hex(4)}"
    assert app_user.command("SET", key, "1", "PX", "60000") == "OK"
    assert app_user.command("HSET", key + ":h", "a", "1") == 1
    assert app_user.command("ZADD", key + ":z", "1", "a") == 1
    script = "redis.call('TIME'); return redis.call('INCRBY', KEYS[1], ARGV[1])"
    assert app_user.command("EVAL", script, "1", key, "2") == 3
    sha = app_user.command("SCRIPT", "LOAD", script)
    assert app_user.command("EVALSHA", sha, "1", key, "2") == 5
    assert app_user.command("SMEMBERS", key + ":none") == []
    with redis_server.login() as listener:
        assert listener.command("SUBSCRIBE", "chat") == ["subscribe", "chat", 1]
        assert app_user.command("PUBLISH", "chat", "hello") == 1
        assert listener.reply() == ["message", "chat", "hello"]
    assert app_user.command("DEL", key, key + ":h", key + ":z") == 3


def test_the_app_user_cannot_reconfigure_redis_write_files_or_wipe_it(redis_server, app_user):
    """What would let a stolen password take the host or the data: refused by the ACL."""
    app_user.command("SET", "test:kept", "1")
    for command in [
        ("CONFIG", "SET", "dir", "/tmp"),
        ("CONFIG", "REWRITE"),
        ("SAVE",),
        ("BGSAVE",),
        ("BGREWRITEAOF",),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("KEYS", "*"),
        ("SHUTDOWN", "NOSAVE"),
        ("REPLICAOF", "127.0.0.1", "1"),
        ("MODULE", "LOAD", "/tmp/x.so"),
        ("DEBUG", "SLEEP", "0"),
        ("MONITOR",),
        ("ACL", "SETUSER", "intruder", "on", ">x", "+@all"),
        ("ACL", "LIST"),
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("MIGRATE", "127.0.0.1", "1", "test:kept", "0", "1000"),
    ]:
        # MODULE and DEBUG meet enable-module-command and enable-debug-command first.
        refused_by = ("NOPERM", f"ERR {command[0]} command not allowed")
        assert refusal(app_user, *command).startswith(refused_by), command
    assert app_user.command("GET", "test:kept") == "1"
    assert redis_answers(redis_server.port, redis_server.password)


def test_what_was_written_a_second_before_a_crash_survives_it(tmp_path):
    """appendonly yes, appendfsync everysec: a SIGKILL a second after a write loses nothing."""
    server = ShippedRedis(tmp_path)
    try:
        with server.login() as redis:
            assert redis.command("SET", "name:alice", "owner-1") == "OK"
            assert redis.command("HSET", "call:1", "caller", "bob", "callee", "alice") == 2
        time.sleep(1.2)  # the fsync of everysec
        server.kill()
        server.start()
        with server.login() as redis:
            assert redis.command("GET", "name:alice") == "owner-1"
            assert redis.command("HGET", "call:1", "caller") == "bob"
    finally:
        server.stop()
    assert list((tmp_path / "redis" / "appendonlydir").glob("*.aof"))


def test_at_its_memory_bound_it_refuses_writes_instead_of_forgetting(tmp_path):
    """maxmemory-policy noeviction (the bound lowered to 2 MB here): OOM errors, every key kept."""
    server = ShippedRedis(tmp_path, extra=("--maxmemory", "2mb"))
    try:
        with server.login() as redis:
            value, written = "x" * 100_000, []
            with pytest.raises(RedisError) as full:
                for number in range(100):
                    redis.command("SET", f"big:{number}", value)
                    written.append(f"big:{number}")
            assert str(full.value).startswith("OOM")
            assert written
            assert all(redis.command("EXISTS", key) == 1 for key in written)
            assert redis.command("GET", "big:0") == value
    finally:
        server.stop()


def test_a_placeholder_left_in_the_file_keeps_redis_from_starting(tmp_path):
    """Until the admin puts in the password's SHA-256, Redis does not start: it fails closed."""
    (tmp_path / "redis").mkdir()
    config = tmp_path / "redis.conf"
    config.write_text(SHIPPED_REDIS.read_text())
    result = subprocess.run(
        redis_command(config, tmp_path, free_port()), capture_output=True, text=True, timeout=10
    )
    assert result.returncode != 0
    assert "password hash must be exactly 64 characters" in result.stdout + result.stderr
