"""Calls without a camera or microphone: audio only, and receive only.

The page's getUserMedia is made to refuse, as a browser does when the person
blocks the camera, so the page must offer to go on without it.
"""

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import answer, expect_video_playing, join, place_call, status, video

pytestmark = pytest.mark.browser

REFUSE = 'Promise.reject(new DOMException("Permission denied", "NotAllowedError"))'
CAMERA_BLOCKED = f"""(() => {{
  const devices = navigator.mediaDevices;
  const real = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => (constraints && constraints.video ? {REFUSE} : real(constraints));
}})();"""
EVERYTHING_BLOCKED = f"navigator.mediaDevices.getUserMedia = () => {REFUSE};"

LOCAL_TRACKS = """s => {
  const stream = document.querySelector(s).srcObject;
  return stream ? {audio: stream.getAudioTracks().length, video: stream.getVideoTracks().length} : null;
}"""
HEARS_AUDIO = """s => {
  const stream = document.querySelector(s).srcObject;
  return !!stream && stream.getAudioTracks().some(t => t.readyState === "live" && !t.muted);
}"""


def blocked_join(page, name, script):
    page.context.add_init_script(script)
    join(page, name)
    expect(page.get_by_text("Camera and microphone are blocked for this site.")).to_be_visible()


def test_audio_only_when_the_camera_is_blocked(joined, open_page):
    lena = open_page("/")
    blocked_join(lena, "lena", CAMERA_BLOCKED)
    lena.get_by_role("button", name="Continue with audio only").click()
    expect(lena.get_by_role("button", name="Continue with audio only")).to_be_hidden()
    lena.wait_for_function(
        f's => JSON.stringify(({LOCAL_TRACKS})(s)) === \'{{"audio":1,"video":0}}\'', arg=video("Local video")
    )

    mike = joined("mike")
    place_call(mike, "lena")
    answer(lena, "mike")

    expect_video_playing(lena, "Remote video")  # she still sees him
    mike.wait_for_function(HEARS_AUDIO, arg=video("Remote video"), timeout=20_000)  # he hears her
    expect(status(mike)).to_have_text("In a call with lena.")


def test_receive_only_when_everything_is_blocked(joined, open_page):
    nina = open_page("/")
    blocked_join(nina, "nina", EVERYTHING_BLOCKED)
    nina.get_by_role("button", name="Continue with audio only").click()
    # Audio is blocked too: the page says so again and keeps the choices.
    expect(nina.get_by_text("Camera and microphone are blocked for this site.")).to_be_visible()
    nina.get_by_role("button", name="Continue without camera and microphone").click()
    expect(nina.get_by_role("button", name="Continue without camera and microphone")).to_be_hidden()
    assert nina.evaluate(LOCAL_TRACKS, video("Local video")) == {"audio": 0, "video": 0}

    oscar = joined("oscar")
    place_call(nina, "oscar")
    answer(oscar, "nina")

    expect_video_playing(nina, "Remote video")
    nina.wait_for_function(HEARS_AUDIO, arg=video("Remote video"), timeout=20_000)
    expect(status(oscar)).to_have_text("In a call with nina.")
