// The call screen: wires signaling, the peer connection and the page.
import { describeCheck, gatherCandidateTypes } from "./check.js";
import { describeMediaError, getLocalMedia } from "./media.js";
import { PeerSession } from "./peer.js";
import { startRinging, stopRinging } from "./ringer.js";
import { connectSignaling } from "./signaling.js";
import * as ui from "./ui.js";

const root = document.getElementById("app");
const me = root.dataset.me;
const NAME = /^[a-z0-9._-]{1,32}$/;
// Survives a reload of this tab only, so a reloaded page can take its call back.
const ACTIVE_CALL_KEY = "activeCall";

const ERROR_TEXT = {
  invalid_name: "A name is 1 to 32 characters: letters a-z, digits 0-9, dot, underscore or hyphen.",
  self_call: "You cannot call yourself.",
  offline: (peer) => `${peer} is offline.`,
  busy: (peer) => `${peer} is busy in another call.`,
  already_in_call: "You are already in a call. Hang up first.",
  no_such_call: "That call has already ended.",
  not_ringing: "That call is no longer ringing.",
  timeout: "The server did not answer. Check your connection.",
};

const ENDED_TEXT = {
  declined: (c, byMe) => (byMe ? "You declined the call." : `${c.peer} declined the call.`),
  cancelled: (c, byMe) => (byMe ? "Call cancelled." : `Missed call: ${c.peer} cancelled.`),
  no_answer: (c) => (c.role === "caller" ? `${c.peer} did not answer.` : `Missed call from ${c.peer}.`),
  hangup: (c, byMe) => (byMe ? "Call ended." : `${c.peer} hung up.`),
  left: (c, byMe) => (byMe ? "Call ended." : `${c.peer} left.`),
  failed: (c, byMe) => (byMe ? "The call failed." : `The call failed: no connection could be made with ${c.peer}.`),
  gone: (c, byMe) => (byMe ? "Call ended: you were away too long." : `${c.peer} left: the connection was lost.`),
};

const state = {
  phase: "idle", // idle | calling | ringing | accepting | active | moving | elsewhere
  call: null, // {id, peer, role, epoch}
  peer: null, // PeerSession
  pending: [], // signals that arrived before the peer connection
  stream: new MediaStream(),
  muted: false,
  cameraOff: false,
  watching: null,
  routeTimer: null,
  ice: null, // {callId, promise}: ICE servers fetched while the call rings
  leaving: false, // this page sent the Leave form
};

const signaling = connectSignaling({ onEvent, onStatus });

// Media

async function chooseMedia(mode) {
  try {
    const stream = await getLocalMedia(mode);
    for (const track of state.stream.getTracks()) track.stop();
    state.stream = stream;
    applyTrackSwitches();
    ui.setLocalStream(stream);
    ui.setMediaProblem(null);
    state.peer?.addStream(stream);
  } catch (err) {
    ui.setMediaProblem(`${describeMediaError(err)} You can still receive a call, or try again.`);
  }
}

function applyTrackSwitches() {
  for (const t of state.stream.getAudioTracks()) t.enabled = !state.muted;
  for (const t of state.stream.getVideoTracks()) t.enabled = !state.cameraOff;
}

// Phases

function setPhase(phase) {
  state.phase = phase;
  ui.showPhase(phase, state.call?.peer);
  if (phase === "ringing") startRinging();
  else stopRinging();
  if ((phase === "calling" || phase === "ringing") && state.ice?.callId !== state.call.id) {
    prefetchIceServers(state.call.id);
  }
}

async function fetchIceServers() {
  const response = await fetch("/ice-servers", { cache: "no-store" });
  const body = await response.json().catch(() => ({ message: `The server answered ${response.status}.` }));
  if (!body.ok) throw new Error(body.message);
  return body;
}

/**
 * Fetch the ICE servers while the call rings, so that the first offer does
 * not wait for them once it is accepted (about 40 ms on a busy server).
 */
function prefetchIceServers(callId) {
  const promise = fetchIceServers();
  promise.catch(() => {}); // rtcConfiguration fetches again
  state.ice = { callId, promise };
}

/**
 * The configuration for a call's peer connection. TURN credentials expire,
 * so the ones fetched while it rang serve only its first connection and only
 * while they have a minute left; otherwise (and without a call, for the
 * connection check) they are fetched afresh.
 */
async function rtcConfiguration(call = null) {
  let early = null;
  if (call) {
    early = state.ice?.callId === call.id && call.epoch === 0 ? state.ice.promise : null;
    state.ice = null;
  }
  let body = early && (await early.catch(() => null));
  if (!body || (body.expiresAt && body.expiresAt * 1000 - Date.now() < 60_000)) body = await fetchIceServers();
  const relay = body.iceTransportPolicy === "relay" || ui.hideIp();
  return { iceServers: body.iceServers, iceTransportPolicy: relay ? "relay" : "all" };
}

async function startPeer() {
  const call = state.call;
  const epoch = call.epoch;
  setPhase("active");
  ui.setStatus(`Connecting to ${call.peer}…`);
  let rtcConfig;
  try {
    rtcConfig = await rtcConfiguration(call);
  } catch (err) {
    if (!isCurrent(call.id)) return;
    signaling.request("hangup", { call_id: call.id, failed: true });
    return endCall(`The call failed: ${err.message}`);
  }
  // The call may have ended or moved while the servers were fetched.
  if (!isCurrent(call.id) || call.epoch !== epoch || state.peer) return;
  const peer = new PeerSession({
    polite: call.role === "callee",
    stream: state.stream,
    rtcConfig,
    send: (message) => signaling.request("signal", { call_id: call.id, epoch: call.epoch, ...message }),
    onRemoteStream: (stream) => ui.setRemoteStream(stream),
    onConnectionState: (s) => {
      if (peer !== state.peer) return;
      if (s === "connected") {
        ui.setStatus(`In a call with ${call.peer}.`);
        showRoute(peer);
      }
      if (s === "disconnected") ui.setStatus("The connection is interrupted; trying to restore it…");
    },
    onClose: (error) => {
      if (peer !== state.peer || !error) return;
      signaling.request("hangup", { call_id: call.id, failed: true });
      endCall(`The call failed: ${error.message}`);
    },
  });
  state.peer = peer;
  sessionStorage.setItem(ACTIVE_CALL_KEY, call.id);
  const queued = state.pending.filter((m) => m.epoch === call.epoch);
  state.pending = [];
  for (const message of queued) peer.handleSignal(message);
}

// How often the route is read again: the selected pair can change, and a
// remote candidate first seen as peer-reflexive is known as a relay only once
// its description arrives through signaling.
const ROUTE_REFRESH_MS = 2000;

function showRoute(peer) {
  clearInterval(state.routeTimer);
  const refresh = () => peer.route().then((route) => peer === state.peer && ui.setRoute(route));
  refresh();
  state.routeTimer = setInterval(refresh, ROUTE_REFRESH_MS);
}

function closePeer() {
  const peer = state.peer;
  state.peer = null;
  clearInterval(state.routeTimer);
  ui.setRoute(null);
  peer?.close();
  ui.setRemoteStream(null);
}

/** The one way out of a call, whatever ended it. */
function endCall(text) {
  closePeer();
  state.call = null;
  state.pending = [];
  state.ice = null;
  sessionStorage.removeItem(ACTIVE_CALL_KEY);
  setPhase("idle");
  ui.setStatus(text);
}

const isCurrent = (callId) => state.call !== null && state.call.id === callId;

// Server events

const handlers = {
  hello({ call }) {
    if (state.call && (!call || call.call_id !== state.call.id)) {
      endCall("The call ended while you were disconnected.");
    }
    if (!state.call && call) restoreCall(call);
    if (state.watching) watch(state.watching);
  },

  ring({ call_id, from }) {
    if (state.phase !== "idle") return;
    state.call = { id: call_id, peer: from, role: "callee", epoch: 0 };
    setPhase("ringing");
    ui.setStatus(`${from} is calling.`);
  },

  call_accepted({ call_id }) {
    if (!isCurrent(call_id)) return;
    if (state.phase === "calling") startPeer();
    else if (state.phase === "ringing") {
      setPhase("elsewhere");
      ui.setStatus("You answered on another page.");
    }
  },

  call_moved({ call_id, by, epoch }) {
    if (!isCurrent(call_id) || state.phase === "moving") return;
    closePeer();
    state.call.epoch = epoch;
    if (by === me) {
      sessionStorage.removeItem(ACTIVE_CALL_KEY);
      setPhase("elsewhere");
      ui.setStatus("The call moved to another page.");
    } else {
      startPeer();
      ui.setStatus(`${state.call.peer} is reconnecting…`);
    }
  },

  call_ended({ call_id, reason, by }) {
    if (!isCurrent(call_id)) return;
    const text = ENDED_TEXT[reason] || (() => "The call ended.");
    endCall(text(state.call, by === me));
  },

  signal(message) {
    if (!isCurrent(message.call_id) || message.epoch !== state.call.epoch) return;
    if (state.peer) state.peer.handleSignal(message);
    else state.pending.push(message);
  },

  presence({ name, online }) {
    if (name === state.watching) ui.setPeerPresence(name, online);
  },

  signed_out() {
    // The page that sent Leave waits for the form's answer: navigating away
    // now would drop the response that logs this browser out.
    if (state.leaving) return endCall(null);
    endCall("You left on another page.");
    window.location.assign("/");
  },
};

function onEvent(event, payload) {
  handlers[event]?.(payload || {});
}

function onStatus(status, detail) {
  if (status === "connected") ui.setConnection(null);
  if (status === "reconnecting") ui.setConnection("Reconnecting to the server…");
  if (status === "refused") {
    ui.setConnection(`${detail?.message || "The server refused the connection."} Reload the page to join again.`);
  }
  if (status === "closed") ui.setConnection("Disconnected from the server.");
}

function restoreCall(call) {
  state.call = { id: call.call_id, peer: call.peer, role: call.role, epoch: call.epoch };
  if (call.state === "ringing") {
    setPhase(call.role === "callee" ? "ringing" : "calling");
  } else if (sessionStorage.getItem(ACTIVE_CALL_KEY) === call.call_id) {
    moveHere(); // this tab was reloaded during the call: take it back
  } else {
    setPhase("elsewhere");
  }
}

// Actions

function errorText(ack, peer) {
  const text = ERROR_TEXT[ack.error];
  if (typeof text === "function") return text(peer);
  return text || ack.message || "Something went wrong.";
}

async function placeCall(raw) {
  const to = raw.trim().toLowerCase();
  if (!NAME.test(to)) return ui.setStatus(ERROR_TEXT.invalid_name);
  if (state.phase !== "idle") return;
  const ack = await signaling.request("call", { to });
  if (!ack.ok) return ui.setStatus(errorText(ack, to));
  state.call = { id: ack.call_id, peer: ack.peer, role: "caller", epoch: 0 };
  setPhase("calling");
  ui.setStatus(`Calling ${ack.peer}…`);
}

/** Take the call into this page: `accept` a ringing one, or `move` an active one here. */
async function takeCall(event, phase) {
  const call = state.call;
  setPhase(phase);
  const ack = await signaling.request(event, { call_id: call.id });
  if (!isCurrent(call.id)) return;
  if (!ack.ok) return endCall(errorText(ack, call.peer));
  call.epoch = ack.call.epoch;
  startPeer();
}

const accept = () => state.phase === "ringing" && takeCall("accept", "accepting");
const moveHere = () => takeCall("move", "moving");

function finish(event, text) {
  if (!state.call) return;
  signaling.request(event, { call_id: state.call.id });
  endCall(text);
}

let watchTimer = null;
async function watch(name) {
  state.watching = name;
  const ack = await signaling.request("watch", { name });
  if (ack.ok && state.watching === ack.name) ui.setPeerPresence(ack.name, ack.online);
}

ui.bind({
  call: placeCall,
  leaving: () => {
    state.leaving = true;
  },
  accept,
  moveHere,
  cancel: () => finish("cancel", "Call cancelled."),
  decline: () => finish("decline", "You declined the call."),
  hangup: () => finish("hangup", "Call ended."),
  toggleMute() {
    state.muted = !state.muted;
    applyTrackSwitches();
    ui.setMuted(state.muted);
  },
  toggleCamera() {
    state.cameraOff = !state.cameraOff;
    applyTrackSwitches();
    ui.setCameraOff(state.cameraOff);
  },
  async copyLink() {
    ui.setStatus((await ui.copyInviteLink()) ? "Invite link copied." : "Select the link and copy it.");
  },
  chooseMedia,
  async checkConnection() {
    ui.showCheck(null);
    try {
      const rtcConfig = await rtcConfiguration();
      const types = await gatherCandidateTypes(rtcConfig);
      ui.showCheck(describeCheck({ stream: state.stream, rtcConfig, types }));
    } catch (err) {
      ui.showCheck([`The check failed: ${err.message}`]);
    }
  },
  peerTyped(raw) {
    clearTimeout(watchTimer);
    const name = raw.trim().toLowerCase();
    if (!NAME.test(name)) return ui.setPeerPresence(null, null);
    watchTimer = setTimeout(() => watch(name), 300);
  },
});

if (NAME.test(ui.peerName())) state.watching = ui.peerName();
chooseMedia("full");
