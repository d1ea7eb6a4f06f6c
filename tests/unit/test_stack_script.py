"""scripts/stack.py's pieces on their own: the upstream and Redis rendered, the app's log followed.

`make stack` as a whole, with real servers, is tests/live/test_make_stack.py.
"""

import hashlib
import re
from pathlib import Path

import pytest

from scripts import stack
from scripts.stack import LogFollower, connections, redis_url, render_redis_config, render_site

CERT, KEY = Path("/tmp/cert.pem"), Path("/tmp/key.pem")


def upstream_of(site: str) -> list[str]:
    block = re.search(r"upstream videocall_app \{\n(.*?)\n\}", site, re.DOTALL).group(1)
    return [line.strip() for line in block.splitlines()]


def test_the_upstream_gets_one_server_line_per_process_with_the_shipped_parameters():
    shipped = upstream_of(stack.SHIPPED_SITE.read_text())
    parameters = {line.split(" ", 2)[2] for line in shipped if line.startswith("server ")}
    assert len(parameters) == 1, "the shipped server lines differ in their parameters"
    (parameter,) = parameters
    site = render_site([41001, 41002, 41003], 8080, 8443, CERT, KEY)
    servers = [line for line in upstream_of(site) if line.startswith("server ")]
    assert servers == [f"server 127.0.0.1:{port} {parameter}" for port in (41001, 41002, 41003)]
    # Everything else in the upstream (least_conn, zone) stays.
    assert [line for line in upstream_of(site) if not line.startswith("server ")] == [
        line for line in shipped if not line.startswith("server ")
    ]


def test_one_port_gives_an_upstream_of_one_server_as_the_tests_single_app_needs():
    site = render_site(41005, 8080, 8443, CERT, KEY)
    servers = [line for line in upstream_of(site) if line.startswith("server ")]
    assert len(servers) == 1 and servers[0].startswith("server 127.0.0.1:41005 ")


def test_an_upstream_needs_a_process():
    with pytest.raises(ValueError):
        render_site([], 8080, 8443, CERT, KEY)


def test_the_redis_config_gets_the_passwords_sha256_and_nothing_else_changes():
    rendered = render_redis_config("s3cret")
    digest = hashlib.sha256(b"s3cret").hexdigest()
    assert f"user videocall on #{digest} " in rendered
    assert "s3cret" not in rendered
    shipped = stack.SHIPPED_REDIS.read_text()
    assert rendered.replace("#" + digest, stack.REDIS_PASSWORD_PLACEHOLDER) == shipped


def test_redis_url_has_the_form_the_environment_file_shows():
    assert redis_url(6379, "PASSWORD") == "redis://videocall:PASSWORD@127.0.0.1:6379/0"


def test_the_log_follower_returns_each_whole_line_once(tmp_path):
    log = tmp_path / "gunicorn-1.log"
    follower = LogFollower(log)
    assert follower.new_lines() == []  # not written yet
    log.write_text("one\ntw")
    assert follower.new_lines() == ["one"]
    with log.open("a") as out:
        out.write("o\nthree\n")
    assert follower.new_lines() == ["two", "three"]
    assert follower.new_lines() == []


def test_connections_are_the_apps_connected_lines_labelled_with_their_process():
    lines = [
        '127.0.0.1 - - [03/Dec/2026:11:47:04 +0000] "GET / HTTP/1.1" 200 1292 "-" "curl"',
        "[2026-12-03 11:47:05 +0000] [9697] [INFO] alice connected: socket MvAWqyh38D0xlCDfAAAB",
        "[2026-12-03 11:47:06 +0000] [9697] [INFO] bob is offline",
    ]
    assert connections("gunicorn-1 127.0.0.1:8001", lines) == [
        "[gunicorn-1 127.0.0.1:8001] alice connected: socket MvAWqyh38D0xlCDfAAAB"
    ]


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_stack_processes_must_be_a_positive_whole_number(monkeypatch, value):
    monkeypatch.setenv("STACK_PROCESSES", value)
    with pytest.raises(RuntimeError, match="STACK_PROCESSES"):
        stack.app_processes()


def test_stack_processes_defaults_to_two(monkeypatch):
    monkeypatch.delenv("STACK_PROCESSES", raising=False)
    assert stack.app_processes() == 2
