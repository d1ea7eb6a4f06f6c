"""A real nginx in front of a live app, with deploy/nginx.conf rendered for loopback.

Only the addresses, ports, certificate, static folder and upstream are
swapped; every proxy setting is the shipped file's. nginx runs in the
foreground with its pid, logs and temporary files in a folder of its own.
"""

import os
import re
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer, end_process, free_port

NGINX = "/usr/sbin/nginx"
SHIPPED = ROOT / "deploy" / "nginx.conf"


def render_site(
    upstream_port: int,
    http_port: int,
    https_port: int,
    cert: Path,
    key: Path,
    read_timeout: int | None = None,
) -> str:
    """Return deploy/nginx.conf fitted to loopback ports and the test certificate.

    `read_timeout` shortens /socket.io/'s proxy_read_timeout, so that a test
    can wait past it in seconds.
    """
    site = SHIPPED.read_text()
    replacements = [
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        (r"listen \[::\]:\d+[^;]*;\n", ""),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        (r"ssl_certificate /\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};"),
        (r"alias /srv/videocall/chat/static/;", f"alias {ROOT / 'chat' / 'static'}/;"),
    ]
    if read_timeout:
        replacements.append((r"proxy_read_timeout \d+s;", f"proxy_read_timeout {read_timeout}s;"))
    for pattern, value in replacements:
        site, count = re.subn(pattern, value, site)
        assert count, f"deploy/nginx.conf no longer has {pattern!r}"
    return site


class Nginx:
    """nginx serving the rendered site; stop() ends it."""

    def __init__(self, upstream_port: int, cert: Path, key: Path, read_timeout: int | None = None):
        if not Path(NGINX).exists():
            pytest.fail(
                f"{NGINX} is missing: install Debian's nginx (`make system-packages`).", pytrace=False
            )
        self._dir = tempfile.TemporaryDirectory(prefix="nginx-")
        tmp = Path(self._dir.name)
        self.http_port, self.https_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        site = tmp / "site.conf"
        site.write_text(render_site(upstream_port, self.http_port, self.https_port, cert, key, read_timeout))
        self.config = tmp / "nginx.conf"
        temp_paths = "".join(
            f"    {kind}_temp_path {tmp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root, nginx would run its workers as "nobody", who cannot read a
        # checkout in a private folder (mktemp -d is mode 0700).
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log info;\n"
            "events { worker_connections 1024; }\n"
            "http {\n    include /etc/nginx/mime.types;\n"
            f"    access_log {tmp}/access.log;\n{temp_paths}    include {site};\n}}\n"
        )
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
        path = Path(self._dir.name) / "access.log"
        return path.read_text() if path.exists() else ""

    def check_alive(self) -> None:
        """Fail the test, with nginx's log, if nginx has exited."""
        if self.proc.poll() is not None:
            pytest.fail(f"nginx exited with {self.proc.returncode}:\n{self.log()}", pytrace=False)

    def output(self) -> str:
        return self.log()

    def log(self) -> str:
        path = Path(self._dir.name) / "error.log"
        return path.read_text() if path.exists() else ""

    def _wait_ready(self, timeout: float = 10.0) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited: {self.proc.stdout.read()}\n{self.log()}", pytrace=False)
            try:
                with urllib.request.urlopen(self.url + "/static/favicon.svg", timeout=1, context=context):
                    return
            except urllib.error.HTTPError:
                return  # it answers; the tests judge what
            except OSError:
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
    app = LiveServer(server=server, PROXY_HOPS="1", **settings)
    try:
        proxy = Nginx(app.port, cert, key, read_timeout=read_timeout)
        try:
            yield proxy
        finally:
            proxy.stop()
    finally:
        app.stop()
