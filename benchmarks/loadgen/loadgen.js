// The benchmarks' load generator: many logged-in Socket.IO users in one Node
// process, driven by benchmarks/loadgen.py. No dependencies.
//
//   node loadgen.js http://127.0.0.1:PORT [http://127.0.0.1:PORT2 ...]
//
// With several URLs (several server processes sharing their state), users are
// spread over them round-robin in join order, and `pair` puts the two parties of
// each call on different URLs. Commands arrive on stdin, one JSON object a line; each answers one
// {"type":"result",...} line on stdout, with {"type":"progress",...} lines
// meanwhile. See benchmarks/loadgen.py for the commands.
//
// Why hand-rolled: HTTP/1.1 and WebSocket (RFC 6455) are spoken directly on
// net.Socket, Engine.IO 4 / Socket.IO 5 framing by hand. Outgoing frames are
// masked with the all-zero key (legal; XOR with zero leaves the bytes as they
// are), so sending costs one buffer copy. Relayed `signal` messages, the bulk
// of the traffic, are never JSON-parsed nor decoded: the send time travels in
// a fixed-width marker `bench:<µs>:<seq>` inside the relayed candidate or SDP,
// found with Buffer.indexOf. That keeps the generator several times cheaper
// per message than any server it drives (see docs/benchmarks.md).
"use strict";

const crypto = require("node:crypto");
const net = require("node:net");
const readline = require("node:readline");
const { performance, monitorEventLoopDelay } = require("node:perf_hooks");

// The servers: each user talks to one of them only (its page, its join, its socket).
const TARGETS = (process.argv.length > 2 ? process.argv.slice(2) : ["http://127.0.0.1:8000"]).map((url, index) => {
  const base = new URL(url);
  const host = base.hostname;
  const port = Number(base.port || 80);
  return { index, host, port, origin: `http://${host}:${port}` };
});
// What Chromium offers on every WebSocket, so that the servers answer the generator as they answer browsers.
const BROWSER_EXTENSIONS = "permessage-deflate; client_max_window_bits";
const JOIN_TIMEOUT_MS = 60000;

// ---------------------------------------------------------------- payloads

const MARK = Buffer.from("bench:");
const SIGNAL_EVENT = Buffer.from('42["signal"');
const pad = (n, width) => String(n).padStart(width, "0");
const marker = (t, seq) => `bench:${pad(t, 12)}:${pad(seq, 10)}`;

// An ICE candidate of about 200 bytes, as Chromium sends them.
const ICE_HEAD = "candidate:3305135839 1 udp 1685987071 203.0.113.77 53471 typ srflx raddr 192.168.1.23 ";
const ICE_TAIL = " rport 53471 generation 0 ufrag Xk2Q network-id 1 network-cost 10";
function iceFrame(ackId, callId, t, seq) {
  return (
    `42${ackId}["signal",{"call_id":"${callId}","candidate":{"candidate":"${ICE_HEAD}` +
    `${marker(t, seq)}${ICE_TAIL}","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Xk2Q"}}]`
  );
}

// An SDP offer of about 5.4 KB (audio and video, as Chromium makes them); the
// marker is its session name (s=), near the start.
function makeSdp() {
  const audio = [
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:Xk2Q",
    "a=ice-pwd:9Gf3pD8sQ2mK7vLwR4tYzA1c",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 4A:1F:9C:22:7B:E0:5D:13:88:AF:36:C2:91:0E:7D:54:B8:62:F1:0A:3C:95:D7:4E:21:6B:8F:C0:19:A3:5E:77",
    "a=setup:actpass",
    "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=sendrecv",
    "a=msid:7c1e0b5a-3f3e-4d6a-9d1c-2b8f0e6a4c11 a1f2e3d4-5b6c-4d7e-8f90-1a2b3c4d5e6f",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:110 telephone-event/48000",
    "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:3735928559 cname:Qm9vYmVuY2htYXJrY25hbWU",
    "a=ssrc:3735928559 msid:7c1e0b5a-3f3e-4d6a-9d1c-2b8f0e6a4c11 a1f2e3d4-5b6c-4d7e-8f90-1a2b3c4d5e6f",
  ];
  const video = [
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101 112 113 116 117 118",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:Xk2Q",
    "a=ice-pwd:9Gf3pD8sQ2mK7vLwR4tYzA1c",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 4A:1F:9C:22:7B:E0:5D:13:88:AF:36:C2:91:0E:7D:54:B8:62:F1:0A:3C:95:D7:4E:21:6B:8F:C0:19:A3:5E:77",
    "a=setup:actpass",
    "a=mid:1",
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:13 urn:3gpp:video-orientation",
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    "a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
    "a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
    "a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    "a=sendrecv",
    "a=msid:7c1e0b5a-3f3e-4d6a-9d1c-2b8f0e6a4c11 b2c3d4e5-6f70-4819-a2b3-c4d5e6f70819",
    "a=rtcp-mux",
    "a=rtcp-rsize",
  ];
  const codecs = [
    [96, "VP8/90000"],
    [98, "VP9/90000", "profile-id=0"],
    [100, "VP9/90000", "profile-id=2"],
    [102, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"],
    [104, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f"],
    [106, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"],
    [108, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"],
    [127, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"],
    [39, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f"],
    [45, "AV1/90000", "level-idx=5;profile=0;tier=0"],
    [112, "H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"],
  ];
  for (const [pt, name, fmtp] of codecs) {
    video.push(`a=rtpmap:${pt} ${name}`);
    for (const fb of ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"]) video.push(`a=rtcp-fb:${pt} ${fb}`);
    if (fmtp) video.push(`a=fmtp:${pt} ${fmtp}`);
    video.push(`a=rtpmap:${pt + 1} rtx/90000`, `a=fmtp:${pt + 1} apt=${pt}`);
  }
  video.push(
    "a=rtpmap:116 red/90000",
    "a=rtpmap:117 rtx/90000",
    "a=fmtp:117 apt=116",
    "a=rtpmap:118 ulpfec/90000",
    "a=ssrc-group:FID 2882400001 2882400002",
    "a=ssrc:2882400001 cname:Qm9vYmVuY2htYXJrY25hbWU",
    "a=ssrc:2882400001 msid:7c1e0b5a-3f3e-4d6a-9d1c-2b8f0e6a4c11 b2c3d4e5-6f70-4819-a2b3-c4d5e6f70819",
    "a=ssrc:2882400002 cname:Qm9vYmVuY2htYXJrY25hbWU",
    "a=ssrc:2882400002 msid:7c1e0b5a-3f3e-4d6a-9d1c-2b8f0e6a4c11 b2c3d4e5-6f70-4819-a2b3-c4d5e6f70819",
  );
  const head = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1"];
  const rest = [
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS 7c1e0b5a-3f3e-4d6a-9d1c-2b8f0e6a4c11",
    ...audio,
    ...video,
  ];
  let tail = rest.join("\r\n") + "\r\n";
  // Top up to ~5.4 KB with candidates, as an offer gathered before sending has.
  for (let i = 0; tail.length < 5330; i++) {
    tail += `a=candidate:${1000 + i} 1 udp 2122260223 192.168.1.${20 + i} ${50000 + i} typ host generation 0\r\n`;
  }
  // JSON-escaped halves around the marker line (s=<marker>).
  const esc = (s) => JSON.stringify(s).slice(1, -1);
  return { head: esc(head.join("\r\n") + "\r\ns="), tail: esc("\r\n" + tail) };
}
const SDP = makeSdp();
function offerFrame(ackId, callId, t, seq) {
  return (
    `42${ackId}["signal",{"call_id":"${callId}","description":{"type":"offer","sdp":"` +
    `${SDP.head}${marker(t, seq)}${SDP.tail}"}}]`
  );
}
const FRAMES = { ice: iceFrame, offer: offerFrame };

// ------------------------------------------------------------ wire helpers

// A masked (all-zero key) text frame holding `text` (ASCII).
function wsFrame(text) {
  const len = text.length;
  const hdr = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const buf = Buffer.allocUnsafe(hdr + len);
  buf[0] = 0x81;
  if (len < 126) {
    buf[1] = 0x80 | len;
  } else if (len < 65536) {
    buf[1] = 0x80 | 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 0x80 | 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(len, 6);
  }
  buf.writeUInt32BE(0, hdr - 4);
  buf.latin1Write(text, hdr);
  return buf;
}

function controlFrame(opcode, payload) {
  const buf = Buffer.alloc(6 + payload.length);
  buf[0] = 0x80 | opcode;
  buf[1] = 0x80 | payload.length;
  payload.copy(buf, 6);
  return buf;
}

function parseDigits(buf, start, end) {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (buf[i] - 48);
  return n;
}

// One HTTP/1.1 response read from `sock`; resolves {status, headers, setCookies, body, rest}.
function readResponse(sock) {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    let head = null;
    const done = (value, err) => {
      sock.removeListener("data", onData);
      sock.removeListener("close", onClose);
      sock.removeListener("error", onError);
      err ? reject(err) : resolve(value);
    };
    const onError = (err) => done(null, err);
    const onClose = () => done(null, new Error(head ? "closed mid-body" : "closed before response"));
    const onData = (chunk) => {
      data = data.length ? Buffer.concat([data, chunk]) : chunk;
      if (!head) {
        const end = data.indexOf("\r\n\r\n");
        if (end < 0) return;
        const lines = data.subarray(0, end).toString("latin1").split("\r\n");
        const status = Number(lines[0].split(" ")[1]);
        const headers = {};
        const setCookies = [];
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(":");
          const key = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          if (key === "set-cookie") setCookies.push(value);
          else headers[key] = value;
        }
        head = { status, headers, setCookies, bodyStart: end + 4 };
      }
      if (head.status === 101) {
        return done({ ...head, body: "", rest: data.subarray(head.bodyStart) });
      }
      const length = head.headers["content-length"];
      if (length !== undefined) {
        const stop = head.bodyStart + Number(length);
        if (data.length < stop) return;
        return done({ ...head, body: data.subarray(head.bodyStart, stop).toString("utf8") });
      }
      if ((head.headers["transfer-encoding"] || "").includes("chunked")) {
        const body = dechunk(data.subarray(head.bodyStart));
        if (body !== null) done({ ...head, body });
      }
    };
    sock.on("data", onData);
    sock.on("close", onClose);
    sock.on("error", onError);
  });
}

function dechunk(buf) {
  const parts = [];
  let off = 0;
  for (;;) {
    const eol = buf.indexOf("\r\n", off);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(off, eol).toString("latin1"), 16);
    if (size === 0) return Buffer.concat(parts).toString("utf8");
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
  }
}

function openSocket(target) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: target.host, port: target.port, noDelay: true });
    sock.once("connect", () => {
      sock.removeListener("error", reject);
      resolve(sock);
    });
    sock.once("error", reject);
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------------ users

const users = []; // connected users, in join order
let phase = null; // the relay phase running, if any
let joins = 0; // users created so far: the next one's target is TARGETS[joins % TARGETS.length]

class User {
  constructor(name, target) {
    this.name = name;
    this.target = target;
    this.cookies = new Map();
    this.sock = null;
    this.pending = null;
    this.fragments = null;
    this.ackId = 0;
    this.acks = new Map(); // ack id -> resolve, for control events only
    this.inbox = []; // control events not yet waited for: [name, payload]
    this.waiting = null; // {event, resolve}
    this.callId = null;
    this.peer = null;
    this.isCaller = false;
    this.closed = false;
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  keepCookies(setCookies) {
    for (const c of setCookies) {
      const pair = c.split(";")[0];
      const eq = pair.indexOf("=");
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  // GET / for the cookie and CSRF token, POST /join, then Socket.IO until `hello`.
  async join() {
    const { host, port, origin } = this.target;
    let http = await openSocket(this.target);
    try {
      http.write(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/html\r\n\r\n`);
      const page = await readResponse(http);
      if (page.status !== 200) throw new Error(`GET / ${page.status}`);
      this.keepCookies(page.setCookies);
      const token = /name="csrf_token" value="([^"]+)"/.exec(page.body);
      if (!token) throw new Error("no csrf_token");
      if ((page.headers.connection || "").toLowerCase() === "close") {
        http.destroy();
        http = await openSocket(this.target);
      }
      const form = `name=${encodeURIComponent(this.name)}&csrf_token=${encodeURIComponent(token[1])}`;
      http.write(
        `POST /join HTTP/1.1\r\nHost: ${host}:${port}\r\nOrigin: ${origin}\r\nCookie: ${this.cookieHeader()}\r\n` +
          `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`,
      );
      const joined = await readResponse(http);
      if (joined.status !== 302) throw new Error(`POST /join ${joined.status}`);
      this.keepCookies(joined.setCookies);
    } finally {
      http.destroy();
    }
    const sock = await openSocket(this.target);
    this.sock = sock;
    const key = crypto.randomBytes(16).toString("base64");
    const hello = this.next("hello");
    sock.write(
      `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${host}:${port}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\nCookie: ${this.cookieHeader()}\r\n` +
        `Sec-WebSocket-Extensions: ${BROWSER_EXTENSIONS}\r\n\r\n`,
    );
    const upgrade = await readResponse(sock);
    if (upgrade.status !== 101) throw new Error(`websocket ${upgrade.status}`);
    // Frames are written and read uncompressed: a server that took the offer
    // would be measured with a per-connection cost no user of it could avoid.
    if (upgrade.headers["sec-websocket-extensions"]) {
      throw new Error(`the server accepted ${upgrade.headers["sec-websocket-extensions"]}`);
    }
    sock.on("data", (chunk) => this.onData(chunk));
    sock.on("close", () => this.onClose());
    sock.on("error", () => {});
    if (upgrade.rest.length) this.onData(upgrade.rest);
    await hello;
  }

  send(text) {
    if (!this.closed) this.sock.write(wsFrame(text));
  }

  // Emit a control event with an acknowledgement; resolves the ack's payload.
  emit(event, data) {
    const id = this.ackId++;
    return new Promise((resolve) => {
      this.acks.set(id, resolve);
      this.send(`42${id}${JSON.stringify([event, data])}`);
    });
  }

  // Resolve with the next control event named `event` (or an error frame).
  next(event) {
    const i = this.inbox.findIndex(([name]) => name === event);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0][1]);
    return new Promise((resolve, reject) => {
      this.waiting = { event, resolve, reject };
    });
  }

  deliver(event, payload) {
    if (this.waiting && this.waiting.event === event) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve(payload);
    } else if (this.inbox.length < 100) {
      this.inbox.push([event, payload]);
    }
  }

  fail(err) {
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      reject(err);
    }
  }

  onClose() {
    this.closed = true;
    stats.closed += 1;
    this.fail(new Error("connection closed"));
  }

  // Frames answered while reading one chunk (pongs, closed-loop replies) leave in one write.
  onData(chunk) {
    this.sock.cork();
    try {
      this.readFrames(chunk);
    } finally {
      this.sock.uncork();
    }
  }

  readFrames(chunk) {
    const now = performance.now();
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let off = 0;
    while (buf.length - off >= 2) {
      const b0 = buf[off];
      const b1 = buf[off + 1];
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        len = buf.readUInt32BE(off + 6);
        hdr = 10;
      }
      const masked = b1 & 0x80;
      if (masked) hdr += 4;
      if (buf.length - off < hdr + len) break;
      let payload = buf.subarray(off + hdr, off + hdr + len);
      if (masked) {
        payload = Buffer.from(payload);
        for (let i = 0; i < len; i++) payload[i] ^= buf[off + hdr - 4 + (i & 3)];
      }
      off += hdr + len;
      const opcode = b0 & 0x0f;
      const fin = b0 & 0x80;
      if (opcode === 0 || !fin) {
        // Fragmented message: gather until FIN.
        this.fragments = this.fragments || [];
        this.fragments.push(Buffer.from(payload));
        if (!fin) continue;
        payload = Buffer.concat(this.fragments);
        this.fragments = null;
      }
      if (opcode === 1 || opcode === 0) this.onMessage(payload, now);
      else if (opcode === 9) this.sock.write(controlFrame(10, payload));
      else if (opcode === 8) this.sock.destroy();
    }
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off));
  }

  onMessage(msg, now) {
    // Engine.IO: 0 open, 2 ping, 4 message; Socket.IO inside: 0 connect, 2 event, 3 ack, 4 error.
    const eio = msg[0];
    if (eio === 0x32) return this.send("3");
    if (eio === 0x30) return this.send("40");
    if (eio !== 0x34) return;
    const sio = msg[1];
    if (sio === 0x32) {
      if (msg.length > SIGNAL_EVENT.length && msg.compare(SIGNAL_EVENT, 0, 11, 0, 11) === 0) {
        return onSignal(this, msg, now);
      }
      const [event, payload] = JSON.parse(msg.toString("utf8", 2));
      return this.deliver(event, payload);
    }
    if (sio === 0x33) {
      let i = 2;
      while (msg[i] !== 0x5b) i++;
      const id = parseDigits(msg, 2, i);
      const resolve = this.acks.get(id);
      if (resolve) {
        this.acks.delete(id);
        return resolve(JSON.parse(msg.toString("utf8", i))[0]);
      }
      return onSignalAck(msg, i);
    }
    if (sio === 0x34) {
      const err = JSON.parse(msg.toString("utf8", 2) || "{}");
      return this.fail(new Error(`refused: ${err.message || JSON.stringify(err)}`));
    }
    // 40{sid}: connected; hello follows.
  }
}

// ------------------------------------------------------------------ stats

const stats = { closed: 0 };

class Samples {
  constructor() {
    this.values = new Float64Array(1 << 16);
    this.n = 0;
  }
  add(v) {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = v;
  }
  summary() {
    const v = this.values.subarray(0, this.n).sort();
    const at = (q) => (this.n ? round(v[Math.min(this.n - 1, Math.floor(q * this.n))]) : null);
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += v[i];
    return {
      count: this.n,
      mean_ms: this.n ? round(sum / this.n) : null,
      p50_ms: at(0.5),
      p90_ms: at(0.9),
      p99_ms: at(0.99),
      max_ms: this.n ? round(v[this.n - 1]) : null,
    };
  }
}

const round = (x, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

// A relayed signal arrived at `user`: time it from the marker.
function onSignal(user, msg, now) {
  const p = phase;
  if (!p) return;
  const at = msg.indexOf(MARK, 11);
  if (at < 0) return;
  const t = parseDigits(msg, at + 6, at + 18);
  if (t / 1000 < p.start) {
    p.stale += 1; // sent in an earlier phase and delivered only now
    return;
  }
  p.delivered += 1;
  p.lastDelivery = now;
  p.bytes += msg.length;
  p.latency.add(now - t / 1000);
  const bucket = Math.floor((now - p.start) / 1000);
  p.perSecond[bucket] = (p.perSecond[bucket] || 0) + 1;
  if (p.closedLoop && p.running) sendSignal(user, p);
}

function onSignalAck(msg, start) {
  const p = phase;
  if (!p) return;
  if (msg.indexOf('"ok":true', start) >= 0) {
    p.acked += 1;
  } else {
    const m = /"error":"([^"]+)"/.exec(msg.toString("utf8", start));
    const code = m ? m[1] : "unknown";
    p.nacks[code] = (p.nacks[code] || 0) + 1;
  }
}

function sendSignal(user, p) {
  const t = Math.round(performance.now() * 1000);
  user.send(FRAMES[p.kind](user.ackId++, user.callId, t, p.seq++));
  p.sent += 1;
}

// -------------------------------------------------------------- commands

function progress(done, total) {
  out({ type: "progress", done, total });
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// Join `count` more users named prefix0, prefix1, ... with `concurrency` at a time, each on the
// next target in turn.
async function cmdJoin({ count, concurrency = 64, prefix = "u" }) {
  const latency = new Samples();
  const errors = {};
  let next = 0;
  let joined = 0;
  const start = performance.now();
  const ticker = setInterval(() => progress(joined, count), 250);
  const worker = async () => {
    while (next < count) {
      const user = new User(`${prefix}${next++}`, TARGETS[joins++ % TARGETS.length]);
      const t0 = performance.now();
      try {
        await withTimeout(user.join(), JOIN_TIMEOUT_MS, "join");
        latency.add(performance.now() - t0);
        users.push(user);
        joined += 1;
      } catch (err) {
        const key = String(err.message || err).slice(0, 80);
        errors[key] = (errors[key] || 0) + 1;
        if (user.sock) user.sock.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  clearInterval(ticker);
  const seconds = (performance.now() - start) / 1000;
  return {
    joined,
    failed: count - joined,
    errors,
    seconds: round(seconds),
    rate: round(joined / seconds, 1),
    latency: latency.summary(),
    connected: users.length,
    connected_per_target: perTarget(users),
  };
}

// How many of `list` talk to each target.
function perTarget(list) {
  const counts = TARGETS.map(() => 0);
  for (const u of list) if (!u.closed) counts[u.target.index] += 1;
  return counts;
}

// The [caller, callee] of each call. One target: users[i] calls users[i + calls]. Several: the two
// parties are on different targets, taken in join order: each caller from the target with the most
// users left, its callee from the target with the next most. (Users are in the order their joins
// finished, so the first 2 * calls of them need not be spread evenly: all of them are drawn from.)
function partners(calls) {
  if (TARGETS.length === 1) return Array.from({ length: calls }, (_, i) => [users[i], users[i + calls]]);
  const left = TARGETS.map(() => []);
  for (const u of users) left[u.target.index].push(u);
  for (const list of left) list.reverse(); // pop() takes them in join order
  const out = [];
  while (out.length < calls) {
    const [a, b] = left.map((list, i) => i).sort((i, j) => left[j].length - left[i].length || i - j);
    if (!left[b].length) throw new Error(`cannot put both parties of ${calls} calls on different servers`);
    out.push([left[a].pop(), left[b].pop()]);
  }
  return out;
}

// Each caller calls its callee (partners()): call -> ring -> accept -> call_accepted.
async function cmdPair({ calls, concurrency = 50 }) {
  if (users.length < 2 * calls) throw new Error(`need ${2 * calls} users, have ${users.length}`);
  const parties = partners(calls);
  const errors = {};
  let next = 0;
  let paired = 0;
  const start = performance.now();
  const ticker = setInterval(() => progress(paired, calls), 250);
  const pair = async (caller, callee) => {
    const ring = callee.next("ring");
    const placed = await caller.emit("call", { to: callee.name });
    if (!placed.ok) throw new Error(`call: ${placed.error}`);
    const rung = await ring;
    const acceptedByCaller = caller.next("call_accepted");
    const acceptedByCallee = callee.next("call_accepted");
    const accepted = await callee.emit("accept", { call_id: rung.call_id });
    if (!accepted.ok) throw new Error(`accept: ${accepted.error}`);
    await Promise.all([acceptedByCaller, acceptedByCallee]);
    caller.callId = callee.callId = placed.call_id;
    caller.peer = callee;
    callee.peer = caller;
    caller.isCaller = true;
  };
  const worker = async () => {
    while (next < calls) {
      const i = next++;
      try {
        await withTimeout(pair(...parties[i]), 30000, "pair");
        paired += 1;
      } catch (err) {
        const key = String(err.message || err).slice(0, 80);
        errors[key] = (errors[key] || 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, calls) }, worker));
  clearInterval(ticker);
  const seconds = (performance.now() - start) / 1000;
  const crossing = parties.filter(([a, b]) => a.callId && a.target !== b.target).length;
  return {
    calls: paired,
    failed: calls - paired,
    errors,
    seconds: round(seconds),
    rate: round(paired / seconds, 1),
    across_targets: crossing,
  };
}

// The caller of each accepted call, in join order.
function callers() {
  return users.filter((u) => u.isCaller && u.callId && u.peer);
}

function newPhase(kind, closedLoop) {
  return {
    kind,
    closedLoop,
    running: true,
    stopped: false,
    start: performance.now(),
    seq: 0,
    sent: 0,
    stale: 0,
    lastDelivery: performance.now(),
    acked: 0,
    delivered: 0,
    bytes: 0,
    nacks: {},
    perSecond: [],
    latency: new Samples(),
  };
}

// Wait until every sent message is delivered, or `ms` passed.
async function drain(p, ms) {
  const deadline = performance.now() + ms;
  while ((p.delivered < p.sent || p.acked + nackCount(p) < p.sent) && performance.now() < deadline) {
    await sleep(20);
  }
}

const nackCount = (p) => Object.values(p.nacks).reduce((a, b) => a + b, 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function phaseResult(p, seconds) {
  return {
    kind: p.kind,
    seconds: round(seconds),
    sent: p.sent,
    delivered: p.delivered,
    acked: p.acked,
    nacks: p.nacks,
    undelivered: p.sent - p.delivered, // not delivered by the end of the drain
    stale: p.stale,
    delivered_per_s: round(p.delivered / seconds, 1),
    latency: p.latency.summary(),
    per_second: p.perSecond.map((n) => n || 0),
  };
}

// Send `rate` signals a second for `seconds`, spread over all calls, both directions.
async function cmdRelay({ rate, seconds, kind = "ice", drain_ms = 10000 }) {
  const pairs = callers();
  if (!pairs.length) throw new Error("no calls: pair first");
  const p = (phase = newPhase(kind, false));
  const total = Math.round(rate * seconds);
  let k = 0;
  const ticker = setInterval(() => progress(Math.min(k, total), total), 250);
  await new Promise((resolve) => {
    const tick = () => {
      const due = p.stopped ? k : Math.min(total, Math.floor(((performance.now() - p.start) / 1000) * rate));
      for (; k < due; k++) {
        const caller = pairs[k % pairs.length];
        const sender = Math.floor(k / pairs.length) % 2 ? caller.peer : caller;
        sendSignal(sender, p);
      }
      if (k >= total || p.stopped) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });
  const sendSeconds = (performance.now() - p.start) / 1000;
  p.running = false;
  await drain(p, drain_ms);
  clearInterval(ticker);
  phase = null;
  return { rate, ...phaseResult(p, sendSeconds), offered_per_s: round(p.sent / sendSeconds, 1) };
}

// Closed loop: `window` signals in flight; each delivery sends the next one back.
// Measured after a warm-up of at least `warmup` seconds that lasts until every first message
// has been delivered (at most `max_warmup` seconds), so that a slow server is seen in its steady state.
async function cmdSaturate({ window, seconds, kind = "ice", warmup = 0.5, max_warmup = 10, drain_ms = 10000 }) {
  const pairs = callers();
  if (!pairs.length) throw new Error("no calls: pair first");
  const p = (phase = newPhase(kind, true));
  for (let i = 0; i < window; i++) {
    const caller = pairs[i % pairs.length];
    sendSignal(Math.floor(i / pairs.length) % 2 ? caller.peer : caller, p);
  }
  const w0 = performance.now();
  const warm = () => performance.now() - w0;
  while (!p.stopped && (warm() < warmup * 1000 || (p.delivered < window && warm() < max_warmup * 1000))) {
    await sleep(10);
  }
  const warmupSeconds = warm() / 1000;
  // A slow server passes the messages through in waves as long as the warm-up: measure two at least.
  const span = Math.max(seconds, 2 * warmupSeconds);
  const d0 = p.delivered;
  const latencyStart = p.latency.n;
  const t0 = performance.now();
  const ticker = setInterval(() => progress(round((performance.now() - t0) / 1000, 1), round(span, 1)), 250);
  while (!p.stopped && performance.now() - t0 < span * 1000) await sleep(20);
  const measured = (performance.now() - t0) / 1000;
  const delivered = p.delivered - d0;
  const window_latency = new Samples();
  for (let i = latencyStart; i < p.latency.n; i++) window_latency.add(p.latency.values[i]);
  p.running = false;
  await drain(p, drain_ms);
  clearInterval(ticker);
  phase = null;
  const result = phaseResult(p, (performance.now() - p.start) / 1000);
  return {
    window,
    kind,
    warmup_s: round(warmupSeconds),
    seconds: round(measured),
    delivered_per_s: round(delivered / measured, 1),
    latency: window_latency.summary(),
    sent: p.sent,
    delivered_total: p.delivered,
    // Over the whole step, from the first send to the last delivery (the drain included).
    step_average_per_s: round(p.delivered / ((p.lastDelivery - p.start) / 1000), 1),
    undelivered: result.undelivered,
    stale: p.stale,
    nacks: p.nacks,
    acked: p.acked,
  };
}

async function cmdHangup() {
  const pairs = callers();
  let ended = 0;
  await Promise.all(
    pairs.map(async (caller) => {
      const ack = await withTimeout(caller.emit("hangup", { call_id: caller.callId }), 30000, "hangup").catch(
        () => ({ ok: false }),
      );
      if (ack.ok) ended += 1;
      caller.callId = caller.peer.callId = null;
      caller.peer.peer = null;
      caller.peer = null;
      caller.isCaller = false;
    }),
  );
  return { ended };
}

async function cmdClose() {
  const n = users.length;
  for (const u of users.splice(0)) if (u.sock) u.sock.destroy();
  return { closed: n };
}

function cmdStatus() {
  return { connected: users.filter((u) => !u.closed).length, dropped: stats.closed, connected_per_target: perTarget(users) };
}

const COMMANDS = {
  join: cmdJoin,
  pair: cmdPair,
  relay: cmdRelay,
  saturate: cmdSaturate,
  hangup: cmdHangup,
  close: cmdClose,
  status: cmdStatus,
};

// Per command: CPU time, event-loop utilisation and delay of this process.
async function run(cmd) {
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const t0 = performance.now();
  let result;
  try {
    result = { ok: true, ...(await COMMANDS[cmd.cmd](cmd)) };
  } catch (err) {
    result = { ok: false, error: String(err.stack || err) };
  }
  delay.disable();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  out({
    type: "result",
    cmd: cmd.cmd,
    ...result,
    generator: {
      wall_s: round(wall),
      cpu_s: round((cpu.user + cpu.system) / 1e6),
      cpu_percent: round(((cpu.user + cpu.system) / 1e6 / wall) * 100, 1),
      user_percent: round((cpu.user / 1e6 / wall) * 100, 1),
      system_percent: round((cpu.system / 1e6 / wall) * 100, 1),
      event_loop_utilization: round(elu.utilization),
      event_loop_delay_p99_ms: round(delay.percentile(99) / 1e6),
    },
  });
}

process.on("unhandledRejection", (err) => process.stderr.write(`unhandled: ${err}\n`));
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  // `stop` ends the running relay phase at once; everything else runs in order.
  if (cmd.cmd === "stop") {
    if (phase) phase.stopped = true;
    return;
  }
  if (cmd.cmd === "exit") {
    queue.then(() => process.exit(0));
    return;
  }
  queue = queue.then(() => run(cmd));
});
process.stdin.on("end", () => queue.then(() => process.exit(0)));
out({ type: "ready", pid: process.pid, target: TARGETS[0].origin, targets: TARGETS.map((t) => t.origin) });
