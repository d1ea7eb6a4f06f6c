"""Fixtures every kind of test shares: a test certificate, and the production stack.

The tests are arranged by kind: tests/unit (functions and classes), tests/app
(the app in this process, through Flask's and Flask-SocketIO's test clients),
tests/live (real servers in subprocesses), tests/browser (Chromium). What they
share that is not a fixture is in tests/support; no test module imports
another, nor a conftest.
"""

import shutil
import subprocess

import pytest

# pytest rewrites the asserts of test modules and conftests to say what failed; tests/support's
# helpers (join's status check, say) get the same, as when they lived in test modules.
pytest.register_assert_rewrite("tests.support")

from tests.support import nginx  # noqa: E402  (after the line above, so that it is rewritten)
from tests.support.postgres_server import PostgresServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

# gunicorn's two worker classes, as gunicorn.conf.py runs them (tests/support/servers.py's COMMANDS).
GUNICORN_WORKERS = ["gunicorn", "gunicorn-gevent"]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A throwaway self-signed certificate and key for localhost, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make a test certificate for coturn's TLS listener", pytrace=False)
    folder = tmp_path_factory.mktemp("coturn-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module", params=GUNICORN_WORKERS)
def production_stack(request, tls_files):
    """The production shape, one per test module and worker class: nginx (TLS) -> gunicorn -> the app.

    Yields the running nginx (tests/support/nginx.py's Nginx: https_port,
    http_port, url, access_log(), test_config()) in front of the app with
    APP_ENV=production under gunicorn, with its eventlet worker, then its
    gevent one. The certificate is tls_files'. A module that needs one worker
    class only says so with
    `@pytest.mark.parametrize("production_stack", ["gunicorn"], indirect=True)`.
    """
    cert, key = tls_files
    with nginx.production_stack(cert, key, server=request.param, APP_ENV="production") as proxy:
        yield proxy


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL for the whole run (tests/support/postgres_server.py); tests reset its schema."""
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_server():
    """One real redis-server for the whole run (tests/support/redis_server.py); tests flush what they use.

    A test that stops or kills Redis starts a RedisServer of its own instead.
    """
    server = RedisServer()
    yield server
    server.close()
