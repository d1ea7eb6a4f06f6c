"""A real PostgreSQL (Debian's, installed by `make test`) on a free loopback port, in a temporary folder.

PostgreSQL refuses to run as root, so when the tests run as root the
cluster's folder is given to an unprivileged user (`nobody`) and initdb and
the server run as that user. Nothing outside the folder is touched: no
Debian cluster, no service, the socket in the folder too.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from scripts.stack import end_process, free_port

START_TIMEOUT = 30.0
UNPRIVILEGED = "nobody"
DATABASE = "videocall"


def _bin_folder() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        pytest.fail("PostgreSQL is missing: `make test` installs Debian's postgresql", pytrace=False)
    return Path(found[-1]).parent


class PostgresServer:
    """A throwaway cluster on 127.0.0.1:<free port> with one database, `videocall`, and a password."""

    def __init__(self) -> None:
        self.bin = _bin_folder()
        self.port = free_port()
        self.password = "test-password"
        self.folder = Path(tempfile.mkdtemp(prefix="postgres-test-"))
        self.data = self.folder / "data"
        self._as: dict = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.proc: subprocess.Popen | None = None
        self._init()
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the database (psycopg2, the driver the app pins)."""
        return f"postgresql+psycopg2://postgres:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, program: str, *args: str) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        result = subprocess.run(
            [str(self.bin / program), *args],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            **self._as,
        )
        if result.returncode != 0:
            pytest.fail(f"{program} failed:\n{result.stdout}{result.stderr}", pytrace=False)

    def _init(self) -> None:
        secret = self.folder / "password"
        secret.write_text(self.password)
        if self._as:
            os.chown(secret, self._as["user"], self._as["group"])
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
            f"--pwfile={secret}", "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip

    def start(self) -> None:
        log = self.folder / "postgres.log"
        command = [
            str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
            "-c", "fsync=off", "-c", "max_connections=200",
        ]  # fmt: skip
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder, **self._as
            )
        deadline = time.monotonic() + START_TIMEOUT
        ready = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(ready).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"postgres did not start on port {self.port}:\n{log.read_text()}", pytrace=False)
            time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open sessions are ended rather than waited for."""
        if self.proc is None:
            return
        end_process(self.proc, signal.SIGINT)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
