"""A real coturn `turnserver` in a subprocess on loopback, on free ports, for the TURN tests.

    server = Coturn(config_path, "--static-auth-secret", "s3cret")
    client = TurnClient(server.address, ...)
    server.stop()

The config file is used as it is; the listening address and ports, the pid
file, the log and the user database are set on the command line (coturn
applies its command line after the config file; repeatable options such as
listening-ip and relay-ip add to the file's). Nothing is written outside a
temporary directory, so the tests can run as root next to a system coturn.
"""

import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from scripts.stack import end_process, free_port_pair
from tests.support.turn_client import TurnClient

TURNSERVER = "/usr/bin/turnserver"
START_TIMEOUT = 10.0

# The browser tests' coturn (tests/browser/conftest.py's `coturn`), and the secret the app
# they start is given. A coturn for loopback tests only: allow-loopback-peers lets it relay
# between two browsers on this machine, which the shipped config rightly forbids.
TURN_SECRET = "browser-turn-secret"
TURN_TEST_CONFIG = """\
use-auth-secret
realm=test.invalid
fingerprint
no-cli
no-multicast-peers
allow-loopback-peers
relay-ip=127.0.0.1
min-port=40000
max-port=40999
"""


class Coturn:
    """`turnserver -c CONFIG ARGS...` on `ip`, started and answering STUN; stop() ends it."""

    def __init__(self, config: Path | str, *args: str, ip: str = "127.0.0.1"):
        if not Path(TURNSERVER).exists():
            pytest.fail(
                f"{TURNSERVER} is missing: install Debian's coturn (`make system-packages`).", pytrace=False
            )
        self._clients: list[TurnClient] = []
        config = Path(config).resolve()
        if not config.is_file():
            # coturn would start without it, on its defaults, and only log a warning.
            pytest.fail(f"No coturn config file {config}", pytrace=False)
        self.ip = ip
        self.port = free_port_pair(ip)
        self.tls_port = free_port_pair(ip, avoid=(self.port, self.port + 1))
        self.address = (ip, self.port)
        self._dir = tempfile.TemporaryDirectory(prefix="coturn-")
        tmp = Path(self._dir.name)
        self.log_path = tmp / "turnserver.log"
        self.command = [
            TURNSERVER,
            "-c",
            str(config),
            *args,
            "--listening-ip",
            ip,
            "--listening-port",
            str(self.port),
            "--tls-listening-port",
            str(self.tls_port),
            "--log-file",
            "stdout",
            "--no-cli",
            "--pidfile",
            str(tmp / "turnserver.pid"),
            # Its own empty SQLite user database, instead of Debian's /var/lib/turn/turndb
            # (which could hold shared secrets of its own).
            "--db",
            str(tmp / "turndb"),
        ]
        self._log = self.log_path.open("w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            self.command, cwd=tmp, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def client(self, username: str | None = None, password: str | None = None) -> TurnClient:
        """A TurnClient for this server, closed by stop(), not before.

        Its UDP port stays taken until then: coturn remembers a client address's
        allocation for a while after it ends, and a later client that the
        system gave the same port would be refused with 437 (allocation mismatch).
        """
        client = TurnClient(self.address, username, password)
        self._clients.append(client)
        return client

    def output(self) -> str:
        """Everything coturn has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        """Fail the test, with coturn's log, if it has exited."""
        if self.proc.poll() is not None:
            pytest.fail(
                f"turnserver exited with code {self.proc.returncode}.\n"
                f"Command: {' '.join(self.command)}\nIts log:\n{self.output()}",
                pytrace=False,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        with TurnClient(self.address, timeout=0.1, retries=1) as client:
            while not self._answers(client):
                self.check_alive()
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"turnserver did not answer a STUN Binding on {self.ip}:{self.port} "
                        f"within {START_TIMEOUT} s.\nCommand: {' '.join(self.command)}\n"
                        f"Its log:\n{self.output()}",
                        pytrace=False,
                    )
                time.sleep(0.05)
        if "Cannot find config file" in self.output():
            pytest.fail(f"turnserver did not read its config file. Its log:\n{self.output()}", pytrace=False)

    @staticmethod
    def _answers(client: TurnClient) -> bool:
        try:
            return client.binding().ok
        except (TimeoutError, ConnectionRefusedError):
            return False

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        end_process(self.proc)
        self._log.close()
        self._dir.cleanup()
