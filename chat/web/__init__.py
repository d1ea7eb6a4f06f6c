"""The web side: pages, joining and leaving, ICE servers, login, CSRF, security headers.

- pages.py: GET /, /call/<name> (invite links), /presence/<name>
- join.py: POST /join (a name is registered or used), POST /leave, POST /give-up
- devices.py: device links (POST /devices/link, GET /device/<token>), removing a device
- ice_servers.py: GET /ice-servers
- login.py: the logged-in user; csrf.py: form tokens; headers.py: headers, proxy, hosts
"""

from flask import Flask

from chat.web import devices, headers, ice_servers, join, pages
from chat.web.csrf import csrf_token
from chat.web.login import login_manager


def init_app(app: Flask) -> None:
    """Give `app` its login, security headers and pages."""
    login_manager.init_app(app)
    headers.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf_token
    for blueprint in (pages.bp, join.bp, devices.bp, ice_servers.bp):
        app.register_blueprint(blueprint)
