"""The real server (`python wsgi.py`, eventlet, or gunicorn) in a subprocess on a free port."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from scripts.stack import end_process, free_port
from tests.support.paths import ROOT

# Settings of every live server; keyword arguments go on top. The timers are
# the production ones unless a test needs them short, so that no call ends on
# its own in the middle of a test.
BASE_ENV = {
    "APP_ENV": "development",
    "SECRET_KEY": "live-test-secret",
    "HOST": "127.0.0.1",
    "RING_TIMEOUT": "30",
    "GRACE_PERIOD": "30",
    # Every test user comes from 127.0.0.1: per-address limits would bite.
    "JOIN_PER_MINUTE": "1000",
    "CALLS_PER_MINUTE_PER_ADDRESS": "1000",
    "REPEAT_CALLS": "1000",
    "PYTHONUNBUFFERED": "1",
}
START_TIMEOUT = 20.0
# How each server is started: `make run`'s embedded one, and production's gunicorn.
COMMANDS = {
    "embedded": [sys.executable, "wsgi.py"],
    "gunicorn": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
    "gunicorn-gevent": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
}
# Settings that go with each server.
SERVER_ENV = {"gunicorn-gevent": {"GUNICORN_WORKER": "gevent"}}


class LiveServer:
    """The app (`python wsgi.py`, or gunicorn) on a free port, started and answering; stop() ends it."""

    def __init__(
        self,
        port: int | None = None,
        server: str = "embedded",
        command: list[str] | None = None,
        **settings: str,
    ):
        """Start `server` (a key of COMMANDS), or `command` instead, with `settings` in its env."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The app's files (its SQLite records) in a folder of this server's, unless given one to share.
        self._instance = None if "INSTANCE_PATH" in settings else tempfile.mkdtemp(prefix="app-instance-")
        instance = {"INSTANCE_PATH": self._instance} if self._instance else {}
        env = {
            **os.environ,
            **BASE_ENV,
            "PORT": str(self.port),
            **SERVER_ENV.get(server, {}),
            **instance,
            **settings,
        }
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            command or COMMANDS[server], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        if self._log.closed:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def check_alive(self) -> None:
        """Fail the test, with the server's output, if the server has exited."""
        if self.proc.poll() is not None:
            pytest.fail(
                f"The server exited with code {self.proc.returncode}. Its output:\n{self.output()}",
                pytrace=False,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        pytest.fail(
            f"The server did not answer {self.url} within {START_TIMEOUT} s. Its output:\n{self.output()}",
            pytrace=False,
        )

    def stop(self) -> None:
        end_process(self.proc, timeout=5)
        self._log.close()
        if self._instance:
            shutil.rmtree(self._instance, ignore_errors=True)
