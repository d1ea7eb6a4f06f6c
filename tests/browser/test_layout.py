"""The call screen on a phone."""

import pytest
from playwright.sync_api import expect

from tests.support.browser_steps import call_button, join

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_phone_width_fits_without_horizontal_scrolling(open_page):
    page = open_page("/", **PHONE)
    join(page, "kate")
    width = PHONE["viewport"]["width"]

    expect(call_button(page)).to_be_visible()
    for name in ("Remote video", "Local video"):
        expect(page.get_by_label(name)).to_be_visible()
    for locator in (call_button(page), page.get_by_label("Remote video"), page.get_by_label("Local video")):
        box = locator.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (locator, box)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page is {scroll_width} px wide on a {width} px screen"
