"""A real nginx in front of a live app, with deploy/nginx.conf rendered for loopback.

Only the addresses, ports, certificate, static folder and upstream are
swapped; every proxy setting is the shipped file's. nginx runs in the
foreground with its pid, logs and temporary files in a folder of its own.
"""

import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from scripts.stack import NGINX, answers, end_process, free_port, nginx_config, render_site
from tests.support.servers import LiveServer


class Nginx:
    """nginx serving the rendered site; stop() ends it."""

    def __init__(
        self,
        upstream_port: int,
        cert: Path,
        key: Path,
        read_timeout: int | None = None,
        https_port: int | None = None,
    ):
        if not Path(NGINX).exists():
            pytest.fail(
                f"{NGINX} is missing: install Debian's nginx (`make system-packages`).", pytrace=False
            )
        self._dir = tempfile.TemporaryDirectory(prefix="nginx-")
        tmp = Path(self._dir.name)
        self.http_port, self.https_port = free_port(), https_port or free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        site = tmp / "site.conf"
        site.write_text(render_site(upstream_port, self.http_port, self.https_port, cert, key, read_timeout))
        self.config = tmp / "nginx.conf"
        self.config.write_text(nginx_config(tmp, site))
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def test_config(self) -> subprocess.CompletedProcess:
        """Run `nginx -t` on the rendered config."""
        return subprocess.run(
            [NGINX, "-t", "-p", self._dir.name, "-c", str(self.config)], capture_output=True, text=True
        )

    def access_log(self) -> str:
        path = Path(self._dir.name) / "nginx-access.log"
        return path.read_text() if path.exists() else ""

    def check_alive(self) -> None:
        """Fail the test, with nginx's log, if nginx has exited."""
        if self.proc.poll() is not None:
            pytest.fail(f"nginx exited with {self.proc.returncode}:\n{self.log()}", pytrace=False)

    def output(self) -> str:
        return self.log()

    def log(self) -> str:
        path = Path(self._dir.name) / "nginx-error.log"
        return path.read_text() if path.exists() else ""

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited: {self.proc.stdout.read()}\n{self.log()}", pytrace=False)
            if answers(self.url + "/static/favicon.svg"):  # any status: the tests judge what
                return
            time.sleep(0.1)
        pytest.fail(f"nginx did not answer on {self.url}:\n{self.log()}", pytrace=False)

    def stop(self) -> None:
        end_process(self.proc)
        self.proc.stdout.close()
        self._dir.cleanup()


@contextmanager
def production_stack(
    cert: Path, key: Path, server: str = "gunicorn", read_timeout: int | None = None, **settings
):
    """Yield nginx in front of the app under gunicorn (PROXY_HOPS=1); stop both afterwards."""
    https_port = free_port()
    # Production needs PUBLIC_URL: the name the test certificate has; the proxy's own address too.
    settings.setdefault("PUBLIC_URL", f"https://localhost:{https_port}")
    settings.setdefault("TRUSTED_HOSTS", "127.0.0.1")
    app = LiveServer(server=server, PROXY_HOPS="1", **settings)
    try:
        proxy = Nginx(app.port, cert, key, read_timeout=read_timeout, https_port=https_port)
        try:
            yield proxy
        finally:
            proxy.stop()
    finally:
        app.stop()
