// The benchmarks' baseline: a minimal Socket.IO relay with the app's HTTP and
// event shapes (docs/protocol.md), and nothing else. `PORT=8123 node server.js`
// listens on 127.0.0.1:$PORT. Its state is in this process; with REDIS_URL set
// (`redis://127.0.0.1:6379/0`) it is in that Redis instead (shared.js), and
// processes on several ports sharing it form one relay. See README.md beside
// this file.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const { Server } = require("socket.io");

const HOST = "127.0.0.1";
const PORT = Number(process.env.PORT || 8123);
const REDIS_URL = process.env.REDIS_URL || "";
const ORIGIN = `http://${HOST}:${PORT}`;
const REPO = path.resolve(__dirname, "..", "..");
// Static roots: the call-setup floor pages, and the app's own static files
// (the floor page imports /static/vendor/socket.io/socket.io.esm.min.js).
const STATIC = {
  "/floor/": path.join(REPO, "benchmarks", "floor"),
  "/static/": path.join(REPO, "chat", "static"),
};
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
};
const NAME = /^[a-z0-9._-]{1,32}$/;

// sid cookie -> {csrf, name}; name -> sid holding it; name -> open sockets;
// call id -> call; name -> its call id.
const sessions = new Map();
const holders = new Map();
const online = new Map();
const calls = new Map();
const callOf = new Map();

function cookies(header) {
  const out = {};
  for (const part of (header || "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function session(req, res) {
  let sid = cookies(req.headers.cookie).sid;
  if (!sid || !sessions.has(sid)) {
    sid = crypto.randomBytes(18).toString("base64url");
    sessions.set(sid, { sid, csrf: crypto.randomBytes(24).toString("base64url"), name: null });
    res.setHeader("Set-Cookie", `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`);
  }
  return sessions.get(sid);
}

function page(req, res) {
  render(res, session(req, res));
}

function render(res, s) {
  const body =
    "<!doctype html><html><head><title>Baseline</title></head><body>" +
    (s.name ? `<p>Your ID: ${s.name}</p>` : "") +
    '<form method="post" action="/join">' +
    `<input type="hidden" name="csrf_token" value="${s.csrf}">` +
    '<input name="name" required maxlength="32"><button type="submit">Join</button>' +
    "</form></body></html>";
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function join(req, res) {
  const s = session(req, res);
  readForm(req).then((form) => {
    if (form.get("csrf_token") !== s.csrf) return answer(res, 400, "bad token");
    const name = (form.get("name") || "").trim().toLowerCase();
    if (!NAME.test(name)) return answer(res, 400, "invalid name");
    const held = holders.get(name);
    if (held !== undefined && held !== s.sid) return answer(res, 409, "name taken");
    holders.set(name, s.sid);
    s.name = name;
    res.writeHead(302, { Location: "/", "Content-Length": 0 });
    res.end();
  });
}

// The urlencoded body of a request (at most 4 KiB).
function readForm(req) {
  return new Promise((resolve) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => {
      body += chunk;
      if (body.length > 4096) req.destroy();
    });
    req.on("end", () => resolve(new URLSearchParams(body)));
  });
}

function answer(res, status, text) {
  res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function serveStatic(req, res, prefix) {
  const root = STATIC[prefix];
  let rel;
  try {
    rel = decodeURIComponent(req.url.split("?")[0].slice(prefix.length));
  } catch {
    rel = "";
  }
  const file = path.resolve(root, rel);
  if (!rel || !file.startsWith(root + path.sep)) return notFound(res);
  fs.readFile(file, (err, data) => {
    if (err) return notFound(res);
    res.writeHead(200, {
      "Content-Type": TYPES[path.extname(file)] || "application/octet-stream",
      "Content-Length": data.length,
    });
    res.end(data);
  });
}

function notFound(res) {
  res.writeHead(404, { "Content-Type": "text/plain", "Content-Length": 9 });
  res.end("not found");
}

// The in-process state's routes and Socket.IO hooks; shared.js's with REDIS_URL.
let hooks = { page, join, authorize, connection };

const httpServer = http.createServer((req, res) => {
  const url = req.url.split("?")[0];
  if (req.method === "GET" && url === "/") return hooks.page(req, res);
  if (req.method === "POST" && url === "/join") return hooks.join(req, res);
  if (req.method === "GET") {
    for (const prefix of Object.keys(STATIC)) if (url.startsWith(prefix)) return serveStatic(req, res, prefix);
  }
  notFound(res);
});
httpServer.keepAliveTimeout = 5000;

const io = new Server(httpServer, {
  path: "/socket.io/",
  maxHttpBufferSize: 64 * 1024,
  pingInterval: 25000,
  pingTimeout: 20000,
  // The app's own origin only, as Engine.IO does for the app.
  allowRequest: (req, callback) => callback(null, !req.headers.origin || req.headers.origin === ORIGIN),
});

const room = (name) => `user:${name}`;
const fail = (error) => ({ ok: false, error });

io.use((socket, next) => hooks.authorize(socket, next));
io.on("connection", (socket) => hooks.connection(socket));

function authorize(socket, next) {
  const sid = cookies(socket.request.headers.cookie).sid;
  const s = sid && sessions.get(sid);
  if (!s || !s.name || holders.get(s.name) !== sid) {
    const err = new Error("unauthorized");
    err.data = fail("unauthorized");
    return next(err);
  }
  socket.data.name = s.name;
  next();
}

function connection(socket) {
  const me = socket.data.name;
  online.set(me, (online.get(me) || 0) + 1);
  socket.join(room(me));
  const current = calls.get(callOf.get(me));
  socket.emit("hello", { name: me, call: current ? view(current, me) : null });

  socket.on("disconnect", () => {
    const left = online.get(me) - 1;
    if (left > 0) online.set(me, left);
    else online.delete(me);
  });

  handle(socket, "call", (p) => {
    const to = typeof p.to === "string" ? p.to.trim().toLowerCase() : "";
    if (!NAME.test(to)) return fail("invalid_name");
    if (to === me) return fail("self_call");
    if (!online.has(to)) return fail("offline");
    if (callOf.has(me)) return fail("already_in_call");
    if (callOf.has(to)) return fail("busy");
    const call = { id: crypto.randomBytes(12).toString("base64url"), caller: me, callee: to, state: "ringing" };
    calls.set(call.id, call);
    callOf.set(me, call.id);
    callOf.set(to, call.id);
    io.to(room(to)).emit("ring", { call_id: call.id, from: me });
    return { ok: true, call_id: call.id, peer: to };
  });

  handle(socket, "accept", (p) => {
    const call = party(p.call_id, me);
    if (!call) return fail("no_such_call");
    if (call.state !== "ringing") return fail("not_ringing");
    if (call.callee !== me) return fail("not_allowed");
    call.state = "active";
    io.to([room(call.caller), room(call.callee)]).emit("call_accepted", { call_id: call.id });
    return { ok: true, call: view(call, me) };
  });

  handle(socket, "signal", (p) => {
    const call = party(p.call_id, me);
    if (!call) return fail("no_such_call");
    if (call.state !== "active") return fail("not_active");
    const out = relayed(call, me, p);
    if (!out) return fail("invalid_payload");
    io.to(room(call.caller === me ? call.callee : call.caller)).emit("signal", out);
    return { ok: true };
  });

  handle(socket, "hangup", (p) => {
    const call = party(p.call_id, me);
    if (!call) return fail("no_such_call");
    calls.delete(call.id);
    callOf.delete(call.caller);
    callOf.delete(call.callee);
    const ended = { call_id: call.id, reason: "hangup", by: me };
    io.to([room(call.caller), room(call.callee)]).emit("call_ended", ended);
    return { ok: true };
  });
}

// Register fn(payload) -> ack (or a promise of it, shared.js's) for `event`; a payload that is
// not an object is refused.
// What the peer gets of a signal: the description or the candidate's known fields; null if neither.
function relayed(call, me, p) {
  const out = { call_id: call.id, from: me, epoch: 0 };
  if (p.description && typeof p.description === "object") {
    out.description = { type: p.description.type, sdp: p.description.sdp };
  } else if ("candidate" in p) {
    const c = p.candidate;
    out.candidate = c && {
      candidate: c.candidate,
      sdpMid: c.sdpMid,
      sdpMLineIndex: c.sdpMLineIndex,
      usernameFragment: c.usernameFragment,
    };
  } else {
    return null;
  }
  return out;
}

function handle(socket, event, fn) {
  socket.on(event, (payload, ack) => {
    const result = payload && typeof payload === "object" ? fn(payload) : fail("invalid_payload");
    if (typeof ack !== "function") return;
    if (typeof result.then !== "function") return ack(result);
    result.then(ack, (err) => {
      console.error(`${event}: ${err}`);
      ack(fail("internal"));
    });
  });
}

function party(callId, name) {
  const call = typeof callId === "string" ? calls.get(callId) : undefined;
  return call && (call.caller === name || call.callee === name) ? call : undefined;
}

function view(call, name) {
  const caller = call.caller === name;
  return {
    call_id: call.id,
    peer: caller ? call.callee : call.caller,
    role: caller ? "caller" : "callee",
    state: call.state,
    epoch: 0,
  };
}

async function main() {
  let close = async () => {};
  if (REDIS_URL) {
    const { shared } = require("./shared.js");
    const state = await shared(REDIS_URL, io, { NAME, cookies, fail, room, view, relayed, handle, render, readForm, answer });
    hooks = state;
    close = state.close;
  }
  httpServer.listen(PORT, HOST, () =>
    console.log(`baseline listening on ${ORIGIN}` + (REDIS_URL ? ", state in Redis (several processes)" : "")),
  );
  for (const sig of ["SIGTERM", "SIGINT"]) {
    process.on(sig, () => {
      const closed = close();
      io.close();
      closed.finally(() => process.exit(0));
    });
  }
}

main().catch((err) => {
  console.error(`baseline did not start: ${err.stack || err}`);
  process.exit(1);
});
