"""Fixtures for the browser tests: the real server in a subprocess, and Chromium.

Each test module gets its own server (`python wsgi.py`, eventlet, on a free
port); a module sets SERVER_ENV to change its settings (short timers, say).
One Chromium serves the whole session, and every user of a test gets a
browser context of their own, as two people on two machines would, so each
has its own cookies and sessionStorage.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    # A synthetic camera (a moving test pattern) and microphone (a beep),
    # granted without asking.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Settings of every test server; a module's SERVER_ENV goes on top. The
# timers are the production ones unless a module needs them short, so that
# no call ends on its own in the middle of a test.
BASE_ENV = {
    "APP_ENV": "development",
    "SECRET_KEY": "browser-test-secret",
    "HOST": "127.0.0.1",
    "RING_TIMEOUT": "30",
    "GRACE_PERIOD": "30",
    "PYTHONUNBUFFERED": "1",
}
START_TIMEOUT = 20.0
# Playwright's 5 s default is short for a 2-core machine running two
# Chromium renderers with video; nothing below waits this long when it works.
expect.set_options(timeout=10_000)
TIMEOUT_MS = 10_000

CONSOLE = pytest.StashKey[list[str]]()
SERVER = pytest.StashKey["Server"]()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python wsgi.py` on a free port; its output goes to a temporary file."""

    def __init__(self, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **BASE_ENV, "PORT": str(self.port), **settings}
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "wsgi.py"], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
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

    def wait_ready(self) -> None:
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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def server(request):
    """The real server, one per test module, with the module's SERVER_ENV."""
    live = Server(**getattr(request.module, "SERVER_ENV", {}))
    try:
        live.wait_ready()
        yield live
        # Died during the module: say so, rather than let tests time out quietly.
        live.check_alive()
    finally:
        live.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright. Missing it is a failure, not a skip."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing, and the browser tests need it: install Debian's chromium "
            "(`make system-packages`, or `apt-get install chromium`). Playwright's own browsers "
            "cannot be downloaded here.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(request, browser: Browser, server: Server):
    """Return open_page(path="/", **context_options) -> a Page in a new browser context.

    Each page is one person on their own machine. The contexts are closed at
    teardown; errors thrown by the page's scripts fail the test.
    """
    contexts = []
    page_errors: list[str] = []
    console = request.node.stash.setdefault(CONSOLE, [])
    request.node.stash[SERVER] = server

    def _open(path: str = "/", **context_options) -> Page:
        server.check_alive()
        context = browser.new_context(**context_options)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        tag = f"page {len(contexts)}"
        page.on("console", lambda msg: console.append(f"{tag} console.{msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: page_errors.append(f"{tag}: {err}"))
        page.goto(server.url + path)
        return page

    yield _open
    for context in contexts:
        context.close()
    server.check_alive()
    assert not page_errors, "The page threw:\n" + "\n".join(page_errors)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, show what the pages logged and what the server said."""
    report = yield
    if report.failed:
        if lines := item.stash.get(CONSOLE, None):
            report.sections.append(("browser console", "\n".join(lines)))
        live = item.stash.get(SERVER, None)
        # A failure of check_alive() already carries the output.
        if live and not live._log.closed and "The server exited" not in str(report.longrepr):
            report.sections.append(("server output", live.output()))
    return report
