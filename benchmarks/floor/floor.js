// The floor of the call-setup benchmark: the least two browsers must do to
// start a video call over a bare Socket.IO relay. Plain RTCPeerConnection,
// one offer and one answer, trickle ICE; no retries, no perfect negotiation,
// no fetch of ICE servers per call. benchmarks/call_setup.py sets the
// RTCConfiguration (floor.configure), clicks Call and Accept, and reads the
// timestamps in window.bench, taken as performance.timeOrigin +
// performance.now() so that two pages on one machine can be compared.
import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";

// The app's "full" media (chat/static/js/media.js).
const CONSTRAINTS = { audio: true, video: { width: { ideal: 1280 }, height: { ideal: 720 } } };
const ACK_TIMEOUT_MS = 10000;

const $ = (id) => document.getElementById(id);
const now = () => performance.timeOrigin + performance.now();

const bench = { acceptAt: null, firstFrameAt: null, errors: [] };
window.bench = bench;

const state = {
  phase: "connecting", // connecting | idle | calling | ringing | active
  config: { iceServers: [] },
  stream: null,
  callId: null,
  role: null,
  pc: null,
  pending: [], // candidates that arrived before the peer connection
};

const socket = io();

function setPhase(phase) {
  state.phase = phase;
  document.body.dataset.phase = phase;
  $("phase").textContent = phase;
}

function fail(err) {
  bench.errors.push(String(err?.message || err));
}

async function request(event, payload) {
  try {
    return await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch (err) {
    return { ok: false, error: "timeout", message: String(err) };
  }
}

function send(message) {
  request("signal", { call_id: state.callId, ...message }).then((ack) => ack.ok || fail(ack.message));
}

// The first remote frame: requestVideoFrameCallback on the remote video, set
// when its stream arrives, before any frame of it can be shown.
function watchFirstFrame(video) {
  video.requestVideoFrameCallback(() => {
    bench.firstFrameAt ??= now();
  });
}

function newPeer() {
  const pc = new RTCPeerConnection(state.config);
  for (const track of state.stream.getTracks()) pc.addTrack(track, state.stream);
  pc.ontrack = ({ track, streams }) => {
    const video = $("remote");
    if (video.srcObject) return;
    video.srcObject = streams[0] || new MediaStream([track]);
    watchFirstFrame(video);
  };
  pc.onicecandidate = ({ candidate }) => candidate && send({ candidate: candidate.toJSON() });
  state.pc = pc;
  for (const candidate of state.pending.splice(0)) pc.addIceCandidate(candidate).catch(fail);
  return pc;
}

async function offer() {
  const pc = newPeer();
  await pc.setLocalDescription();
  send({ description: pc.localDescription.toJSON() });
}

async function onDescription(description) {
  const pc = state.pc || newPeer();
  await pc.setRemoteDescription(description);
  if (description.type === "offer") {
    await pc.setLocalDescription();
    send({ description: pc.localDescription.toJSON() });
  }
}

function endCall() {
  state.pc?.close();
  state.pc = null;
  state.callId = null;
  state.role = null;
  state.pending = [];
  $("remote").srcObject = null;
  setPhase("idle");
}

const isCurrent = (callId) => callId !== null && callId === state.callId;

socket.on("hello", () => {
  if (state.stream && state.phase === "connecting") setPhase("idle");
});

socket.on("ring", ({ call_id }) => {
  if (state.phase !== "idle") return;
  state.callId = call_id;
  state.role = "callee";
  setPhase("ringing");
});

socket.on("call_accepted", ({ call_id }) => {
  if (!isCurrent(call_id) || state.role !== "caller") return;
  setPhase("active");
  offer().catch(fail);
});

socket.on("signal", ({ call_id, description, candidate }) => {
  if (!isCurrent(call_id)) return;
  if (description) onDescription(description).catch(fail);
  else if (candidate && state.pc) state.pc.addIceCandidate(candidate).catch(fail);
  else if (candidate) state.pending.push(candidate);
});

socket.on("call_ended", ({ call_id }) => isCurrent(call_id) && endCall());

socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));

async function placeCall(to) {
  if (state.phase !== "idle") return;
  bench.acceptAt = bench.firstFrameAt = null;
  const ack = await request("call", { to });
  if (!ack.ok) return fail(`call: ${ack.error}`);
  state.callId = ack.call_id;
  state.role = "caller";
  setPhase("calling");
}

async function accept() {
  if (state.phase !== "ringing") return;
  bench.acceptAt = now();
  bench.firstFrameAt = null;
  setPhase("active");
  const ack = await request("accept", { call_id: state.callId });
  if (!ack.ok) fail(`accept: ${ack.error}`);
}

function hangup() {
  if (!state.callId) return;
  request("hangup", { call_id: state.callId });
  endCall();
}

/** Resolve to "relay" or "direct" as the selected candidate pair says, or null. */
async function route() {
  if (!state.pc) return null;
  const stats = await state.pc.getStats();
  let pair = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId);
    }
  });
  const types = [stats.get(pair?.localCandidateId), stats.get(pair?.remoteCandidateId)];
  if (!pair || types.includes(undefined)) return null;
  return types.some((c) => c.candidateType === "relay") ? "relay" : "direct";
}

$("call-form").addEventListener("submit", (event) => {
  event.preventDefault();
  placeCall($("peer").value.trim());
});
$("accept").addEventListener("click", accept);
$("hangup").addEventListener("click", hangup);

window.floor = {
  /** Set the RTCConfiguration of the calls to come (ICE servers, transport policy). */
  configure(config) {
    state.config = config;
  },
  route,
};

navigator.mediaDevices.getUserMedia(CONSTRAINTS).then((stream) => {
  state.stream = stream;
  $("local").srcObject = stream;
  if (socket.connected && state.phase === "connecting") setPhase("idle");
}, fail);
