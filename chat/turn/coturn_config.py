"""`flask turn-config`: print a coturn config that matches the app's settings.

It is deploy/turnserver.conf with the realm and ports taken from TURN_URLS,
so the two cannot drift apart. The shared secret is added only when asked
(--with-secret), for a file that only root and coturn can read.
"""

import re
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "turnserver.conf"
_TURN_URL = re.compile(r"^(?P<scheme>turns?):(?P<host>\[[^\]]+\]|[^:?]+)(?::(?P<port>\d+))?")


def parse_turn_urls(urls: list[str]) -> dict:
    """Return the host, plain port and TLS port that the TURN URLs name."""
    found = {"host": None, "port": None, "tls_port": None}
    for url in urls:
        match = _TURN_URL.match(url)
        if not match:
            raise click.ClickException(
                f"Not a TURN URL: {url!r} (expected turn:host:port or turns:host:port)."
            )
        found["host"] = found["host"] or match["host"].strip("[]")
        if match["scheme"] == "turns":
            found["tls_port"] = found["tls_port"] or int(match["port"] or 5349)
        else:
            found["port"] = found["port"] or int(match["port"] or 3478)
    return found


def render(template: str, urls: list[str], secret: str | None) -> str:
    """Return `template` with realm and ports set for `urls`."""
    found = parse_turn_urls(urls)
    host = found["host"]
    values = {"realm": host}
    if found["port"]:
        values["listening-port"] = found["port"]
    if found["tls_port"]:
        values["tls-listening-port"] = found["tls_port"]
    lines = []
    for line in template.splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values[key]}" if "=" in line and key in values else line)
    if secret:
        lines += [
            "",
            "# The secret shared with the app (TURN_SECRET). Keep this file readable",
            "# by root and the turnserver user only (chmod 0640, chown root:turnserver).",
            f"static-auth-secret={secret}",
        ]
    return "\n".join(lines) + "\n"


@click.command("turn-config")
@click.option("--with-secret", is_flag=True, help="Add static-auth-secret (for a root-only file).")
@with_appcontext
def turn_config_command(with_secret: bool) -> None:
    """Print a coturn config (turnserver.conf) that matches TURN_URLS and TURN_SECRET."""
    settings = current_app.config
    if not settings["TURN_URLS"]:
        raise click.ClickException("TURN_URLS is not set: there is no TURN server to configure.")
    secret = settings["TURN_SECRET"] if with_secret else None
    click.echo(render(TEMPLATE.read_text(), settings["TURN_URLS"], secret), nl=False)


def init_app(app: Flask) -> None:
    app.cli.add_command(turn_config_command)
