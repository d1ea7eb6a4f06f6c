"""In a call, between two real browsers: chat, the other side's state, screen sharing (issue 14).

Chat and state travel over the peer connection's data channel, not through
the server. To see which track a page sends, the pages' RTCPeerConnections
are kept in a list by a subclass made before the page's scripts run (it only
records them).
"""

import hashlib
import os
import re
import time

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import (
    connect_call,
    expect_idle,
    expect_in_call,
    expect_video_playing,
    status,
)

pytestmark = pytest.mark.browser

KEEP_PEER_CONNECTIONS = """(() => {
  const Native = window.RTCPeerConnection;
  window.peerConnections = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.peerConnections.push(this);
    }
  };
})();"""

PEER_GONE_S = 7  # main.js's PEER_GONE_MS: how long a page that went may take to come back

SENT_LABEL = """(kind) => {
  const pc = window.peerConnections.at(-1);
  const sender = pc.getSenders().find((s) => s.track && s.track.kind === kind);
  return sender ? sender.track.label : null;
}"""
SENT_VIDEO_LABEL = f"() => ({SENT_LABEL})('video')"


@pytest.fixture
def in_call(joined):
    """alice and bob in a call (alice called), their pages recording their peer connections."""

    def _in_call(alice_name="alice", bob_name="bob"):
        alice, bob = joined(alice_name), joined(bob_name)
        for page in (alice, bob):
            page.add_init_script(KEEP_PEER_CONNECTIONS)
            page.reload()
            expect(page.get_by_role("button", name="Call", exact=True)).to_be_enabled()
        connect_call(alice, alice_name, bob, bob_name)
        return alice, bob

    return _in_call


def chat_log(page):
    return page.get_by_role("log", name="Chat")


def test_a_chat_message_with_markup_arrives_as_text(in_call):
    alice, bob = in_call("ann", "ben")
    text = '<b>bold</b> <img src=x onerror="document.title=1"> & ü'
    alice.get_by_label("Message").fill(text)
    alice.get_by_role("button", name="Send", exact=True).click()
    expect(chat_log(bob)).to_contain_text(f"ann: {text}")
    expect(chat_log(alice)).to_contain_text(f"ann: {text}")
    assert bob.locator("#chat-log b, #chat-log img").count() == 0  # text, never HTML
    bob.get_by_label("Message").fill("hello back")
    bob.get_by_label("Message").press("Enter")
    expect(chat_log(alice)).to_contain_text("ben: hello back")
    for page in (alice, bob):
        expect(page.get_by_label("Message")).to_have_value("")  # emptied once sent


def test_the_other_side_is_told_of_a_mute_and_the_camera(in_call):
    alice, bob = in_call("cat", "dan")
    alice.get_by_role("button", name="Mute", exact=True).click()
    expect(status(bob)).to_have_text("cat muted.")
    expect(bob.locator("#peer-state")).to_have_text("cat: muted")
    alice.get_by_role("button", name="Camera off").click()
    expect(status(bob)).to_have_text("cat turned the camera off.")
    expect(bob.locator("#peer-state")).to_have_text("cat: muted · camera off")
    alice.get_by_role("button", name="Unmute").click()
    alice.get_by_role("button", name="Camera on").click()
    expect(status(bob)).to_have_text("cat turned the camera on.")
    expect(bob.locator("#peer-state")).to_be_hidden()


def test_sharing_the_screen_replaces_the_sent_video_and_goes_back_to_the_camera(in_call):
    alice, bob = in_call("eve", "fay")
    camera = alice.evaluate(SENT_VIDEO_LABEL)
    assert camera.startswith("fake_device")
    signals_before = alice.evaluate("() => window.peerConnections.at(-1).localDescription.sdp")
    alice.get_by_role("button", name="Share screen").click()
    stop = alice.get_by_role("button", name="Stop sharing")
    expect(stop).to_have_attribute("aria-pressed", "true")
    alice.wait_for_function(f"() => ({SENT_VIDEO_LABEL})().startsWith('screen')")
    expect(status(bob)).to_have_text("eve is sharing the screen.")
    expect_video_playing(bob, "Remote video")  # the screen's frames arrive
    # replaceTrack: the same sender, no new offer.
    assert alice.evaluate("() => window.peerConnections.at(-1).localDescription.sdp") == signals_before
    stop.click()
    expect(alice.get_by_role("button", name="Share screen")).to_have_attribute("aria-pressed", "false")
    alice.wait_for_function(f"() => ({SENT_VIDEO_LABEL})() === {camera!r}")
    expect(status(bob)).to_have_text("eve stopped sharing the screen.")
    expect_video_playing(bob, "Remote video")

    # The browser's own "Stop sharing" ends the screen's track: back to the camera too.
    alice.get_by_role("button", name="Share screen").click()
    alice.wait_for_function(f"() => ({SENT_VIDEO_LABEL})().startsWith('screen')")
    alice.evaluate("() => document.getElementById('local-video').srcObject.getVideoTracks()[0].stop()")
    # A track stopped by the page fires no `ended`; the browser's button does. Say it as the browser would.
    alice.evaluate(
        "() => document.getElementById('local-video').srcObject.getVideoTracks()[0]"
        ".dispatchEvent(new Event('ended'))"
    )
    alice.wait_for_function(f"() => ({SENT_VIDEO_LABEL})() === {camera!r}")
    expect(alice.get_by_role("button", name="Share screen")).to_be_visible()


def test_a_closed_tab_ends_the_call_within_ten_seconds_but_a_reload_keeps_it(in_call):
    alice, bob = in_call("gil", "hal")
    alice.reload()
    expect_in_call(alice, "hal")
    expect_in_call(bob, "gil")
    time.sleep(PEER_GONE_S + 1)  # past the wait for a page that went: the reloaded one came back
    expect(bob.get_by_role("button", name="Hang up")).to_be_visible()
    expect(status(bob)).to_have_text("In a call with gil.")

    closed = time.monotonic()
    alice.close()
    expect(status(bob)).to_have_text("gil closed the call.")
    assert time.monotonic() - closed < 10.0  # not the server's 30 s grace period
    expect_idle(bob)


def test_the_quality_panel_shows_round_trip_loss_and_video(in_call):
    alice, bob = in_call("ivy", "jon")
    label = alice.locator("#call-label")  # the peer's name and the call's time, on the video
    expect(label).to_have_text(re.compile(r"^jon · 0:0\d$"))
    first = label.inner_text()
    expect(label).not_to_have_text(first)  # the time goes on
    expect(bob.locator("#call-label")).to_contain_text("ivy · 0:")
    button = alice.get_by_role("button", name="Call quality")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    panel = alice.get_by_role("region", name="Call quality")
    expect(panel).to_contain_text(re.compile(r"Round trip\s*\d+ ms"))
    expect(panel).to_contain_text(re.compile(r"Packet loss\s*\d+(\.\d)? %"))
    expect(panel).to_contain_text(re.compile(r"Received\s*\d+ kbit/s"))
    expect(panel).to_contain_text(re.compile(r"Video received\s*\d+×\d+, \d+ frames/s, \w+"))
    expect(panel).to_contain_text("Route" + "direct")
    expect(alice.get_by_role("alert")).to_have_count(0)  # on loopback the connection is not poor
    button.click()
    expect(panel).to_be_hidden()
    alice.get_by_role("button", name="Hang up").click()
    expect(label).to_be_hidden()


def test_choosing_another_microphone_changes_the_sent_track_keeps_the_call_and_is_remembered(in_call):
    alice, bob = in_call("kim", "lou")
    microphone = alice.get_by_label("Microphone")
    expect(microphone).to_be_enabled()
    expect(microphone.locator("option")).to_have_count(3)  # the three fake microphones
    first = alice.evaluate(SENT_LABEL, "audio")
    assert first != "Fake Audio Input 2"
    microphone.select_option(label="Fake Audio Input 2")
    alice.wait_for_function(f"() => ({SENT_LABEL})('audio') === 'Fake Audio Input 2'")
    # The same sender (no new offer), and the call goes on.
    expect_in_call(bob, "kim")
    expect(alice.get_by_role("button", name="Hang up")).to_be_visible()
    expect(alice.get_by_label("Camera", exact=True)).to_be_enabled()
    alice.get_by_role("button", name="Hang up").click()
    expect_idle(alice)

    alice.reload()  # the choice is kept in this browser
    expect(alice.get_by_label("Microphone")).to_have_value(
        alice.evaluate("() => localStorage.getItem('microphone')")
    )
    alice.wait_for_function(
        "() => document.getElementById('local-video').srcObject?.getAudioTracks()[0]?.label"
        " === 'Fake Audio Input 2'"
    )


def test_a_remembered_device_that_is_gone_gives_way_to_the_default(joined):
    page = joined("max")
    page.evaluate("() => ['microphone', 'camera'].forEach((key) => localStorage.setItem(key, 'gone'))")
    page.reload()
    expect_video_playing(page, "Local video")
    expect(page.locator("#media-problem")).to_be_hidden()
    expect(page.get_by_label("Microphone")).to_have_value("default")


def test_keys_m_and_v_mute_and_turn_the_camera_off_but_not_while_typing_and_the_lobby_makes_way(in_call):
    alice, bob = in_call("ned", "ola")
    for page in (alice, bob):
        expect(page.get_by_role("region", name="Invite someone")).to_be_hidden()
        expect(page.get_by_role("button", name="Check connection")).to_be_hidden()
    expect(alice.get_by_text("Keys: M mute or unmute, V camera off or on.")).to_be_visible()
    alice.locator("body").press("m")
    expect(alice.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    expect(status(bob)).to_have_text("ned muted.")
    alice.locator("body").press("v")
    expect(alice.get_by_role("button", name="Camera on")).to_have_attribute("aria-pressed", "true")
    alice.get_by_label("Message").press("m")  # typing a message
    expect(alice.get_by_label("Message")).to_have_value("m")
    expect(alice.get_by_role("button", name="Unmute")).to_be_visible()
    alice.get_by_role("button", name="Hang up").click()
    expect(alice.get_by_role("region", name="Invite someone")).to_be_visible()


def test_a_file_arrives_byte_for_byte_with_progress_on_both_sides(in_call, tmp_path):
    alice, bob = in_call("pia", "quin")
    data = os.urandom(3 * 1024 * 1024)
    sent = tmp_path / "report <1>.bin"
    sent.write_bytes(data)
    expect(alice.get_by_text("up to 100 MB each", exact=False)).to_be_visible()
    alice.get_by_label("Send file").set_input_files(str(sent))
    expect(alice.get_by_role("progressbar", name="Sending report <1>.bin")).to_be_visible()
    expect(bob.get_by_role("progressbar", name="Receiving report <1>.bin")).to_be_visible()
    save = bob.get_by_role("link", name="Save report <1>.bin")
    expect(save).to_be_visible(timeout=30_000)
    expect(alice.get_by_role("region", name="Files")).to_contain_text("Sent.")
    with bob.expect_download() as download_info:
        save.click()
    download = download_info.value
    # The page names it as it came (link text, download attribute); Chromium makes < and > safe on disk.
    assert download.suggested_filename == "report _1_.bin"
    kept = tmp_path / "received.bin"
    download.save_as(kept)
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    bob.get_by_role("button", name="Hang up").click()
    expect(save).to_be_visible()  # still there to be saved after the call


def test_a_transfer_cancelled_on_one_side_stops_on_both(in_call, tmp_path):
    alice, bob = in_call("rex", "sue")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(90 * 1024 * 1024))
    alice.get_by_label("Send file").set_input_files(str(big))
    bob.get_by_role("button", name="Cancel big.bin").click()
    expect(bob.get_by_role("region", name="Files")).to_contain_text("Cancelled.")
    expect(alice.get_by_role("region", name="Files")).to_contain_text("Cancelled by the other side.")
    expect(bob.get_by_role("link", name="Save big.bin")).to_have_count(0)
