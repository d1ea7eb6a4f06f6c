"""The systemd units and their environment file, as docs/deploy.md installs them, and the certbot hook.

The one-process unit (videocall.service) and the template for several
(videocall@.service) are checked by systemd-analyze and against each other;
the environment file, deploy/redis.conf and deploy/nginx.conf against each
other and the docs. The units' commands, run with the environment file, are
tests/live/test_systemd_unit_serves.py; Redis with its config is
tests/live/test_deploy_redis.py.
"""

import configparser
import getpass
import grp
import os
import re
import shutil
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.support.paths import ROOT

UNIT = ROOT / "deploy" / "videocall.service"
TEMPLATE = ROOT / "deploy" / "videocall@.service"
ENV_FILE = ROOT / "deploy" / "videocall.env"
REDIS_CONF = ROOT / "deploy" / "redis.conf"
NGINX_SITE = ROOT / "deploy" / "nginx.conf"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
# Settings are read as os.environ.get("NAME"...) or _env_int/_env_float/_env_list("NAME"...).
SETTING = re.compile(r"""(?:os\.environ\.get|_env_\w+)\(\s*["'](\w+)["']""")


def settings_read_by(*paths: Path) -> set[str]:
    return {name for path in paths for name in SETTING.findall(path.read_text())}


def test_the_environment_file_names_only_settings_that_exist():
    known = settings_read_by(ROOT / "config.py", ROOT / "gunicorn.conf.py", ROOT / "chat" / "__init__.py")
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", ENV_FILE.read_text(), re.MULTILINE))
    assert named, "no settings found in deploy/videocall.env"
    assert named <= known, f"not settings of the app: {named - known}"


def test_the_readme_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    known = settings_read_by(ROOT / "config.py", ROOT / "gunicorn.conf.py", ROOT / "chat" / "__init__.py")
    missing = {name for name in known if f"`{name}`" not in readme}
    assert not missing, f"settings missing from README.md: {missing}"


def pointed_at_this_checkout(unit: Path) -> str:
    """The unit's text with its paths, user and group those of this checkout and this user."""
    text = unit.read_text()
    user = getpass.getuser()
    text = text.replace("/srv/videocall/.venv/bin/gunicorn", str(Path(sys.executable).parent / "gunicorn"))
    text = text.replace("/srv/videocall", str(ROOT)).replace("/etc/videocall/env", str(ENV_FILE))
    return text.replace("User=videocall", f"User={user}").replace("Group=videocall", f"Group={user}")


def systemd_verify(path: Path, name: str) -> None:
    """Fail with systemd's words unless `systemd-analyze verify` accepts `path` without a remark on `name`."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: install Debian's systemd (`make system-packages`)")
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
    problems = [line for line in result.stderr.splitlines() if name in line]
    # As root, systemd warns that User=root is "not safe"; that is this machine, not the unit.
    problems = [line for line in problems if "Special user root configured" not in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_systemd_accepts_the_unit(tmp_path):
    """`systemd-analyze verify` on the unit, its paths pointed at this checkout."""
    rendered = tmp_path / "videocall.service"
    rendered.write_text(pointed_at_this_checkout(UNIT))
    systemd_verify(rendered, "videocall.service")


@pytest.mark.parametrize("instance", ["8001", "8002"])
def test_systemd_accepts_the_template_as_each_instance(tmp_path, instance):
    """`systemd-analyze verify videocall@8001.service`: systemd loads the template with %i = 8001."""
    (tmp_path / "videocall@.service").write_text(pointed_at_this_checkout(TEMPLATE))
    systemd_verify(tmp_path / f"videocall@{instance}.service", "videocall@")


def unit_file(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(path.read_text())
    return parser


def test_the_template_runs_like_the_one_process_unit_but_on_its_port_after_redis():
    single, template = unit_file(UNIT), unit_file(TEMPLATE)
    service = dict(template["Service"])
    # The instance name is the port, and GUNICORN_BIND (which gunicorn.conf.py prefers) cannot override it.
    assert service.pop("Environment") == "PORT=%i INSTANCE_PATH=/var/lib/videocall"
    assert service.pop("UnsetEnvironment") == "GUNICORN_BIND"
    # Everything else, the hardening and the state directory first, as the one-process unit has it.
    one = dict(single["Service"])
    assert one.pop("Environment") == "INSTANCE_PATH=/var/lib/videocall"
    assert service == one
    assert service["StateDirectory"] == "videocall" and service["ProtectSystem"] == "strict"
    assert dict(template["Install"]) == dict(single["Install"])
    unit = template["Unit"]
    assert "redis-server.service" in unit["After"].split()
    assert "redis-server.service" in unit["Wants"].split()
    # The in-memory single process and these would keep separate states side by side.
    assert unit["Conflicts"].split() == ["videocall.service"]
    assert "%i" in unit["Description"]


def settings_named_in(env_file: Path) -> list[str]:
    """The settings the environment file sets, or shows commented out (#NAME=value)."""
    return re.findall(r"^#?([A-Z][A-Z0-9_]+)=", env_file.read_text(), re.MULTILINE)


def test_the_environment_file_leaves_each_instance_its_own_port():
    """EnvironmentFile= overrides Environment=PORT=%i: a PORT there would put every instance on one port."""
    named = settings_named_in(ENV_FILE)
    assert "PORT" not in named and "GUNICORN_BIND" not in named


def test_the_environment_files_redis_url_is_the_redis_configs_user_and_address():
    example = re.search(r"^#?REDIS_URL=(\S+)$", ENV_FILE.read_text(), re.MULTILINE).group(1)
    url = urllib.parse.urlsplit(example)
    conf = REDIS_CONF.read_text()
    enabled = re.findall(r"^user (\S+) on ", conf, re.MULTILINE)
    assert re.search(r"^user default off ", conf, re.MULTILINE)
    assert (url.scheme, url.username, url.password, url.path) == ("redis", "videocall", "PASSWORD", "/0")
    assert enabled == [url.username]
    bind = re.search(r"^bind (.+)$", conf, re.MULTILINE).group(1).split()
    assert bind == ["127.0.0.1"] and url.hostname in bind
    assert f"\nport {url.port}\n" in conf


def test_the_nginx_upstream_lists_the_instances_the_docs_enable():
    site = NGINX_SITE.read_text()
    upstream = re.search(r"^upstream videocall_app \{\n(.*?)^\}", site, re.MULTILINE | re.DOTALL).group(1)
    ports = re.findall(r"^\s*server 127\.0\.0\.1:(\d+) ", upstream, re.MULTILINE)
    enable = re.search(r"systemctl enable --now ((?:videocall@\d+ ?)+)", DEPLOY_DOC.read_text()).group(1)
    assert ports == ["8001", "8002"]
    assert enable.split() == [f"videocall@{port}" for port in ports]


def test_the_certbot_hook_gives_coturn_a_readable_copy_and_reloads_both(tmp_path):
    lineage = tmp_path / "live" / "talk.example.org"
    lineage.mkdir(parents=True)
    for name in ("fullchain.pem", "privkey.pem", "cert.pem"):
        (lineage / name).write_text(f"{name} contents\n")
    # systemd does not run here: a stand-in systemctl records what it was asked.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl-calls"
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    (bin_dir / "systemctl").chmod(0o755)
    group = grp.getgrgid(os.getgid()).gr_name
    certs = tmp_path / "coturn-certs"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "RENEWED_LINEAGE": str(lineage),
        "COTURN_CERTS": str(certs),
        "COTURN_GROUP": group,
    }
    result = subprocess.run(
        [ROOT / "deploy" / "certbot-deploy-hook"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in certs.iterdir()) == ["fullchain.pem", "privkey.pem"]
    assert stat.S_IMODE(certs.stat().st_mode) == 0o750
    for path in certs.iterdir():
        assert path.read_text() == (lineage / path.name).read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert path.stat().st_gid == os.getgid()
    assert calls.read_text().splitlines() == ["kill --signal=USR2 coturn.service", "reload nginx.service"]


def test_the_certbot_hook_refuses_to_run_without_a_certificate_folder():
    result = subprocess.run(
        [ROOT / "deploy" / "certbot-deploy-hook"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "RENEWED_LINEAGE" in result.stderr


def test_the_files_the_docs_name_exist():
    for doc in (ROOT / "README.md", ROOT / "docs" / "deploy.md"):
        named = set(re.findall(r"(?<![/\w])((?:deploy|scripts|docs)/[\w.@-]+)", doc.read_text()))
        assert named, doc
        missing = sorted(path for path in named if not (ROOT / path).exists())
        assert not missing, f"{doc.name} names files that do not exist: {missing}"
