// The call screen: wires signaling, the call's lifecycle, the peer connection and the page.
import { addLine, bindChat, MAX_CHAT_CHARS, showChat } from "./chat_log.js";
import { describeCheck, gatherCandidateTypes } from "./check.js";
import { FileTransfers } from "./files.js";
import { createHistory } from "./history.js";
import { forgetIceServers, prefetchIceServers, rtcConfiguration } from "./ice.js";
import { CallLifecycle } from "./lifecycle.js";
import { createDeviceChoice, remembered } from "./device_choice.js";
import { describeMediaError, getDeviceTrack, getLocalMedia } from "./media.js";
import { endedText, errorText } from "./messages.js";
import { PeerSession } from "./peer.js";
import { describe, PoorConnection, summarize } from "./quality.js";
import { startRinging, stopRinging } from "./ringer.js";
import { connectSignaling } from "./signaling.js";
import "./devices.js";
import * as ui from "./ui.js";

const root = document.getElementById("app");
const me = root.dataset.me;
const NAME = /^[a-z0-9._-]{1,32}$/;
// Survives a reload of this tab only, so a reloaded page can take its call back.
const ACTIVE_CALL_KEY = "activeCall";
// How long the other side's page may be gone (its data channel closed) before the call ends
// here: a reload takes the call back well within it (a move), a closed tab never does.
const PEER_GONE_MS = 7000;

const state = {
  call: null, // {id, peer, role, epoch}
  peer: null, // PeerSession
  pending: [], // signals that arrived before the peer connection
  stream: new MediaStream(),
  muted: false,
  cameraOff: false,
  screen: null, // the screen's video track while it is shared
  peerSaid: null, // the other side's last state message: {muted, cameraOff, sharing}
  watching: null,
  routeTimer: null,
  goneTimer: null, // {peer, id}: the wait for the other side's page that went
  leaving: false, // this page sent the Leave form
};

const lifecycle = new CallLifecycle(enter);
const transfers = new FileTransfers({
  sendControl: (message) => state.peer?.sendMessage(message) ?? false,
  openChannel: (label) => state.peer.openChannel(label),
  say: (text) => ui.setStatus(text),
});
const devices = createDeviceChoice({
  choose: (kind, deviceId) => switchDevice(kind, deviceId),
  current: deviceInUse,
  say: (text) => ui.setStatus(text),
});
const signaling = connectSignaling({ onEvent, onStatus });
const history = createHistory({
  request: (event, payload) => signaling.request(event, payload),
  callBack(name) {
    ui.setPeerName(name);
    placeCall(name);
  },
});

// Media

async function chooseMedia(mode) {
  try {
    const prefer = { camera: remembered("videoinput"), microphone: remembered("audioinput") };
    const stream = await getLocalMedia(mode, prefer);
    for (const track of state.stream.getTracks()) track.stop();
    state.stream = stream;
    applyTrackSwitches();
    if (!state.screen) ui.setLocalStream(stream);
    ui.setMediaProblem(null);
    state.peer?.addStream(stream);
  } catch (err) {
    ui.setMediaProblem(`${describeMediaError(err)} You can still receive a call, or try again.`);
  }
  devices.refresh(); // labels are known once the browser has given access
}

/** Use another camera, microphone or speaker, before or during a call (the call goes on). */
async function switchDevice(kind, deviceId) {
  if (kind === "audiooutput") return ui.setSpeaker(deviceId);
  const audio = kind === "audioinput";
  let track;
  try {
    track = await getDeviceTrack(kind, deviceId);
  } catch (err) {
    ui.setStatus(`That ${audio ? "microphone" : "camera"} cannot be used: ${describeMediaError(err)}`);
    return devices.refresh();
  }
  for (const old of audio ? state.stream.getAudioTracks() : state.stream.getVideoTracks()) {
    state.stream.removeTrack(old);
    old.stop();
  }
  state.stream.addTrack(track);
  applyTrackSwitches();
  if (!state.screen) ui.setLocalStream(state.stream);
  // While the screen is shared the new camera waits in the stream: Stop sharing sends it.
  if (audio || !state.screen) await state.peer?.replaceTrack(audio ? "audio" : "video", track, state.stream);
}

/** The device of `kind` in use now, or the speaker chosen. */
function deviceInUse(kind) {
  if (kind === "audiooutput") return ui.speaker() || remembered(kind);
  const [track] = kind === "audioinput" ? state.stream.getAudioTracks() : state.stream.getVideoTracks();
  return track && track.readyState === "live" ? track.getSettings().deviceId : null;
}

function applyTrackSwitches() {
  for (const t of state.stream.getAudioTracks()) t.enabled = !state.muted;
  for (const t of state.stream.getVideoTracks()) t.enabled = !state.cameraOff;
}

// Phases

/** What a phase means for the page: what it shows, the ring, the ICE servers. */
function enter(phase) {
  ui.showPhase(phase, state.call?.peer);
  if (phase === "ringing") startRinging();
  else stopRinging();
  if (phase === "calling" || phase === "ringing") prefetchIceServers(state.call.id);
}

/** Connect this page's media for the call: entered in the active phase. */
async function startPeer() {
  const call = state.call;
  const epoch = call.epoch;
  ui.setStatus(`Connecting to ${call.peer}…`);
  let rtcConfig;
  try {
    rtcConfig = await rtcConfiguration(call);
  } catch (err) {
    if (isCurrent(call.id)) failCall(call, err.message);
    return;
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
        call.connectedAt ??= Date.now(); // kept through a move: the call goes on
        ui.setStatus(`In a call with ${call.peer}.`);
        watchQuality(peer);
      }
      if (s === "disconnected") ui.setStatus("The connection is interrupted; trying to restore it…");
    },
    onMessage: (message) => peer === state.peer && onPeerMessage(call, message),
    onChannelOpen: () => peer === state.peer && sendState(),
    onChannelClose: () => peer === state.peer && peerGone(call, peer),
    onChannel: (channel) => (peer === state.peer ? transfers.onChannel(channel) : channel.close()),
    onClose: (error) => {
      if (peer === state.peer && error) failCall(call, error.message);
    },
  });
  state.peer = peer;
  if (state.filesOf !== call.id) transfers.clear(); // a new call: the last one's files go
  state.filesOf = call.id;
  transfers.show(true);
  showChat(true);
  if (state.screen) peer.replaceTrack("video", state.screen, state.stream); // sharing went on through a move
  sessionStorage.setItem(ACTIVE_CALL_KEY, call.id);
  const queued = state.pending.filter((m) => m.epoch === call.epoch);
  state.pending = [];
  for (const message of queued) peer.handleSignal(message);
}

// How often the call's statistics are read: the quality panel, the poor-connection warning and
// the route (the selected pair can change, and a remote candidate first seen as peer-reflexive is
// known as a relay only once its description arrives through signaling).
const QUALITY_EVERY_MS = 1000;

function watchQuality(peer) {
  clearInterval(state.routeTimer);
  const poor = new PoorConnection();
  let previous = null;
  const sample = async () => {
    const report = await peer.stats();
    if (!report || peer !== state.peer) return;
    const summary = summarize(report, previous);
    previous = summary;
    const call = state.call;
    if (call?.connectedAt) ui.setCallLabel(call.peer, Math.floor((Date.now() - call.connectedAt) / 1000));
    ui.setRoute(summary.route);
    ui.showQuality(describe(summary));
    ui.setQualityWarning(
      poor.update(summary) ? "The connection is poor: the picture and sound may freeze or break up." : null,
    );
  };
  sample();
  state.routeTimer = setInterval(sample, QUALITY_EVERY_MS);
}

function closePeer() {
  const peer = state.peer;
  state.peer = null;
  clearInterval(state.routeTimer);
  ui.setRoute(null);
  ui.showQuality(null);
  ui.setQualityWarning(null);
  ui.setCallLabel(null);
  peer?.close();
  ui.setRemoteStream(null);
  transfers.stopAll(); // files received stay listed, to be saved, until the next call
  transfers.show(false);
  showChat(false);
  state.peerSaid = null;
  ui.setPeerState(null);
}

// The other side's page, over the data channel

/** Tell the other side how this one is: muted, camera off, sharing the screen. */
function sendState() {
  state.peer?.sendMessage({ type: "state", muted: state.muted, cameraOff: state.cameraOff, sharing: !!state.screen });
}

function onPeerMessage(call, message) {
  if (message.type === "bye") return peerGone(call, state.peer);
  if (message.type === "file" || message.type === "file_cancel") return transfers.onControl(message);
  if (message.type === "chat" && typeof message.text === "string") {
    addLine(call.peer, message.text.slice(0, MAX_CHAT_CHARS));
  } else if (message.type === "state") {
    const now = { muted: message.muted === true, cameraOff: message.cameraOff === true, sharing: message.sharing === true };
    const before = state.peerSaid ?? { muted: false, cameraOff: false, sharing: false };
    state.peerSaid = now;
    const changes = [
      [now.muted !== before.muted, now.muted ? `${call.peer} muted.` : `${call.peer} unmuted.`],
      [now.cameraOff !== before.cameraOff, now.cameraOff ? `${call.peer} turned the camera off.` : `${call.peer} turned the camera on.`],
      [now.sharing !== before.sharing, now.sharing ? `${call.peer} is sharing the screen.` : `${call.peer} stopped sharing the screen.`],
    ];
    const said = changes.filter(([changed]) => changed).map(([, text]) => text);
    if (said.length) ui.setStatus(said.join(" "));
    const shown = [now.muted && "muted", now.cameraOff && "camera off", now.sharing && "sharing the screen"];
    const words = shown.filter(Boolean);
    ui.setPeerState(words.length ? `${call.peer}: ${words.join(" · ")}` : null);
  }
}

/** The other side's page closed its connection: end the call unless it comes back (a reload moves it). */
function peerGone(call, peer) {
  if (state.goneTimer?.peer === peer) return; // said already (its "bye", then its channel's close)
  clearTimeout(state.goneTimer?.id);
  state.goneTimer = { peer };
  ui.setStatus(`${call.peer}'s page was closed. Waiting for it to come back…`);
  state.goneTimer.id = setTimeout(() => {
    if (state.peer !== peer || !isCurrent(call.id)) return; // it came back (call_moved), or the call ended
    finish("hangup", "page_closed");
  }, PEER_GONE_MS);
}

// Screen sharing: the screen's track replaces the camera's in the same sender (no renegotiation).

async function toggleScreen() {
  if (state.screen) return stopSharing();
  if (!state.peer) return;
  let display;
  try {
    display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    if (err.name !== "NotAllowedError") ui.setStatus(`The screen cannot be shared: ${err.message}`);
    return; // NotAllowedError: the person chose not to share
  }
  const [track] = display.getVideoTracks();
  if (!state.peer) return track.stop(); // the call ended while the browser asked
  state.screen = track;
  // The browser's own "Stop sharing" ends the track.
  track.addEventListener("ended", () => state.screen === track && stopSharing());
  await state.peer.replaceTrack("video", track, display);
  ui.setLocalStream(display);
  ui.setSharing(true);
  sendState();
}

async function stopSharing() {
  if (!dropScreen()) return;
  await state.peer?.replaceTrack("video", state.stream.getVideoTracks()[0] ?? null, state.stream);
  sendState();
}

/** Stop the screen's track and show the camera again; false if nothing was shared. */
function dropScreen() {
  const track = state.screen;
  if (!track) return false;
  state.screen = null;
  track.stop();
  ui.setLocalStream(state.stream);
  ui.setSharing(false);
  return true;
}

/** The one way out of a call, whatever ended it: `event` says what did. */
function endCall(event, text) {
  if (!lifecycle.can(event)) return;
  dropScreen();
  closePeer();
  state.call = null;
  state.pending = [];
  forgetIceServers();
  sessionStorage.removeItem(ACTIVE_CALL_KEY);
  lifecycle.apply(event);
  ui.setStatus(text);
}

/** No media connection could be made here: tell the server, and end the call. */
function failCall(call, reason) {
  if (!lifecycle.can("peer_failed")) return;
  signaling.request("hangup", { call_id: call.id, failed: true });
  endCall("peer_failed", `The call failed: ${reason}`);
}

const isCurrent = (callId) => state.call !== null && state.call.id === callId;

// Server events

const handlers = {
  hello({ call }) {
    if (state.call && (!call || call.call_id !== state.call.id)) {
      endCall("hello_without_call", "The call ended while you were disconnected.");
    }
    if (!state.call && call) restoreCall(call);
    if (state.watching) watch(state.watching);
    history.refresh();
  },

  ring({ call_id, from }) {
    if (!lifecycle.can("ring")) return;
    state.call = { id: call_id, peer: from, role: "callee", epoch: 0 };
    lifecycle.apply("ring");
    ui.setStatus(`${from} is calling.`);
  },

  call_accepted({ call_id }) {
    if (!isCurrent(call_id)) return;
    const phase = lifecycle.apply("call_accepted");
    if (phase === "active") startPeer();
    else if (phase === "elsewhere") ui.setStatus("You answered on another page.");
  },

  call_moved({ call_id, by, epoch }) {
    const event = by === me ? "call_moved_by_me" : "call_moved_by_peer";
    if (!isCurrent(call_id) || !lifecycle.can(event)) return;
    closePeer();
    state.call.epoch = epoch;
    if (lifecycle.apply(event) === "elsewhere") {
      dropScreen();
      sessionStorage.removeItem(ACTIVE_CALL_KEY);
      ui.setStatus("The call moved to another page.");
    } else {
      startPeer();
      ui.setStatus(`${state.call.peer} is reconnecting…`);
    }
  },

  call_ended({ call_id, reason, by }) {
    history.refresh(); // the server recorded the call before telling
    if (!isCurrent(call_id)) return;
    endCall("call_ended", endedText(reason, state.call, by === me));
  },

  missed_call() {
    history.refresh();
  },

  missed_seen() {
    history.seenElsewhere();
  },

  signal(message) {
    if (!isCurrent(message.call_id) || message.epoch !== state.call.epoch) return;
    if (state.peer) state.peer.handleSignal(message);
    else state.pending.push(message);
  },

  presence({ name, online }) {
    if (name === state.watching) ui.setPeerPresence(name, online);
  },

  signed_out({ reason }) {
    // The page that sent Leave waits for the form's answer: navigating away
    // now would drop the response that logs this browser out.
    if (state.leaving) return endCall("signed_out", null);
    endCall(
      "signed_out",
      reason === "removed" ? "This browser was removed from your devices." : "You left on another page.",
    );
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
    const why = detail ? errorText(detail) : "The server refused the connection.";
    ui.setConnection(`${why} Reload the page to join again.`);
  }
  if (status === "closed") ui.setConnection("Disconnected from the server.");
}

function restoreCall(call) {
  state.call = { id: call.call_id, peer: call.peer, role: call.role, epoch: call.epoch };
  if (call.state === "ringing") {
    lifecycle.apply(call.role === "callee" ? "hello_ringing" : "hello_calling");
  } else if (sessionStorage.getItem(ACTIVE_CALL_KEY) === call.call_id) {
    takeCall("move", "hello_resume"); // this tab was reloaded during the call: take it back
  } else {
    lifecycle.apply("hello_active");
  }
}

// Actions

async function placeCall(raw) {
  const to = raw.trim().toLowerCase();
  if (!NAME.test(to)) return ui.setStatus(errorText({ error: "invalid_name" }));
  if (!lifecycle.can("place")) return;
  const ack = await signaling.request("call", { to });
  if (!ack.ok) return ui.setStatus(errorText(ack, to));
  if (!lifecycle.can("place")) return;
  state.call = { id: ack.call_id, peer: ack.peer, role: "caller", epoch: 0 };
  lifecycle.apply("place");
  ui.setStatus(`Calling ${ack.peer}…`);
}

/**
 * Take the call into this page: `accept` a ringing one, or `move` an active
 * one here; `event` is what asked for it.
 */
async function takeCall(request, event) {
  const call = state.call;
  if (!lifecycle.apply(event)) return;
  const ack = await signaling.request(request, { call_id: call.id });
  if (!isCurrent(call.id)) return;
  if (!ack.ok) return endCall("ack_refused", errorText(ack, call.peer));
  call.epoch = ack.call.epoch;
  if (lifecycle.apply(request === "accept" ? "accepted" : "moved")) startPeer();
}

const accept = () => takeCall("accept", "accept");
const moveHere = () => takeCall("move", "move_here");

/** End the call from this page: `event` is both the request and the lifecycle's event. */
function finish(event, reason) {
  if (!state.call || !lifecycle.can(event)) return;
  signaling.request(event, { call_id: state.call.id });
  endCall(event, endedText(reason, state.call, true));
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
  cancel: () => finish("cancel", "cancelled"),
  decline: () => finish("decline", "declined"),
  hangup: () => finish("hangup", "hangup"),
  toggleMute() {
    state.muted = !state.muted;
    applyTrackSwitches();
    ui.setMuted(state.muted);
    sendState();
  },
  toggleCamera() {
    state.cameraOff = !state.cameraOff;
    applyTrackSwitches();
    ui.setCameraOff(state.cameraOff);
    sendState();
  },
  toggleScreen,
  toggleQuality: () => ui.toggleQuality(),
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

// Leaving the page (closed, reloaded, navigated away): tell the other side at once, which waits
// PEER_GONE_MS for a reload to take the call back. The connection's own close says it too, when
// the browser gets to send it.
window.addEventListener("pagehide", () => state.peer?.sendMessage({ type: "bye" }));

// Files: the Send file input, or dropped on the call.
document.getElementById("file-input").addEventListener("change", (event) => {
  for (const file of event.target.files) transfers.send(file);
  event.target.value = "";
});
for (const zone of [document.querySelector(".videos"), document.getElementById("chat"), document.getElementById("files")]) {
  zone.addEventListener("dragover", (event) => state.peer && event.preventDefault());
  zone.addEventListener("drop", (event) => {
    if (!state.peer) return;
    event.preventDefault();
    for (const file of event.dataTransfer.files) transfers.send(file);
  });
}

bindChat((text) => {
  if (!state.call || !state.peer?.sendMessage({ type: "chat", text })) {
    ui.setStatus("The message could not be sent: the call is not connected.");
    return false;
  }
  addLine(me, text);
  return true;
});

if (NAME.test(ui.peerName())) state.watching = ui.peerName();
if (remembered("audiooutput")) ui.setSpeaker(remembered("audiooutput"));
chooseMedia("full");
