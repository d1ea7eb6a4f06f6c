"""Response headers that keep pages safe in a browser, the proxy in front, and the hosts served.

The Content-Security-Policy allows scripts, styles and connections from the
app's own origin only: no inline script, no inline event handler, no inline
style. Camera and microphone are allowed to this origin and no other.
"""

from urllib.parse import urlsplit

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # 'self' covers ws: and wss: to the same host (CSP level 3).
        "connect-src 'self'",
        "media-src 'self' blob: mediastream:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()",
    "X-Frame-Options": "DENY",
}


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def trusted_hosts(public_url: str | None, extra: list[str]) -> list[str] | None:
    """The hosts whose requests are served: PUBLIC_URL's and TRUSTED_HOSTS; None for any."""
    hosts = ([urlsplit(public_url).hostname] if public_url else []) + extra
    return [host for host in hosts if host] or None


def check_public_url(settings: dict) -> None:
    """Refuse production without PUBLIC_URL: invite links would follow whatever Host a request names."""
    url = settings["PUBLIC_URL"]
    parts = urlsplit(url) if url else None
    if parts and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise RuntimeError(
            f"PUBLIC_URL must be the app's address, such as https://talk.example.org, not {url!r}."
        )
    if settings["APP_ENV"] == "production" and not url:
        raise RuntimeError(
            "PUBLIC_URL is not set. Set it to the address people use, such as https://talk.example.org: "
            "invite links are built from it, and requests for any other host are refused."
        )


def init_app(app: Flask) -> None:
    """Add the headers to every response, trust PROXY_HOPS proxies in front, and serve trusted hosts only.

    Flask answers a request whose Host (or X-Forwarded-Host, through a trusted
    proxy) is not one of TRUSTED_HOSTS with 400.
    """
    check_public_url(app.config)
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config["PUBLIC_URL"], app.config["TRUSTED_HOSTS"])
    app.after_request(_add_headers)
    hops = app.config["PROXY_HOPS"]
    if hops:
        # Outside Flask-SocketIO's middleware, so that Engine.IO's origin check
        # sees the scheme and host the browser used, not the proxy's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
