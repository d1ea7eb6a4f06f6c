"""Security headers, cookie flags, and trusting the proxy in front only when told."""

import re

import pytest

from chat import create_app
from tests.support.app_clients import join


@pytest.mark.parametrize(
    "path", ["/", "/call/alice", "/presence/alice", "/no-such-page", "/static/css/app.css"]
)
def test_every_response_carries_the_security_headers(client, path):
    with client.get(path) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=(self)" in headers["Permissions-Policy"]
    assert "microphone=(self)" in headers["Permissions-Policy"]


def test_pages_have_no_inline_script_handler_or_style(client):
    join(client, "alice")
    for path in ("/", "/call/bob"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", page), "an inline event handler"
        assert not re.search(r"\sstyle\s*=", page), "an inline style"
    anonymous = create_app({"APP_ENV": "testing"}).test_client()
    page = anonymous.get("/call/alice").get_data(as_text=True)
    assert not re.search(r"\sstyle\s*=|\son[a-z]+\s*=", page)


def test_production_cookies_are_secure_httponly_and_lax():
    app = create_app(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "production-test-secret",
            "PUBLIC_URL": "https://talk.example.org",
            "ASYNC_MODE": "threading",
        }
    )
    client = app.test_client()
    response = client.get("/", base_url="https://talk.example.org")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_forwarded_headers_are_trusted_only_from_the_configured_proxy():
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "talk.example.org"}
    direct = create_app({"APP_ENV": "testing"}).test_client()
    join(direct, "alice")
    page = direct.get("/", headers=forwarded).get_data(as_text=True)
    assert 'value="http://localhost/call/alice"' in page  # a client cannot spoof the link

    proxied = create_app({"APP_ENV": "testing", "PROXY_HOPS": 1}).test_client()
    join(proxied, "alice")
    page = proxied.get("/", headers=forwarded).get_data(as_text=True)
    assert 'value="https://talk.example.org/call/alice"' in page


def test_production_refuses_to_start_without_a_public_url():
    with pytest.raises(RuntimeError, match="PUBLIC_URL is not set"):
        create_app(
            {"APP_ENV": "production", "SECRET_KEY": "s", "PUBLIC_URL": None, "ASYNC_MODE": "threading"}
        )
    with pytest.raises(RuntimeError, match="PUBLIC_URL must be"):
        create_app({"APP_ENV": "testing", "PUBLIC_URL": "talk.example.org"})


# Testing mode raises a bad request's error in the test instead of answering 400, unless told not to.
SERVING = {"APP_ENV": "testing", "PUBLIC_URL": "https://talk.example.org", "TRAP_BAD_REQUEST_ERRORS": False}


def test_a_forged_host_gets_400_and_never_makes_the_invite_link():
    app = create_app({**SERVING, "TRUSTED_HOSTS": ["localhost"]})  # the test client's
    client = app.test_client()
    join(client, "alice")
    assert 'value="https://talk.example.org/call/alice"' in client.get("/").get_data(as_text=True)
    for forged in ("evil.example", "talk.example.org.evil.example", "evil.example:443"):
        response = client.get("/", headers={"Host": forged})
        assert response.status_code == 400, forged
        assert "evil.example" not in response.get_data(as_text=True)
    # Nor through a trusted proxy's X-Forwarded-Host.
    proxied = create_app({**SERVING, "PROXY_HOPS": 1})
    response = proxied.test_client().get(
        "/", headers={"Host": "talk.example.org", "X-Forwarded-Host": "evil.example"}
    )
    assert response.status_code == 400


def test_trusted_hosts_add_to_the_public_urls():
    app = create_app({**SERVING, "TRUSTED_HOSTS": ["10.0.0.5"]})
    client = app.test_client()
    assert client.get("/", headers={"Host": "10.0.0.5:5000"}).status_code == 200
    assert client.get("/", headers={"Host": "talk.example.org"}).status_code == 200
    assert client.get("/", headers={"Host": "10.0.0.6"}).status_code == 400
