"""Call quality from getStats (chat/static/js/quality.js), on made-up reports, run in Chromium on its own.

tests/browser/test_call_screen.py shows the panel in a real call; here the
figures are checked exactly, and the poor-connection rule too, which a call
on loopback never meets.
"""

import pytest

pytestmark = pytest.mark.browser

# Two seconds of a call: 1,000 packets received then 950 more with 50 lost, 250 kB in and
# 125 kB out in that second, 120 ms round trip through the relay.
SUMMARIZE = """async () => {
  const { summarize, describe } = await import("/static/js/quality.js");
  const report = (at, bytesIn, bytesOut, received, lost) => new Map([
    ["T", { type: "transport", selectedCandidatePairId: "P", timestamp: at }],
    ["P", { type: "candidate-pair", currentRoundTripTime: 0.12, localCandidateId: "L",
            remoteCandidateId: "R", timestamp: at }],
    ["L", { type: "local-candidate", candidateType: "relay" }],
    ["R", { type: "remote-candidate", candidateType: "host" }],
    ["I", { type: "inbound-rtp", kind: "video", bytesReceived: bytesIn, packetsReceived: received,
            packetsLost: lost, frameWidth: 1280, frameHeight: 720, framesPerSecond: 29.7, codecId: "C",
            timestamp: at }],
    ["O", { type: "outbound-rtp", kind: "video", bytesSent: bytesOut, frameWidth: 640, frameHeight: 360,
            framesPerSecond: 15, codecId: "C", timestamp: at }],
    ["C", { type: "codec", mimeType: "video/VP8" }],
  ]);
  const first = summarize(report(1000, 100000, 50000, 1000, 0), null);
  const second = summarize(report(2000, 350000, 175000, 1950, 50), first);
  return { first, second, rows: describe(second) };
}"""

POOR = """async (seconds) => {
  const { PoorConnection } = await import("/static/js/quality.js");
  const poor = new PoorConnection();
  return seconds.map(([rttMs, lossPercent]) => poor.update({ rttMs, lossPercent }));
}"""


def test_the_figures_of_one_second(open_page):
    found = open_page("/").evaluate(SUMMARIZE)
    assert found["first"]["inKbps"] is None and found["first"]["lossPercent"] is None  # no second yet
    second = found["second"]
    assert (second["rttMs"], second["lossPercent"], second["inKbps"], second["outKbps"]) == (
        120,
        5.0,
        2000,
        1000,
    )
    assert second["route"] == "relay"
    assert dict(found["rows"]) == {
        "Round trip": "120 ms",
        "Packet loss": "5 %",
        "Received": "2000 kbit/s",
        "Sent": "1000 kbit/s",
        "Video received": "1280×720, 30 frames/s, VP8",
        "Video sent": "640×360, 15 frames/s, VP8",
        "Route": "through the relay (TURN)",
    }


def test_a_poor_connection_is_said_after_three_poor_seconds_and_no_more_once_it_recovers(open_page):
    seconds = [[50, 0], [500, 0], [100, 8], [450, 6], [420, 0], [80, 1], [90, 12]]
    assert open_page("/").evaluate(POOR, seconds) == [False, False, False, True, True, False, False]
