// The page: every DOM read and write of the call screen lives here.
const $ = (id) => document.getElementById(id);
const baseTitle = document.title;

const el = {
  status: $("status"),
  connection: $("connection"),
  mediaProblem: $("media-problem"),
  mediaProblemText: $("media-problem-text"),
  callForm: $("call-form"),
  peer: $("peer"),
  peerPresence: $("peer-presence"),
  callButton: $("call"),
  calling: $("calling"),
  callingText: $("calling-text"),
  elsewhere: $("elsewhere"),
  elsewhereText: $("elsewhere-text"),
  inCall: $("in-call"),
  mute: $("mute"),
  camera: $("camera"),
  shareScreen: $("share-screen"),
  checkSection: $("check-section"),
  inviteSection: $("invite-section"),
  qualityButton: $("quality-button"),
  quality: $("quality"),
  qualityList: $("quality-list"),
  qualityWarning: $("quality-warning"),
  peerState: $("peer-state"),
  callLabel: $("call-label"),
  callPeer: $("call-peer"),
  callTimer: $("call-timer"),
  localVideo: $("local-video"),
  remoteVideo: $("remote-video"),
  ringDialog: $("ring-dialog"),
  ringTitle: $("ring-title"),
  inviteLink: $("invite-link"),
  hideIp: $("hide-ip"),
  route: $("route"),
  check: $("check"),
  checkResults: $("check-results"),
};
const HIDE_IP_KEY = "hideIp";

/** Wire buttons and the call form to the app's actions. */
export function bind(actions) {
  el.callForm.addEventListener("submit", (event) => {
    event.preventDefault();
    actions.call(el.peer.value);
  });
  el.peer.addEventListener("input", () => actions.peerTyped(el.peer.value));
  $("leave-form").addEventListener("submit", actions.leaving);
  el.callButton.disabled = false; // rendered disabled until this handler exists
  // No getDisplayMedia (phones, plain http): no button that can only fail.
  el.shareScreen.hidden = !navigator.mediaDevices?.getDisplayMedia;
  el.check.disabled = false;
  const clicks = {
    cancel: actions.cancel,
    accept: actions.accept,
    decline: actions.decline,
    hangup: actions.hangup,
    mute: actions.toggleMute,
    camera: actions.toggleCamera,
    "share-screen": actions.toggleScreen,
    "quality-button": actions.toggleQuality,
    "move-here": actions.moveHere,
    "end-elsewhere": actions.hangup,
    "copy-link": actions.copyLink,
    check: actions.checkConnection,
    "retry-media": () => actions.chooseMedia("full"),
    "audio-only": () => actions.chooseMedia("audio"),
    "receive-only": () => actions.chooseMedia("none"),
  };
  for (const [id, action] of Object.entries(clicks)) $(id).addEventListener("click", action);
  // M and V do what Mute and Camera off do, in a call, unless the person is typing.
  const keys = { m: "mute", v: "camera" };
  document.addEventListener("keydown", (event) => {
    const button = $(keys[event.key?.toLowerCase()] ?? "");
    if (!button || el.inCall.hidden || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    event.preventDefault();
    button.click();
  });
  // The choice to hide one's address is remembered in this browser.
  if (!el.hideIp.disabled) el.hideIp.checked = localStorage.getItem(HIDE_IP_KEY) === "1";
  el.hideIp.addEventListener("change", () => localStorage.setItem(HIDE_IP_KEY, el.hideIp.checked ? "1" : "0"));
  // Escape on the ring dialog means Decline, not a silent close.
  el.ringDialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    actions.decline();
  });
}

/** Show what fits the phase: idle, calling, ringing, accepting, active, moving or elsewhere. */
export function showPhase(phase, peer) {
  el.callForm.hidden = !["idle", "ringing"].includes(phase);
  el.calling.hidden = phase !== "calling";
  el.callingText.textContent = `Calling ${peer}…`;
  const inCall = ["active", "accepting", "moving"].includes(phase);
  el.inCall.hidden = !inCall;
  // The lobby (checking the connection, inviting someone) makes way for the call.
  for (const section of [el.checkSection, el.inviteSection]) section.hidden = inCall;
  el.elsewhere.hidden = phase !== "elsewhere";
  el.elsewhereText.textContent = `You are in a call with ${peer} on another page.`;
  el.callButton.disabled = phase !== "idle";
  if (phase === "ringing") {
    el.ringTitle.textContent = `${peer} is calling`;
    if (!el.ringDialog.open) el.ringDialog.showModal();
    document.title = `Ringing: ${peer} is calling`;
  } else {
    if (el.ringDialog.open) el.ringDialog.close();
    document.title = phase === "active" ? `In a call with ${peer}` : baseTitle;
  }
}

export function setStatus(text) {
  el.status.textContent = text || "";
}

/** Show a banner about the server connection, or hide it with null. */
export function setConnection(text) {
  el.connection.hidden = !text;
  el.connection.textContent = text || "";
}

/** Show what went wrong with camera and microphone, or hide it with null. */
export function setMediaProblem(text) {
  el.mediaProblem.hidden = !text;
  el.mediaProblemText.textContent = text || "";
}

export function setPeerPresence(name, online) {
  if (online === null) el.peerPresence.textContent = "";
  else el.peerPresence.textContent = online ? `${name} is online.` : `${name} is offline.`;
}

/** Say how media travels: "relay", "direct", or null to hide it. */
export function setRoute(route) {
  el.route.hidden = !route;
  el.route.textContent = route === "relay" ? "Through the relay" : "Direct connection";
}

/** Show the lines of a connection check; null says it is running. */
export function showCheck(lines) {
  el.check.disabled = lines === null;
  el.checkResults.hidden = false;
  el.checkResults.replaceChildren(
    ...(lines ?? ["Checking…"]).map((line) => {
      const item = document.createElement("li");
      item.textContent = line;
      return item;
    }),
  );
}

/** Whether the person asked to send media through the relay only. */
export function hideIp() {
  return el.hideIp.checked;
}

export function peerName() {
  return el.peer.value;
}

export function setPeerName(name) {
  el.peer.value = name;
}

export function setLocalStream(stream) {
  el.localVideo.srcObject = stream;
}

export function setRemoteStream(stream) {
  el.remoteVideo.srcObject = stream;
}

export function setMuted(muted) {
  el.mute.textContent = muted ? "Unmute" : "Mute";
  el.mute.setAttribute("aria-pressed", String(muted));
}

export function setSharing(sharing) {
  el.shareScreen.textContent = sharing ? "Stop sharing" : "Share screen";
  el.shareScreen.setAttribute("aria-pressed", String(sharing));
  // The screen is not a mirror image: the preview shows it the right way round.
  el.localVideo.classList.toggle("screen", sharing);
}

/** Play the other side's sound on the speaker `deviceId` (where the browser can choose). */
export async function setSpeaker(deviceId) {
  if (!el.remoteVideo.setSinkId) return;
  try {
    await el.remoteVideo.setSinkId(deviceId);
  } catch {
    // Gone, or not allowed: the browser's default speaker plays on.
  }
}

/** The speaker the other side's sound plays on ("" for the default). */
export function speaker() {
  return el.remoteVideo.sinkId ?? "";
}

/** Show who the call is with and how long it has lasted (seconds), or hide it (null). */
export function setCallLabel(peer, seconds) {
  el.callLabel.hidden = peer === null;
  if (peer === null) return;
  el.callPeer.textContent = peer;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  el.callTimer.textContent = h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  el.callTimer.dateTime = `PT${seconds}S`;
}

/** Open or close the call quality panel. */
export function toggleQuality() {
  const open = el.quality.hidden;
  el.quality.hidden = !open;
  el.qualityButton.setAttribute("aria-expanded", String(open));
}

/** Fill the quality panel with [label, value] rows; null empties it (no call). */
export function showQuality(rows) {
  el.qualityList.replaceChildren(
    ...(rows ?? []).flatMap(([label, value]) => {
      const term = document.createElement("dt");
      term.className = "col-6 fw-normal text-body-secondary";
      term.textContent = label;
      const detail = document.createElement("dd");
      detail.className = "col-6 mb-1";
      detail.textContent = value;
      return [term, detail];
    }),
  );
  if (!rows) {
    el.quality.hidden = true;
    el.qualityButton.setAttribute("aria-expanded", "false");
  }
}

/** Warn on the call screen that the connection is poor, or stop warning (null). */
export function setQualityWarning(text) {
  el.qualityWarning.hidden = !text;
  el.qualityWarning.textContent = text || "";
}

/** Say over the remote video what the other side did ("alice muted · camera off"), or nothing. */
export function setPeerState(text) {
  el.peerState.hidden = !text;
  el.peerState.textContent = text || "";
}

export function setCameraOff(off) {
  el.camera.textContent = off ? "Camera on" : "Camera off";
  el.camera.setAttribute("aria-pressed", String(off));
}

/** Copy the invite link; resolve to true if it reached the clipboard. */
export async function copyInviteLink() {
  try {
    await navigator.clipboard.writeText(el.inviteLink.value);
    return true;
  } catch {
    // No clipboard API on plain-http pages: select the text for the person.
    el.inviteLink.select();
    return document.execCommand?.("copy") ?? false;
  }
}
