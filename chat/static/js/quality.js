// Call quality from RTCPeerConnection.getStats(), read once a second: what the panel shows,
// and whether the connection is poor enough to say so on the call screen.

// Poor: a round trip over this, or more of the packets lost, for POOR_SECONDS in a row.
const POOR_RTT_MS = 400;
const POOR_LOSS_PERCENT = 5;
const POOR_SECONDS = 3;

/**
 * Summarize a stats report against the one a second before (null at first): round trip (ms),
 * loss of the packets received (%), bitrates in and out (kbit/s), the video in and out
 * (resolution, frame rate, codec), and the route ("relay" or "direct").
 */
export function summarize(report, previous) {
  const all = [...report.values()];
  const by = (type) => all.filter((s) => s.type === type);
  const pair = pairOf(report);
  const codec = (s) => report.get(s?.codecId)?.mimeType?.split("/")[1] ?? null;
  const video = (s) =>
    s ? { width: s.frameWidth ?? null, height: s.frameHeight ?? null, fps: s.framesPerSecond ?? null, codec: codec(s) } : null;
  const inbound = by("inbound-rtp");
  const outbound = by("outbound-rtp");
  const sum = (list, field) => list.reduce((total, s) => total + (s[field] ?? 0), 0);
  const now = {
    at: Math.max(0, ...all.map((s) => s.timestamp ?? 0)),
    bytesIn: sum(inbound, "bytesReceived"),
    bytesOut: sum(outbound, "bytesSent"),
    received: sum(inbound, "packetsReceived"),
    lost: sum(inbound, "packetsLost"),
  };
  const summary = {
    raw: now,
    rttMs: pair?.currentRoundTripTime != null ? Math.round(pair.currentRoundTripTime * 1000) : null,
    lossPercent: null,
    inKbps: null,
    outKbps: null,
    videoIn: video(inbound.find((s) => s.kind === "video")),
    videoOut: video(outbound.find((s) => s.kind === "video")),
    route: routeOf(report, pair),
  };
  const before = previous?.raw;
  if (before && now.at > before.at) {
    const seconds = (now.at - before.at) / 1000;
    summary.inKbps = Math.round(((now.bytesIn - before.bytesIn) * 8) / seconds / 1000);
    summary.outKbps = Math.round(((now.bytesOut - before.bytesOut) * 8) / seconds / 1000);
    const lost = Math.max(0, now.lost - before.lost);
    const got = Math.max(0, now.received - before.received);
    summary.lossPercent = lost + got > 0 ? Math.round((1000 * lost) / (lost + got)) / 10 : 0;
  }
  return summary;
}

/** The panel's rows, [label, value] in words. */
export function describe(summary) {
  const or = (value, text) => (value == null ? "not known yet" : text);
  const videoText = (v) =>
    v && v.width ? `${v.width}×${v.height}${v.fps != null ? `, ${Math.round(v.fps)} frames/s` : ""}${v.codec ? `, ${v.codec}` : ""}` : "none";
  return [
    ["Round trip", or(summary.rttMs, `${summary.rttMs} ms`)],
    ["Packet loss", or(summary.lossPercent, `${summary.lossPercent} %`)],
    ["Received", or(summary.inKbps, `${summary.inKbps} kbit/s`)],
    ["Sent", or(summary.outKbps, `${summary.outKbps} kbit/s`)],
    ["Video received", videoText(summary.videoIn)],
    ["Video sent", videoText(summary.videoOut)],
    ["Route", summary.route === "relay" ? "through the relay (TURN)" : summary.route === "direct" ? "direct" : "not known yet"],
  ];
}

/** Count the seconds of poor quality in a row; say when there have been enough (true) or it recovered. */
export class PoorConnection {
  constructor() {
    this.seconds = 0;
  }

  /** Take one second's summary; true while the connection has been poor for POOR_SECONDS. */
  update(summary) {
    const poor = (summary.rttMs ?? 0) > POOR_RTT_MS || (summary.lossPercent ?? 0) > POOR_LOSS_PERCENT;
    this.seconds = poor ? this.seconds + 1 : 0;
    return this.seconds >= POOR_SECONDS;
  }
}

function pairOf(report) {
  for (const s of report.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) return report.get(s.selectedCandidatePairId);
  }
  return null;
}

function routeOf(report, pair) {
  if (!pair) return null;
  const local = report.get(pair.localCandidateId);
  const remote = report.get(pair.remoteCandidateId);
  if (!local || !remote) return null;
  return local.candidateType === "relay" || remote.candidateType === "relay" ? "relay" : "direct";
}
