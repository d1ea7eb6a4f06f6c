"""What systemd would run from deploy/videocall.service and videocall@.service, with deploy/videocall.env.

The one-process unit: gunicorn serves and stops on SIGTERM. The template: two
instances, their ports from their names, with REDIS_URL filled in for a
redis-server running deploy/redis.conf, serve as one service and stop on
SIGTERM. The units and the environment file read as files are
tests/unit/test_deploy_files.py.
"""

import configparser
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import requests

from scripts.stack import (
    REDIS,
    RedisConnection,
    free_port,
    redis_answers,
    redis_command,
    redis_url,
    render_redis_config,
)
from tests.support.paths import ROOT

UNIT = ROOT / "deploy" / "videocall.service"
TEMPLATE = ROOT / "deploy" / "videocall@.service"
ENV_FILE = ROOT / "deploy" / "videocall.env"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def unit(path: Path = UNIT) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read_string(path.read_text())
    return parser


def env_file(text: str) -> dict[str, str]:
    """NAME=value lines as systemd's EnvironmentFile reads them (comments and blanks skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def test_the_units_command_with_the_environment_file_serves_and_stops_on_sigterm(tmp_path):
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
        # StateDirectory=, which systemd would make: here a folder of the test's.
        "INSTANCE_PATH": str(tmp_path),
    }
    assert service["StateDirectory"] == "videocall"
    proc = subprocess.Popen(
        [GUNICORN, *command[1:]], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
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


def unit_environment(service: configparser.SectionProxy, instance: str, env_text: str) -> dict[str, str]:
    """The environment systemd gives an instance: Environment= (%i resolved), EnvironmentFile= over it,
    then UnsetEnvironment= taken out (systemd.exec(5)'s order)."""
    env = {}
    for assignment in service.get("Environment", "").split():
        name, value = assignment.split("=", 1)
        env[name] = value.replace("%i", instance)
    env.update(env_file(env_text))
    for name in service.get("UnsetEnvironment", "").split():
        env.pop(name, None)
    return env


@pytest.fixture
def shipped_redis(tmp_path):
    """redis-server with deploy/redis.conf (port, folder, password hash swapped): (port, password)."""
    if not Path(REDIS).exists():
        pytest.fail(f"{REDIS} is missing: scripts/ensure-packages.sh {REDIS}=redis-server", pytrace=False)
    port, password = free_port(), secrets.token_urlsafe(32)
    (tmp_path / "redis").mkdir()
    config = tmp_path / "redis.conf"
    config.write_text(render_redis_config(password))
    with (tmp_path / "redis.log").open("w") as log:
        proc = subprocess.Popen(redis_command(config, tmp_path, port), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not redis_answers(port, password):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "redis.log").read_text()
            time.sleep(0.05)
        yield port, password
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Browser:
    """One browser session, its requests as nginx forwards them (Host of PUBLIC_URL, https, its address).

    The session cookie is Secure, so it is carried by hand over the test's plain http.
    """

    def __init__(self, host: str):
        self.host, self.cookies = host, {}

    def request(self, method: str, port: int, path: str, **options) -> requests.Response:
        headers = {
            "Host": self.host,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "127.0.0.1",
            "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items()),
        }
        response = requests.request(
            method,
            f"http://127.0.0.1:{port}{path}",
            headers=headers,
            allow_redirects=False,
            timeout=5,
            **options,
        )
        self.cookies.update({cookie.name: cookie.value for cookie in response.cookies})
        return response

    def join(self, port: int, name: str) -> requests.Response:
        page = self.request("GET", port, "/").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return self.request("POST", port, "/join", data={"name": name, "csrf_token": token})


def test_the_templates_instances_with_the_environment_file_and_redis_serve_as_one_service(
    shipped_redis, tmp_path
):
    """Two instances, each on its port, one state: a name joined at one is taken at the other."""
    redis_port, password = shipped_redis
    service = unit(TEMPLATE)["Service"]
    command = service["ExecStart"].split()
    assert command[0] == "/srv/videocall/.venv/bin/gunicorn"
    # What the administrator does to deploy/videocall.env (docs/deploy.md): the secrets, and the
    # REDIS_URL line uncommented with Redis's password (and, here, the test Redis's port).
    text = ENV_FILE.read_text()
    example = re.search(r"^#REDIS_URL=(\S+)$", text, re.MULTILINE).group(1)
    assert example == redis_url(6379, "PASSWORD")
    filled_in = example.replace("PASSWORD", password).replace(":6379/", f":{redis_port}/")
    text += f"SECRET_KEY=filled-in-secret\nTURN_SECRET=filled-in-turn-secret\nREDIS_URL={filled_in}\n"
    host = urllib.parse.urlsplit(env_file(text)["PUBLIC_URL"]).hostname
    ports = [free_port(), free_port()]
    procs = []
    try:
        for port in ports:
            env = {"PATH": os.environ["PATH"], **unit_environment(service, str(port), text)}
            assert env["PORT"] == str(port) and "GUNICORN_BIND" not in env
            assert env["INSTANCE_PATH"] == "/var/lib/videocall" and service["StateDirectory"] == "videocall"
            env["INSTANCE_PATH"] = str(tmp_path)  # the state directory both instances share
            procs.append(
                subprocess.Popen(
                    [GUNICORN, *command[1:]],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, proc in zip(ports, procs, strict=True):
            wait_until_it_serves(proc, port, host)
        first, second = ports
        assert Browser(host).join(second, "unit-alice").status_code == 302
        presence = Browser(host).request("GET", first, "/presence/unit-alice")
        assert presence.json() == {"ok": True, "name": "unit-alice", "online": True}
        assert Browser(host).join(first, "unit-alice").status_code == 409  # taken, at the other process
        with RedisConnection(redis_port) as redis:
            redis.command("AUTH", "videocall", password)
            assert redis.command("DBSIZE") > 0
        # systemd's stop of each instance: SIGTERM to its main process (KillMode=mixed).
        timeout = float(service["TimeoutStopSec"])
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        assert [proc.wait(timeout=timeout) for proc in procs] == [0, 0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def wait_until_it_serves(proc: subprocess.Popen, port: int, host: str) -> None:
    """Wait for a 200 from / on 127.0.0.1:port, asked for `host` as nginx passes it."""
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host})
            with urllib.request.urlopen(request, timeout=2) as response:
                assert response.status == 200
                return
        except OSError:
            assert time.monotonic() < deadline, f"gunicorn on {port} did not answer"
            time.sleep(0.2)
