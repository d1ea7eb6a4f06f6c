"""What systemd would run from deploy/videocall.service: gunicorn with deploy/videocall.env, serving.

The unit and the environment file read as files are tests/unit/test_deploy_files.py.
"""

import configparser
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from scripts.stack import free_port
from tests.support.paths import ROOT

UNIT = ROOT / "deploy" / "videocall.service"
ENV_FILE = ROOT / "deploy" / "videocall.env"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return parser


def env_file(text: str) -> dict[str, str]:
    """NAME=value lines as systemd's EnvironmentFile reads them (comments and blanks skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def test_the_units_command_with_the_environment_file_serves_and_stops_on_sigterm():
    """What systemd would run: ExecStart in WorkingDirectory with EnvironmentFile's settings."""
    service = unit()["Service"]
    command = service["ExecStart"].split()
    assert command[0] == "/srv/videocall/.venv/bin/gunicorn"
    assert service["WorkingDirectory"] == "/srv/videocall"
    settings = env_file(ENV_FILE.read_text())
    assert settings["APP_ENV"] == "production"
    assert settings["PROXY_HOPS"] == "1"
    # The blanks the administrator fills in.
    assert settings["SECRET_KEY"] == "" and settings["TURN_SECRET"] == ""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        **settings,
        "SECRET_KEY": "filled-in-secret",
        "TURN_SECRET": "filled-in-turn-secret",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen(
        [gunicorn, *command[1:]], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                # As nginx passes it: the host of PUBLIC_URL, the only one served.
                host = urllib.parse.urlsplit(settings["PUBLIC_URL"]).hostname
                request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host})
                with urllib.request.urlopen(request, timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.2)
        # systemd's stop: SIGTERM to the main process (KillMode=mixed).
        proc.send_signal(signal.SIGTERM)
        timeout = float(service["TimeoutStopSec"])
        assert proc.wait(timeout=timeout) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
