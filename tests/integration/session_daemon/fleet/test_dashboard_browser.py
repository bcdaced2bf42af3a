"""The fleet dashboard in a real headless browser: Debian's Chromium driven by Playwright.

A daemon runs on SQLite with the simulated transport. The operator signs in with the service
token, adds a number from the page, sees its QR, asks for a pairing code (confirming the phone
number), the phone pairs (simulator) and the row turns connected without the page reloading (the
pairing code's notice goes); a message arrives and the row's counters move; a number that never
had auto-reply on offers to turn it on; they pause it through its confirmation dialog.
Screenshots of each state, at a desktop and a phone size, go to `test-artifacts/dashboard/`
(git-ignored) for a person to look at.

Chromium starts once for the module. Playwright cannot download browsers here: it launches
`/usr/bin/chromium` (the bootstrap installs the `chromium` package) with a fresh profile of its
own (Playwright makes a new temporary user data dir per launch), headless, no sandbox (the
tests run as root), and without Chrome's background services, which would try the network.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.daemon import REPO_ROOT, DaemonProcess

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "dashboard"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CLIENT = "+40733111222"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # no skip when Chromium is missing: the bootstrap installs it, so its absence is a failure
    assert CHROMIUM.exists(), "run scripts/bootstrap.sh: it installs Debian's chromium"
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def new_page(browser: Browser, *, phone: bool) -> Page:
    """A fresh context (own storage): a desktop window, or a phone's viewport and touch."""
    if phone:
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
        )
    else:
        context = browser.new_context(viewport={"width": 1366, "height": 820})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def sign_in(browser: Browser, d: DaemonProcess) -> Page:
    page = new_page(browser, phone=True)
    page.goto(d.base_url + "/")
    page.fill("input[name=token]", d.token)
    page.click("text=Sign in")
    expect(page.locator("main[data-view=fleet]")).to_be_visible()
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_pairs_a_number_and_pauses_auto_reply(
    browser: Browser, daemon: DaemonProcess
) -> None:
    d = daemon
    desktop = new_page(browser, phone=False)
    errors: list[str] = []
    desktop.on("pageerror", lambda exc: errors.append(str(exc)))
    desktop.goto(d.base_url + "/")
    expect(desktop.locator("input[name=token]")).to_be_visible()
    shot(desktop, "01-sign-in-desktop")
    desktop.fill("input[name=token]", "not-the-token")
    desktop.click("text=Sign in")
    expect(desktop.locator("#notice")).to_have_text("That token is not valid.")
    desktop.fill("input[name=token]", d.token)
    desktop.click("text=Sign in")
    expect(desktop.locator("#empty")).to_have_text("No numbers yet: add one.")

    # add a number from the page: its row shows the QR (only to this signed-in operator)
    desktop.fill("#add input[name=name]", "Sales <b>1</b>")
    desktop.fill("#add input[name=phone]", "0722 000 001")
    desktop.click("text=Add number")
    row = desktop.locator("tr[data-account]")
    expect(row.locator(".status")).to_have_text("qr ready")
    expect(row.locator(".qr img")).to_be_visible()
    expect(row.locator("td.name div").first).to_have_text("Sales <b>1</b>")  # text, not HTML
    account = row.get_attribute("data-account")
    assert account
    desktop.evaluate("window.__sameDocument = true")
    shot(desktop, "02-qr-desktop")
    # or a pairing code for the number's phone, after checking the number in the dialog
    row.locator("button[data-action=pairing-code]").click()
    expect(desktop.locator("#confirm-phone")).to_have_value("+40722000001")
    desktop.locator("#confirm-ok").click()
    expect(desktop.locator("#notice")).to_contain_text("Pairing code for Sales <b>1</b>: ")
    expect(row.locator(".qr .code")).to_contain_text("Code: ")
    phone = sign_in(browser, d)
    expect(phone.locator("tr[data-account] .qr img")).to_be_visible()
    shot(phone, "02-qr-phone")

    # the phone scans: the row turns connected by itself, without a reload
    assert d.post(f"/api/simulator/pair/{account}", {}).status == 200
    expect(row.locator(".status")).to_have_text("connected")
    expect(row.locator(".qr")).to_be_hidden()
    expect(desktop.locator("#notice")).to_have_text("")  # the pairing code's notice is gone
    reply = d.post(f"/api/simulator/messages/{account}", {"from": CLIENT, "text": "Bună"})
    assert reply.status == 200, reply.body
    expect(row.locator("td[data-label='Today in / out']")).to_have_text("1 / 0")
    expect(row.locator("td[data-label='Last inbound']")).to_have_text("just now")
    expect(row.locator("td[data-label=Owner]")).to_contain_text("(this daemon)")
    assert desktop.evaluate("window.__sameDocument") is True
    shot(desktop, "03-connected-desktop")
    expect(phone.locator("tr[data-account] .status")).to_have_text("connected")
    shot(phone, "03-connected-phone")

    # a number that never had auto-reply on offers to turn it on (not to "resume" it)
    expect(row.locator("button[data-action=turn-on]")).to_have_text("Turn on auto-reply")
    # pause auto-reply: a confirmation first; Cancel changes nothing, Confirm pauses it
    d.post(f"/api/whatsapp/auto-reply-settings/{account}", {"enabled": True})
    pause = row.locator("button[data-action=pause]")
    expect(pause).to_have_text("Pause auto-reply")
    pause.click()
    dialog = desktop.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Pause auto-reply on Sales <b>1</b>?")
    shot(desktop, "04-confirm-desktop")
    dialog.locator("text=Cancel").click()
    expect(dialog).to_be_hidden()
    assert d.get(f"/api/whatsapp/auto-reply-settings/{account}").json()["enabled"] is True
    phone.locator("tr[data-account] button[data-action=pause]").click()
    expect(phone.locator("dialog#confirm")).to_be_visible()
    shot(phone, "04-confirm-phone")
    phone.locator("dialog#confirm >> text=Cancel").click()
    pause.click()
    dialog.locator("#confirm-ok").click()
    expect(row.locator("button[data-action=turn-on]")).to_have_text("Turn on auto-reply")
    assert d.get(f"/api/whatsapp/auto-reply-settings/{account}").json()["enabled"] is False
    shot(desktop, "05-paused-desktop")

    # signing out forgets the token: the page is the sign-in form again
    desktop.click("text=Sign out")
    expect(desktop.locator("input[name=token]")).to_be_visible()
    assert desktop.evaluate("sessionStorage.getItem('sp_token')") is None
    assert errors == []
