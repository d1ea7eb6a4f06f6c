"""After create_app(), the libraries run their own code: no function or class of theirs is the app's.

Each mode runs in a process of its own, set up as gunicorn's worker sets it
up (the standard library patched, the worker module imported), and then
every module of python-engineio, python-socketio, eventlet, gevent,
simple-websocket and gunicorn that is loaded is searched, classes and their
nested classes included, for an attribute whose code is in chat/. Only the
backports of chat/serving/backports.py (docs/architecture.md) may be found, and in
their mode only.
"""

import json
import subprocess
import sys

import pytest

from tests.support.paths import ROOT

SCRIPT = """
import inspect, json, sys, types
mode = sys.argv[1]
if mode == "eventlet":
    import eventlet
    eventlet.monkey_patch()
    import gunicorn.workers.geventlet  # noqa: F401
else:
    from gevent import monkey
    monkey.patch_all()
    import gunicorn.workers.ggevent  # noqa: F401
import engineio.async_drivers.{mode}  # noqa: F401  (as Engine.IO loads it for the mode)
from chat import create_app
app = create_app({{"APP_ENV": "testing", "ASYNC_MODE": None}})
from chat.extensions import socketio

LIBRARIES = ("engineio", "socketio", "eventlet", "gevent", "simple_websocket", "gunicorn")
APP = {app_dir!r}


def own(value):
    for candidate in (value, getattr(value, "__func__", None), getattr(value, "fget", None)):
        code = getattr(candidate, "__code__", None)
        if isinstance(code, types.CodeType) and code.co_filename.startswith(APP):
            return True
    module = getattr(value, "__module__", None)
    return isinstance(value, type) and isinstance(module, str) and module.split(".")[0] == "chat"


found, seen = [], set()


def where(owner):
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    return f"{{owner.__module__}}.{{owner.__qualname__}}"


def search(owner):
    if id(owner) in seen:
        return
    seen.add(id(owner))
    for name, value in list(vars(owner).items()):
        if own(value):
            found.append(f"{{where(owner)}}.{{name}}")
        elif isinstance(value, type) and str(getattr(value, "__module__", "")).split(".")[0] in LIBRARIES:
            search(value)


for module_name, module in list(sys.modules.items()):
    if module_name.split(".")[0] in LIBRARIES and isinstance(module, types.ModuleType):
        search(module)
print(json.dumps({{"mode": socketio.async_mode, "found": sorted(set(found))}}))
"""

BACKPORTS = {
    "eventlet": [
        "eventlet.websocket.RFC6455WebSocket.Message.push",
        "eventlet.websocket.RFC6455WebSocket._apply_mask",
    ],
    "gevent": ["engineio.async_drivers._websocket_wsgi.SimpleWebSocketWSGI.__init__"],
}


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_only_the_backports_are_the_apps_own(mode):
    script = SCRIPT.format(mode=mode, app_dir=str(ROOT / "chat"))
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["mode"] == mode  # the async mode followed the patching, as under gunicorn
    assert report["found"] == sorted(BACKPORTS[mode])
