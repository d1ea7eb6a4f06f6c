// The ICE servers of a peer connection: fetched from /ice-servers for each
// connection, and early while a call rings, so that accepting it does not wait.
import { errorText } from "./messages.js";
import { hideIp } from "./ui.js";

// {callId, promise}: the ICE servers fetched while that call rang.
let early = null;

/** Fetch fresh ICE servers; reject with a sentence saying why there are none. */
async function fetchIceServers() {
  const response = await fetch("/ice-servers", { cache: "no-store" });
  const body = await response.json().catch(() => ({ message: `The server answered ${response.status}.` }));
  if (!body.ok) throw new Error(errorText(body));
  return body;
}

/**
 * Fetch the ICE servers while the call rings, so that the first offer does
 * not wait for them once it is accepted (about 40 ms on a busy server).
 * Once per call.
 */
export function prefetchIceServers(callId) {
  if (early?.callId === callId) return;
  const promise = fetchIceServers();
  promise.catch(() => {}); // rtcConfiguration fetches again
  early = { callId, promise };
}

/** Drop what was fetched early: its call is over. */
export function forgetIceServers() {
  early = null;
}

/**
 * The configuration for a call's peer connection. TURN credentials expire,
 * so the ones fetched while it rang serve only its first connection and only
 * while they have a minute left; otherwise (and without a call, for the
 * connection check) they are fetched afresh. Media goes through the relay
 * only when the server says so or the person asked to hide their address.
 */
export async function rtcConfiguration(call = null) {
  let pending = null;
  if (call) {
    pending = early?.callId === call.id && call.epoch === 0 ? early.promise : null;
    early = null;
  }
  let body = pending && (await pending.catch(() => null));
  if (!body || (body.expiresAt && body.expiresAt * 1000 - Date.now() < 60_000)) body = await fetchIceServers();
  const relay = body.iceTransportPolicy === "relay" || hideIp();
  return { iceServers: body.iceServers, iceTransportPolicy: relay ? "relay" : "all" };
}
