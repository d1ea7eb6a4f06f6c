// The baseline's state in Redis, for several processes (server.js with REDIS_URL set):
// the same HTTP and event shapes as server.js's in-process state, with the
// sessions, names, presence and calls under `bl:` keys of one Redis, and
// Socket.IO's rooms spanning the processes through @socket.io/redis-adapter
// (an emit to `user:<name>` reaches that user's sockets on any process). Each
// process serves its own sockets; a user may log in on one process and call a
// user of another. Like the in-process state: no rate limits, timers, expiry or
// payload validation beyond not crashing, and the checks are not atomic
// (two processes racing for one name or call may both win; the benchmarks
// never race). Per relayed `signal`: one HGETALL of the call, then the
// adapter's PUBLISH. See README.md beside this file.
"use strict";

const crypto = require("node:crypto");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");

const key = {
  session: (sid) => `bl:sess:${sid}`,
  holder: (name) => `bl:holder:${name}`,
  online: (name) => `bl:online:${name}`,
  call: (id) => `bl:call:${id}`,
  callOf: (name) => `bl:callof:${name}`,
};

// Connects to `url`, puts the Redis adapter on `io`, and returns the HTTP
// routes and Socket.IO hooks over the shared state. `shapes` holds server.js's
// helpers (NAME, cookies, fail, room, view, relayed, handle, render, readForm, answer).
async function shared(url, io, shapes) {
  const { NAME, cookies, fail, room, view, relayed, handle, render, readForm, answer } = shapes;
  // One client for the state's commands and the adapter's PUBLISH (node-redis
  // pipelines them on one connection), one in subscriber mode for the adapter.
  const redis = createClient({ url });
  const sub = redis.duplicate();
  for (const client of [redis, sub]) client.on("error", (err) => console.error(`redis error: ${err}`));
  await Promise.all([redis.connect(), sub.connect()]);
  io.adapter(createAdapter(redis, sub));

  // The session of a request, made (and its cookie set on `res`) when it has none.
  async function session(req, res) {
    let sid = cookies(req.headers.cookie).sid;
    const stored = sid ? await redis.hGetAll(key.session(sid)) : {};
    if (stored.csrf) return { sid, csrf: stored.csrf, name: stored.name || null };
    sid = crypto.randomBytes(18).toString("base64url");
    const csrf = crypto.randomBytes(24).toString("base64url");
    await redis.hSet(key.session(sid), "csrf", csrf);
    res.setHeader("Set-Cookie", `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    return { sid, csrf, name: null };
  }

  function page(req, res) {
    session(req, res).then((s) => render(res, s), (err) => broken(res, err));
  }

  function join(req, res) {
    claim(req, res).catch((err) => broken(res, err));
  }

  function broken(res, err) {
    console.error(`http: ${err}`);
    if (!res.headersSent) answer(res, 500, "internal error");
  }

  async function claim(req, res) {
    const [s, form] = await Promise.all([session(req, res), readForm(req)]);
    if (form.get("csrf_token") !== s.csrf) return answer(res, 400, "bad token");
    const name = (form.get("name") || "").trim().toLowerCase();
    if (!NAME.test(name)) return answer(res, 400, "invalid name");
    // SET NX GET (Redis 7): claims a free name, and says who held a taken one.
    const held = await redis.set(key.holder(name), s.sid, { condition: "NX", GET: true });
    if (held !== null && held !== s.sid) return answer(res, 409, "name taken");
    await redis.hSet(key.session(s.sid), "name", name);
    res.writeHead(302, { Location: "/", "Content-Length": 0 });
    res.end();
  }

  function authorize(socket, next) {
    check(socket, next).catch((err) => next(err));
  }

  async function check(socket, next) {
    const sid = cookies(socket.request.headers.cookie).sid;
    const s = sid ? await redis.hGetAll(key.session(sid)) : {};
    if (!s.name || (await redis.get(key.holder(s.name))) !== sid) {
      const err = new Error("unauthorized");
      err.data = fail("unauthorized");
      return next(err);
    }
    socket.data.name = s.name;
    next();
  }

  async function callById(callId) {
    if (typeof callId !== "string") return undefined;
    const c = await redis.hGetAll(key.call(callId));
    return c.caller ? { id: callId, caller: c.caller, callee: c.callee, state: c.state } : undefined;
  }

  async function party(callId, name) {
    const call = await callById(callId);
    return call && (call.caller === name || call.callee === name) ? call : undefined;
  }

  function connection(socket) {
    const me = socket.data.name;
    socket.join(room(me));
    // The handlers first: the client sends nothing before `hello`, which waits for Redis.
    socket.on("disconnect", () => {
      if (closing) return; // the process is stopping: its Redis client is closed or closing
      redis
        .decr(key.online(me))
        .then((left) => left <= 0 && redis.del(key.online(me)))
        .catch((err) => console.error(`disconnect of ${me}: ${err}`));
    });

    handle(socket, "call", async (p) => {
      const to = typeof p.to === "string" ? p.to.trim().toLowerCase() : "";
      if (!NAME.test(to)) return fail("invalid_name");
      if (to === me) return fail("self_call");
      const [online, mine, theirs] = await redis.mGet([key.online(to), key.callOf(me), key.callOf(to)]);
      if (!(Number(online) > 0)) return fail("offline");
      if (mine) return fail("already_in_call");
      if (theirs) return fail("busy");
      const id = crypto.randomBytes(12).toString("base64url");
      await redis
        .multi()
        .hSet(key.call(id), { caller: me, callee: to, state: "ringing" })
        .set(key.callOf(me), id)
        .set(key.callOf(to), id)
        .exec();
      io.to(room(to)).emit("ring", { call_id: id, from: me });
      return { ok: true, call_id: id, peer: to };
    });

    handle(socket, "accept", async (p) => {
      const call = await party(p.call_id, me);
      if (!call) return fail("no_such_call");
      if (call.state !== "ringing") return fail("not_ringing");
      if (call.callee !== me) return fail("not_allowed");
      call.state = "active";
      await redis.hSet(key.call(call.id), "state", "active");
      io.to([room(call.caller), room(call.callee)]).emit("call_accepted", { call_id: call.id });
      return { ok: true, call: view(call, me) };
    });

    handle(socket, "signal", async (p) => {
      const call = await party(p.call_id, me);
      if (!call) return fail("no_such_call");
      if (call.state !== "active") return fail("not_active");
      const out = relayed(call, me, p);
      if (!out) return fail("invalid_payload");
      io.to(room(call.caller === me ? call.callee : call.caller)).emit("signal", out);
      return { ok: true };
    });

    handle(socket, "hangup", async (p) => {
      const call = await party(p.call_id, me);
      if (!call) return fail("no_such_call");
      await redis.multi().del(key.call(call.id)).del(key.callOf(call.caller)).del(key.callOf(call.callee)).exec();
      const ended = { call_id: call.id, reason: "hangup", by: me };
      io.to([room(call.caller), room(call.callee)]).emit("call_ended", ended);
      return { ok: true };
    });

    (async () => {
      const [, callId] = await redis.multi().incr(key.online(me)).get(key.callOf(me)).exec();
      const current = callId ? await callById(callId) : undefined;
      socket.emit("hello", { name: me, call: current ? view(current, me) : null });
    })().catch((err) => {
      console.error(`hello for ${me}: ${err}`);
      socket.disconnect(true);
    });
  }

  // Stops using Redis at once (the sockets' disconnects that follow leave it alone), then closes.
  let closing = false;
  function close() {
    closing = true;
    return Promise.allSettled([redis.close(), sub.close()]);
  }

  return { page, join, authorize, connection, close };
}

module.exports = { shared };
