"""A real redis-server (Debian's, installed by `make test`) on a free loopback port, in a temporary folder."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from scripts.stack import end_process, free_port

REDIS_SERVER = "/usr/bin/redis-server"
START_TIMEOUT = 10.0


class RedisServer:
    """redis-server with no persistence on 127.0.0.1:<free port>; stop(), kill() and start() again.

    The port is kept across a restart, so that clients find it again.
    `password` makes it ask for one (`requirepass`).
    """

    def __init__(self, password: str | None = None):
        if shutil.which(REDIS_SERVER) is None:
            pytest.fail(
                f"{REDIS_SERVER} is missing: `make test` installs Debian's redis-server", pytrace=False
            )
        self.port = free_port()
        self.password = password
        self.folder = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        command += ["--save", "", "--appendonly", "no", "--logfile", str(self.folder / "redis.log")]
        if self.password:
            command += ["--requirepass", self.password]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        client = self.client()
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (self.folder / "redis.log").read_text()
                        if (self.folder / "redis.log").exists()
                        else ""
                    )
                    self.stop()
                    pytest.fail(f"redis-server did not start on port {self.port}:\n{log}", pytrace=False)
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.proc is not None:
            end_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL: Redis is gone at once, with what it held (no persistence)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
