"""Fixtures for the browser tests: the real server in a subprocess, and Chromium.

Each test module gets its own server (`python wsgi.py`, eventlet, on a free
port); a module sets SERVER_ENV to change its settings (short timers, say),
or defines a `server` fixture of its own (test_stack.py: tests/conftest.py's
production_stack). The steps of a person on the page are in
tests/support/browser_steps.py.
One Chromium serves the whole session, and every user of a test gets a
browser context of their own, as two people on two machines would, so each
has its own cookies and sessionStorage.
"""

import os

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.browser_steps import join
from tests.support.coturn import TURN_SECRET, TURN_TEST_CONFIG, Coturn
from tests.support.servers import LiveServer

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
# Playwright's 5 s default is short for a 2-core machine running two
# Chromium renderers with video; nothing below waits this long when it works.
expect.set_options(timeout=10_000)
TIMEOUT_MS = 10_000

CONSOLE = pytest.StashKey[list[str]]()
SERVER = pytest.StashKey[LiveServer]()


@pytest.fixture(scope="module")
def server(request):
    """The real server, one per test module, with the module's SERVER_ENV."""
    live = LiveServer(**getattr(request.module, "SERVER_ENV", {}))
    try:
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
def open_page(request, browser: Browser, server: LiveServer):
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
    # The pages must work under the Content-Security-Policy, not around it.
    violations = [line for line in console if "Content Security Policy" in line]
    assert not violations, "CSP violations:\n" + "\n".join(violations)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, show what the pages logged and what the server said."""
    report = yield
    if report.failed:
        if lines := item.stash.get(CONSOLE, None):
            report.sections.append(("browser console", "\n".join(lines)))
        live = item.stash.get(SERVER, None)
        # A failure of check_alive() already carries the output.
        if live and "The server exited" not in str(report.longrepr):
            report.sections.append(("server output", live.output()))
    return report


@pytest.fixture
def joined(open_page):
    """Return joined(name) -> a Page of a new person who has joined as `name`."""

    def _joined(name: str, **context_options) -> Page:
        page = open_page("/", **context_options)
        join(page, name)
        return page

    return _joined


@pytest.fixture(scope="module")
def coturn(tmp_path_factory):
    """A coturn on loopback for a module's calls through the relay."""
    config = tmp_path_factory.mktemp("coturn") / "turnserver.conf"
    config.write_text(TURN_TEST_CONFIG)
    server = Coturn(config, "--static-auth-secret", TURN_SECRET)
    yield server
    server.stop()
