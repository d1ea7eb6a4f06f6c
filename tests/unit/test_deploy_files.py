"""The systemd unit and its environment file, as docs/deploy.md installs them, and the certbot hook.

The unit's command, run with its environment file, is tests/live/test_systemd_unit_serves.py.
"""

import getpass
import grp
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

UNIT = ROOT / "deploy" / "videocall.service"
ENV_FILE = ROOT / "deploy" / "videocall.env"
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


def test_systemd_accepts_the_unit(tmp_path):
    """`systemd-analyze verify` on the unit, its paths pointed at this checkout."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: install Debian's systemd (`make system-packages`)")
    text = UNIT.read_text()
    user = getpass.getuser()
    text = text.replace("/srv/videocall/.venv/bin/gunicorn", str(Path(sys.executable).parent / "gunicorn"))
    text = text.replace("/srv/videocall", str(ROOT)).replace("/etc/videocall/env", str(ENV_FILE))
    text = text.replace("User=videocall", f"User={user}").replace("Group=videocall", f"Group={user}")
    rendered = tmp_path / "videocall.service"
    rendered.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(rendered)], capture_output=True, text=True)
    problems = [line for line in result.stderr.splitlines() if "videocall.service" in line]
    # As root, systemd warns that User=root is "not safe"; that is this machine, not the unit.
    problems = [line for line in problems if "Special user root configured" not in line]
    assert result.returncode == 0 and not problems, result.stderr


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
        named = set(re.findall(r"(?<![/\w])((?:deploy|scripts|docs)/[\w.-]+)", doc.read_text()))
        assert named, doc
        missing = sorted(path for path in named if not (ROOT / path).exists())
        assert not missing, f"{doc.name} names files that do not exist: {missing}"
