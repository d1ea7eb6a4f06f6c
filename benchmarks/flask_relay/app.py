"""A minimal Flask-SocketIO relay with the app's HTTP and event shapes, and nothing else.

    gunicorn -c gunicorn.conf.py -k eventlet|gevent -w 1 --worker-connections 16000 \
        benchmarks.flask_relay.app:app

The Python twin of benchmarks/baseline/server.js, for the same load generator
(docs/benchmarks.md): `GET /` (a page with `<input name="csrf_token">`),
`POST /join` (302 and the name in Flask's session cookie), then Socket.IO with
that cookie: `hello`; `call` -> `ring` -> `accept` -> `call_accepted`; `signal`
relayed to the peer's room, acknowledged; `hangup` -> `call_ended`. State is
dicts in this process (session id holding each name, open sockets per name,
calls), one room per user; no rate limits, no store, no checks beyond not
crashing. Flask-SocketIO's, python-socketio's and python-engineio's options
are their defaults (async handlers, polling and WebSocket, the default
packet class, ping 25 s / 20 s, 1 MB messages, same-origin CORS), except:

- async_mode "gevent" under gunicorn's gevent worker: left to itself,
  Engine.IO picks the first mode that imports, and eventlet (installed for
  the other worker) comes first; under the eventlet worker it stays unset.
- the client's permessage-deflate offer is dropped (NoCompression below), as
  the app does and socket.io's server does by default: eventlet and
  simple-websocket accept it, and the load generator, offering it as
  Chromium does, refuses a server that takes it.

SECRET_KEY comes from the environment (a random one without it).
"""

import os
import re
import secrets
import sys

from flask import Flask, redirect, request, session
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room

NAME = re.compile(r"[a-z0-9._-]{1,32}")
CANDIDATE_FIELDS = ("candidate", "sdpMid", "sdpMLineIndex", "usernameFragment")
PLAIN = {"Content-Type": "text/plain"}

# name -> the session id holding it; socket sid -> name; name -> open sockets;
# call id -> call; name -> its call id.
holders: dict[str, str] = {}
names: dict[str, str] = {}
online: dict[str, int] = {}
calls: dict[str, dict] = {}
call_of: dict[str, str] = {}


def worker_async_mode() -> str | None:
    """The gevent mode when gunicorn's gevent worker patched this process, else None (Engine.IO's choice)."""
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            return "gevent"
    return None


class NoCompression:
    """WSGI middleware: WebSockets without permessage-deflate, whatever the client offers."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


app = Flask(__name__)
app.secret_key = os.environ.get("SECRET_KEY") or secrets.token_hex(32)
socketio = SocketIO(app, async_mode=worker_async_mode())
app.wsgi_app = NoCompression(app.wsgi_app)  # outside Flask-SocketIO's Engine.IO middleware


def own_session() -> dict:
    if "sid" not in session:
        session["sid"] = secrets.token_urlsafe(18)
        session["csrf"] = secrets.token_urlsafe(24)
    return session


@app.get("/")
def page():
    s = own_session()
    return (
        "<!doctype html><html><head><title>Flask relay</title></head><body>"
        + (f"<p>Your ID: {s['name']}</p>" if s.get("name") else "")
        + '<form method="post" action="/join">'
        + f'<input type="hidden" name="csrf_token" value="{s["csrf"]}">'
        + '<input name="name" required maxlength="32"><button type="submit">Join</button>'
        + "</form></body></html>"
    )


@app.post("/join")
def join():
    s = own_session()
    if request.form.get("csrf_token") != s["csrf"]:
        return "bad token", 400, PLAIN
    name = request.form.get("name", "").strip().lower()
    if not NAME.fullmatch(name):
        return "invalid name", 400, PLAIN
    if holders.get(name, s["sid"]) != s["sid"]:
        return "name taken", 409, PLAIN
    holders[name] = s["sid"]
    s["name"] = name
    return redirect("/")


def room(name: str) -> str:
    return f"user:{name}"


def fail(error: str) -> dict:
    return {"ok": False, "error": error}


@socketio.on("connect")
def connect(auth=None):
    name = session.get("name")
    if not name or holders.get(name) != session.get("sid"):
        raise ConnectionRefusedError("unauthorized", fail("unauthorized"))
    names[request.sid] = name
    online[name] = online.get(name, 0) + 1
    join_room(room(name))
    current = calls.get(call_of.get(name))
    emit("hello", {"name": name, "call": view(current, name) if current else None})


@socketio.on("disconnect")
def disconnect(reason=None):
    name = names.pop(request.sid, None)
    if name is not None:
        online[name] -= 1
        if not online[name]:
            del online[name]


def handle(event: str):
    """Register fn(me, payload) -> ack for `event`; a payload that is not an object is refused."""

    def register(fn):
        def handler(payload=None, *_):
            me = names.get(request.sid)
            if me is None:
                return fail("unauthorized")
            return fn(me, payload) if isinstance(payload, dict) else fail("invalid_payload")

        socketio.on_event(event, handler)
        return fn

    return register


@handle("call")
def call(me: str, p: dict) -> dict:
    to = p.get("to")
    to = to.strip().lower() if isinstance(to, str) else ""
    if not NAME.fullmatch(to):
        return fail("invalid_name")
    if to == me:
        return fail("self_call")
    if to not in online:
        return fail("offline")
    if me in call_of:
        return fail("already_in_call")
    if to in call_of:
        return fail("busy")
    new = {"id": secrets.token_urlsafe(12), "caller": me, "callee": to, "state": "ringing"}
    calls[new["id"]] = new
    call_of[me] = call_of[to] = new["id"]
    emit("ring", {"call_id": new["id"], "from": me}, to=room(to))
    return {"ok": True, "call_id": new["id"], "peer": to}


@handle("accept")
def accept(me: str, p: dict) -> dict:
    c = party(p.get("call_id"), me)
    if not c:
        return fail("no_such_call")
    if c["state"] != "ringing":
        return fail("not_ringing")
    if c["callee"] != me:
        return fail("not_allowed")
    c["state"] = "active"
    emit("call_accepted", {"call_id": c["id"]}, to=[room(c["caller"]), room(c["callee"])])
    return {"ok": True, "call": view(c, me)}


@handle("signal")
def signal(me: str, p: dict) -> dict:
    c = party(p.get("call_id"), me)
    if not c:
        return fail("no_such_call")
    if c["state"] != "active":
        return fail("not_active")
    out = {"call_id": c["id"], "from": me, "epoch": 0}
    description = p.get("description")
    if isinstance(description, dict):
        out["description"] = {"type": description.get("type"), "sdp": description.get("sdp")}
    elif "candidate" in p:
        candidate = p["candidate"]
        out["candidate"] = (
            {k: candidate.get(k) for k in CANDIDATE_FIELDS} if isinstance(candidate, dict) else None
        )
    else:
        return fail("invalid_payload")
    emit("signal", out, to=room(c["callee"] if c["caller"] == me else c["caller"]))
    return {"ok": True}


@handle("hangup")
def hangup(me: str, p: dict) -> dict:
    c = party(p.get("call_id"), me)
    if not c:
        return fail("no_such_call")
    del calls[c["id"]]
    call_of.pop(c["caller"], None)
    call_of.pop(c["callee"], None)
    ended = {"call_id": c["id"], "reason": "hangup", "by": me}
    emit("call_ended", ended, to=[room(c["caller"]), room(c["callee"])])
    return {"ok": True}


def party(call_id: object, name: str) -> dict | None:
    c = calls.get(call_id) if isinstance(call_id, str) else None
    return c if c and name in (c["caller"], c["callee"]) else None


def view(c: dict, name: str) -> dict:
    caller = c["caller"] == name
    return {
        "call_id": c["id"],
        "peer": c["callee"] if caller else c["caller"],
        "role": "caller" if caller else "callee",
        "state": c["state"],
        "epoch": 0,
    }
