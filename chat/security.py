"""Response headers that keep pages safe in a browser, and the proxy in front.

The Content-Security-Policy allows scripts, styles and connections from the
app's own origin only: no inline script, no inline event handler, no inline
style. Camera and microphone are allowed to this origin and no other.
"""

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


def init_app(app: Flask) -> None:
    """Add the headers to every response, and trust PROXY_HOPS proxies in front."""
    app.after_request(_add_headers)
    hops = app.config["PROXY_HOPS"]
    if hops:
        # Outside Flask-SocketIO's middleware, so that Engine.IO's origin check
        # sees the scheme and host the browser used, not the proxy's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
