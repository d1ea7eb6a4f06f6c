// "Check connection": gather ICE candidates with the issued servers and say
// what they mean for calls, before any call is made.

const GATHER_TIMEOUT_MS = 6000;

/**
 * Gather candidates with `rtcConfig` (policy "all"); resolve to the set of
 * candidate types found: "host", "srflx" (STUN answered), "relay" (TURN answered).
 */
export async function gatherCandidateTypes(rtcConfig) {
  const pc = new RTCPeerConnection({ iceServers: rtcConfig.iceServers, iceTransportPolicy: "all" });
  const types = new Set();
  try {
    pc.createDataChannel("check");
    const done = new Promise((resolve) => {
      const timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
      pc.onicecandidate = ({ candidate }) => {
        if (candidate?.type) types.add(candidate.type);
        if (!candidate) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    await pc.setLocalDescription();
    await done;
  } finally {
    pc.close();
  }
  return types;
}

/** Turn what was found into sentences for people, one per line. */
export function describeCheck({ stream, rtcConfig, types }) {
  const urls = rtcConfig.iceServers.flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]));
  const hasStun = urls.some((u) => u.startsWith("stun:") || u.startsWith("stuns:"));
  const hasTurn = urls.some((u) => u.startsWith("turn:") || u.startsWith("turns:"));
  const lines = [];
  lines.push(stream.getVideoTracks().length ? "Camera: working." : "Camera: not in use.");
  lines.push(stream.getAudioTracks().length ? "Microphone: working." : "Microphone: not in use.");
  if (!hasStun && !hasTurn) {
    lines.push("This server offers no STUN or TURN: calls work on the same network only.");
    return lines;
  }
  if (types.has("srflx")) {
    lines.push("STUN answered: your public address was found.");
  } else if (types.has("relay")) {
    // The relay answered too, and the browser drops a public address that
    // equals its own: there is no NAT between this browser and the server.
    lines.push("STUN answered: you are not behind NAT.");
  } else {
    lines.push("STUN did not answer, or found no public address: calls to other networks may fail.");
  }
  if (!hasTurn) {
    lines.push("No TURN relay: calls across strict firewalls will fail without TURN.");
  } else if (types.has("relay")) {
    lines.push("TURN answered: calls can go through the relay when no direct path exists.");
  } else {
    lines.push("TURN is unreachable: calls across strict firewalls will fail, and so will any call with Hide my IP address.");
  }
  return lines.filter(Boolean);
}
