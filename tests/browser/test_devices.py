"""A second device for a name in real browsers: a one-time link used once, and a removed device."""

from playwright.sync_api import expect

from tests.support.browser_steps import join


def test_a_link_signs_another_browser_in_once_and_a_removed_device_is_signed_out(joined, open_page):
    laptop = joined("alice")
    laptop.get_by_text("Your devices").click()
    laptop.get_by_role("button", name="Link another device").click()
    url = laptop.locator("#device-link-url").inner_text()
    assert "/device/" in url

    phone = open_page("/")
    phone.goto(url)
    expect(phone.get_by_text("Your ID: alice", exact=True)).to_be_visible()

    thief = open_page("/")
    thief.goto(url)
    expect(thief.get_by_text("This link has been used or has expired.", exact=False)).to_be_visible()
    thief.goto(url.split("/device/")[0] + "/")
    join(thief, "mallory")  # it may join under a name of its own, not as alice

    laptop.reload()
    laptop.get_by_text("Your devices").click()
    devices = laptop.locator("#device-list li")
    expect(devices).to_have_count(2)
    other = devices.filter(has_not_text="(this browser)")
    other.get_by_role("button", name="Remove").click()
    laptop.get_by_text("Your devices").click()
    expect(laptop.locator("#device-list li")).to_have_count(1)

    # Signed out at once, without a reload: its page goes to the join form.
    expect(phone.get_by_label("Your name")).to_be_visible()
    phone.get_by_label("Your name").fill("alice")
    phone.get_by_role("button", name="Join").click()
    expect(phone.get_by_text("That name is registered to someone else. Pick another one.")).to_be_visible()
