"""Calls between real browsers, through the real server: the use case and its refusals.

The tests share one server, so each uses names of its own.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import (
    answer,
    call_button,
    connect_call,
    expect_idle,
    expect_in_call,
    expect_video_playing,
    join,
    local_track_enabled,
    place_call,
    ring_dialog,
    status,
)

pytestmark = pytest.mark.browser

# A camera that starts late: getUserMedia() resolves only once the page
# applies the caller's first offer, as when someone accepts a call before
# answering the browser's camera prompt. The page then sends its tracks by
# renegotiating, right after its first answer.
CAMERA_STARTS_AT_FIRST_OFFER = """(() => {
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  let release;
  const released = new Promise((resolve) => (release = resolve));
  navigator.mediaDevices.getUserMedia = (constraints) => {
    const stream = getUserMedia(constraints);
    return released.then(() => stream);
  };
  const setRemoteDescription = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (description) {
    const done = setRemoteDescription.apply(this, arguments);
    if (description && description.type === "offer") release();
    return done;
  };
})();"""


def test_invite_call_mute_camera_and_hang_up(joined, open_page, server):
    alice = joined("alice")
    expect_video_playing(alice, "Local video")
    invite_url = f"{server.url}/call/alice"
    expect(alice.get_by_label("Your invite link")).to_have_value(invite_url)
    mailto = alice.get_by_role("link", name="Invite by email").get_attribute("href")
    assert mailto.startswith("mailto:"), mailto
    assert invite_url in parse_qs(urlsplit(mailto).query)["body"][0], mailto

    # Bob opens the invite link.
    bob = open_page("/call/alice")
    expect(status(bob)).to_contain_text("alice is online")
    join(bob, "bob")
    expect(bob.get_by_label("Enter peer name to call")).to_have_value("alice")
    expect_video_playing(bob, "Local video")
    call_button(bob).click()
    expect(status(bob)).to_have_text("Calling alice…")

    dialog = ring_dialog(alice, "bob")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Decline")).to_be_visible()
    dialog.get_by_role("button", name="Accept").click()

    expect_in_call(alice, "bob")
    expect_in_call(bob, "alice")
    # On one machine the host candidates meet: no relay in between.
    for page in (alice, bob):
        expect(page.get_by_text("Direct connection", exact=True)).to_be_visible()

    mute = bob.get_by_role("button", name="Mute", exact=True)
    mute.click()
    unmute = bob.get_by_role("button", name="Unmute", exact=True)
    expect(unmute).to_be_visible()
    expect(unmute).to_have_attribute("aria-pressed", "true")
    assert local_track_enabled(bob, "audio") is False
    unmute.click()
    expect(mute).to_be_visible()
    assert local_track_enabled(bob, "audio") is True

    bob.get_by_role("button", name="Camera off").click()
    expect(bob.get_by_role("button", name="Camera on")).to_be_visible()
    assert local_track_enabled(bob, "video") is False
    assert local_track_enabled(bob, "audio") is True
    bob.get_by_role("button", name="Camera on").click()
    expect(bob.get_by_role("button", name="Camera off")).to_be_visible()
    assert local_track_enabled(bob, "video") is True

    alice.get_by_role("button", name="Hang up").click()
    expect(status(bob)).to_have_text("alice hung up.")
    expect(status(alice)).to_have_text("Call ended.")
    expect_idle(alice)
    expect_idle(bob)


def test_decline(joined):
    ann = joined("ann")
    ben = joined("ben")

    place_call(ben, "ann")
    dialog = ring_dialog(ann, "ben")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Decline").click()

    expect(status(ben)).to_have_text("ann declined the call.")
    expect(status(ann)).to_have_text("You declined the call.")
    expect(dialog).to_be_hidden()
    expect_idle(ann)
    expect_idle(ben)


def test_cancel_while_ringing(joined):
    iris = joined("iris")
    jack = joined("jack")

    place_call(jack, "iris")
    dialog = ring_dialog(iris, "jack")
    expect(dialog).to_be_visible()
    jack.get_by_role("button", name="Cancel").click()

    expect(dialog).to_be_hidden()
    expect(status(iris)).to_have_text("Missed call: jack cancelled.")
    expect(status(jack)).to_have_text("Call cancelled.")
    expect_idle(iris)
    expect_idle(jack)


def test_busy(joined):
    cara = joined("cara")
    dave = joined("dave")
    place_call(dave, "cara")
    answer(cara, "dave")
    expect(cara.get_by_role("button", name="Hang up")).to_be_visible()
    expect(dave.get_by_role("button", name="Hang up")).to_be_visible()

    erin = joined("erin")
    erin.get_by_label("Enter peer name to call").fill("cara")
    call_button(erin).click()

    expect(status(erin)).to_have_text("cara is in another call and will see that you called.")
    expect_idle(erin)
    # Cara's call goes on, and she was not rung.
    expect(ring_dialog(cara, "erin")).to_be_hidden()
    expect(cara.get_by_role("button", name="Hang up")).to_be_visible()


def test_offline(joined, open_page):
    fred = joined("fred")
    fred.get_by_label("Enter peer name to call").fill("nobody")
    call_button(fred).click()
    expect(status(fred)).to_have_text(
        "nobody is not online. If the name is registered, nobody will see that you called."
    )
    expect_idle(fred)

    invited = open_page("/call/nobody")
    expect(status(invited)).to_contain_text("nobody is offline")


def test_reload_during_a_call_keeps_the_name_and_the_call(joined):
    gina = joined("gina")
    hank = joined("hank")
    connect_call(hank, "hank", gina, "gina")

    gina.reload()
    expect(gina.get_by_text("Your ID: gina", exact=True)).to_be_visible()
    expect(gina.get_by_label("Your name")).to_have_count(0)
    # The reloaded page takes the call back (sessionStorage and `move`): new
    # peer connections on both sides, and video flowing both ways again.
    expect_in_call(gina, "hank")
    expect_in_call(hank, "gina")

    # The caller's reload too (the other side of the negotiation moves).
    hank.reload()
    expect(hank.get_by_text("Your ID: hank", exact=True)).to_be_visible()
    expect_in_call(hank, "gina")
    expect_in_call(gina, "hank")

    hank.get_by_role("button", name="Hang up").click()
    expect(status(gina)).to_have_text("hank hung up.")
    expect_idle(gina)
    expect_idle(hank)


def test_camera_starting_after_the_call_is_accepted(joined, open_page):
    lena = open_page("/")
    lena.context.add_init_script(CAMERA_STARTS_AT_FIRST_OFFER)
    join(lena, "lena")
    mark = joined("mark")

    place_call(mark, "lena")
    answer(lena, "mark")
    # Lena's tracks reach Mark through a second offer, from the polite side.
    expect_in_call(mark, "lena")
    expect_in_call(lena, "mark")
    expect_video_playing(lena, "Local video")


def test_the_other_side_leaves_during_a_call(joined):
    quin = joined("quin")
    rosa = joined("rosa")
    place_call(rosa, "quin")
    answer(quin, "rosa")
    expect(quin.get_by_role("button", name="Hang up")).to_be_visible()

    quin.get_by_role("button", name="Leave").click()
    expect(quin.get_by_label("Your name")).to_be_visible()
    expect(status(rosa)).to_have_text("quin left.")
    expect_idle(rosa)


def test_leave_logs_out_every_tab_of_the_browser(joined):
    tina = joined("tina")
    second_tab = tina.context.new_page()
    second_tab.goto(tina.url)
    expect(second_tab.get_by_role("heading", name="Your ID: tina")).to_be_visible()
    expect(second_tab.get_by_role("button", name="Call")).to_be_enabled()

    tina.get_by_role("button", name="Leave").click()
    expect(tina.get_by_label("Your name")).to_be_visible()
    expect(second_tab.get_by_label("Your name")).to_be_visible()
    # Even a tab that reloads with the cookie it had before stays logged out.
    second_tab.reload()
    expect(second_tab.get_by_label("Your name")).to_be_visible()


def test_check_connection_without_stun_or_turn(joined):
    sara = joined("sara")
    sara.get_by_role("button", name="Check connection").click()
    results = sara.get_by_role("list")
    expect(results).to_contain_text("Camera: working.")
    expect(results).to_contain_text("Microphone: working.")
    expect(results).to_contain_text("offers no STUN or TURN: calls work on the same network only.")
