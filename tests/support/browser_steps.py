"""What a person does on the call page, and what they can see, by accessible names."""

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

# How long media may take to flow once a call is accepted (ICE, decoders).
MEDIA_TIMEOUT_MS = 20_000

# What a video element shows, as a function of its CSS selector.
VIDEO_STATE = """s => {
  const v = document.querySelector(s);
  return {
    srcObject: v.srcObject ? "a stream" : null,
    videoWidth: v.videoWidth,
    currentTime: v.currentTime,
    frames: v.getVideoPlaybackQuality().totalVideoFrames,
    paused: v.paused,
  };
}"""


def video(label: str) -> str:
    """A CSS selector for the video with this aria-label, for page.evaluate()."""
    return f'video[aria-label="{label}"]'


def join(page: Page, name: str) -> None:
    """Type a name in the join form and press Join; the call screen follows."""
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_text(f"Your ID: {name}", exact=True)).to_be_visible()


def status(page: Page) -> Locator:
    """The line where the page says what is going on."""
    return page.get_by_role("status")


def call_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Call", exact=True)


def place_call(page: Page, callee: str) -> None:
    """Type the callee's name, press Call, and see the page calling them."""
    page.get_by_label("Enter peer name to call").fill(callee)
    call_button(page).click()
    expect(status(page)).to_have_text(f"Calling {callee}…")
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()


def ring_dialog(page: Page, caller: str) -> Locator:
    return page.get_by_role("dialog", name=f"{caller} is calling")


def answer(page: Page, caller: str) -> None:
    """See the ring dialog for `caller` and press Accept."""
    dialog = ring_dialog(page, caller)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Accept").click()
    expect(dialog).to_be_hidden()


def expect_in_call(page: Page, peer: str) -> None:
    """The call is up: the in-call buttons show and the peer's video plays."""
    expect(page.get_by_role("button", name="Hang up")).to_be_visible()
    expect_video_playing(page, "Remote video")
    expect(status(page)).to_have_text(f"In a call with {peer}.")


def expect_video_playing(page: Page, label: str, timeout: float = MEDIA_TIMEOUT_MS) -> None:
    """The video has a picture, and both its clock and its decoded frames move on."""
    selector = video(label)
    try:
        page.wait_for_function(
            "s => { const v = document.querySelector(s); return v.srcObject && v.videoWidth > 0; }",
            arg=selector,
            timeout=timeout,
        )
        before = page.evaluate(VIDEO_STATE, selector)
        # Half a second of media time and a few new frames: the stream is
        # live, not a last frame left on screen.
        page.wait_for_function(
            f"([s, before]) => {{ const now = ({VIDEO_STATE})(s);"
            " return now.currentTime > before.currentTime + 0.5 && now.frames > before.frames + 5; }",
            arg=[selector, before],
            timeout=timeout,
        )
    except PlaywrightTimeoutError:
        state = page.evaluate(VIDEO_STATE, selector)
        raise AssertionError(
            f"{label} is not playing after {timeout / 1000:g} s: {state}; "
            f"the page says {status(page).text_content()!r}"
        ) from None


def expect_idle(page: Page) -> None:
    """No call: Call is offered again, Hang up is gone and the remote video is empty."""
    expect(call_button(page)).to_be_visible()
    expect(call_button(page)).to_be_enabled()
    expect(page.get_by_role("button", name="Hang up")).to_be_hidden()
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    page.wait_for_function("s => document.querySelector(s).srcObject === null", arg=video("Remote video"))


def local_track_enabled(page: Page, kind: str) -> bool:
    """Whether the page's own audio or video track is enabled (sent as is)."""
    return page.evaluate(
        "([s, kind]) => { const stream = document.querySelector(s).srcObject;"
        " const [track] = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();"
        " return track.enabled; }",
        [video("Local video"), kind],
    )


def connect_call(caller: Page, caller_name: str, callee: Page, callee_name: str) -> None:
    """The caller calls, the callee accepts, and both see the other's video playing."""
    place_call(caller, callee_name)
    answer(callee, caller_name)
    expect_in_call(callee, caller_name)
    expect_in_call(caller, callee_name)
