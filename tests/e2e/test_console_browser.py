"""The browser console (GET / on the local runner) in real headless Chromium.

Playwright's Python package drives Debian's system Chromium (/usr/bin/chromium, installed by
.ci/run): no browser is downloaded. The test types as Olivia, reads Sam's phone, replies as
Sam, reads Olivia's phone, and checks that Olivia's phone never shows Sam's real number.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.demo import http
from local.demo_data import KIM, OLIVIA, PETE, POOL_NUMBERS, SAM

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes prescribe for a closed network: no background connections at all.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The page polls every second, but one webhook can take over 30 s on a loaded machine: the
# runner syncs the outbox to its Airtable stand-in inside the invocation, and when scheduling
# jitter lets a sixth request into the stand-in's one-second window, it answers 429 and
# airtable_sync waits the 30 s Airtable requires before anything else runs
# (https://support.airtable.com/docs/managing-api-call-limits-in-airtable).
WAIT_MS = 60_000


def pretty(e164: str) -> str:
    return f"+1 {e164[2:5]} {e164[5:8]} {e164[8:]}"


def spellings(e164: str) -> list[str]:
    """Every way the page could print a NANP number."""
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return [e164, pretty(e164), e164[2:], f"{area} {exchange} {line}", f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}"]


def post_json(url: str, payload: Any) -> tuple[int, Any]:
    status, body = http("POST", url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    return status, json.loads(body)


# ---------------------------------------------------------------- the endpoints, over HTTP


def test_console_page_and_files_are_served(runner_url: str) -> None:
    status, body = http("GET", f"{runner_url}/")
    assert status == 200 and b"/console/console.js" in body
    for name in ("console.js", "console.css", "pictures/rex.svg"):
        assert http("GET", f"{runner_url}/console/{name}")[0] == 200
    assert http("GET", f"{runner_url}/console/../../local/runner.py")[0] == 404
    assert http("GET", f"{runner_url}/console/nothing.html")[0] == 404


def test_console_send_rejects_bad_input(runner_url: str) -> None:
    url = f"{runner_url}/_local/console/sms"
    assert post_json(url, {"from": "Olivia", "to": SAM.reserved_number, "body": "hi"})[0] == 422
    assert post_json(url, {"from": OLIVIA.phone, "to": SAM.reserved_number, "body": "x" * 1601})[0] == 422
    assert post_json(url, {"from": OLIVIA.phone, "to": SAM.reserved_number, "body": "hi", "media": ["http://x/a.jpg"]})[0] == 422
    assert http("POST", url, b"{not json")[0] == 400
    assert post_json(f"{runner_url}/_local/console/call", {"from": OLIVIA.phone})[0] == 422


# ---------------------------------------------------------------- the page, in Chromium


@pytest.fixture(scope="module")
def console(runner_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium), as .ci/run does")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            tab = context.new_page()
            tab.set_default_timeout(WAIT_MS)
            tab.goto(f"{runner_url}/")
            yield tab
        finally:
            context.close()


def phone(page: Any, key: str) -> Any:
    return page.locator(f'[data-phone="{key}"]')


def send(page: Any, key: str, to: str, text: str, *, photo: int = 0) -> None:
    """Types ``text`` in a phone and sends it; ``photo`` clicks on Photo (1: rex.svg, 2: whiskers.svg)."""
    sender = phone(page, key)
    sender.locator(f'select.to option[value="{to}"]').wait_for(state="attached")
    sender.locator("select.to").select_option(to)
    for _ in range(photo):
        sender.locator("button.photo").click()
    sender.locator("input.text").fill(text)
    sender.locator("button.send").click()
    from playwright.sync_api import expect

    expect(sender.locator(".note")).not_to_have_text("sending…")
    expect(sender.locator(".note")).to_have_text("sent")


def test_masked_conversation_typed_in_the_browser(console: Any, tmp_path: Path) -> None:
    page = console
    from playwright.sync_api import expect

    olivia, sam = phone(page, OLIVIA.client_id), phone(page, SAM.provider_id)
    expect(olivia.locator(".caption", has_text=f"sees Sam as {pretty(SAM.reserved_number or '')}")).to_be_visible()

    # Olivia types to Sam's business number, with a picture
    question = "Hi Sam, how is Rex?"  # the runner is this module's own: no text was sent before
    send(page, OLIVIA.client_id, SAM.reserved_number or "", question, photo=1)

    # Sam's phone: a thread from a pool number, the text prefixed with her name, the picture shown
    received = sam.locator(".thread", has=page.locator(".bubble.in", has_text=question))
    expect(received).to_have_count(1, timeout=WAIT_MS)
    pool_number = received.get_attribute("data-number")
    assert pool_number in POOL_NUMBERS
    expect(received.locator(".bubble.in", has_text=question).locator(".body")).to_have_text(f"From Olivia Owner: {question}")
    expect(received.locator(".thread-head")).to_contain_text(f"Olivia{pretty(pool_number)}")
    expect(sam.locator(".caption", has_text=f"sees Olivia as {pretty(pool_number)}")).to_be_visible()
    picture = received.locator("img.picture").first
    expect(picture).to_have_attribute("src", "/console/pictures/rex.svg")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())

    # Sam replies in that thread; Olivia's phone shows it from Sam's reserved number
    reply = "Rex is great, he just had a nap."
    send(page, SAM.provider_id, pool_number, reply)
    thread = olivia.locator(f'.thread[data-number="{SAM.reserved_number}"]')
    expect(thread.locator(".bubble.in", has_text=reply)).to_have_count(1, timeout=WAIT_MS)
    expect(thread.locator(".bubble.in .body").last).to_have_text(reply)  # no prefix towards the client
    expect(thread.locator(".bubble.out", has_text=question)).to_have_count(1)

    # Olivia calls Sam: Sam's phone rings, showing the same pool number as caller ID
    olivia.locator("select.to").select_option(SAM.reserved_number)
    olivia.locator("button.call").click()
    expect(olivia.locator(".note")).to_contain_text("Sam's phone rings")
    expect(sam.locator(f'.thread[data-number="{pool_number}"] .bubble.in.call')).to_have_text("Incoming call")
    expect(page.locator("#calls")).to_contain_text(pretty(pool_number))

    # the operator panel: the lease, the pool, the Airtable stand-in
    expect(page.locator("#leases")).to_contain_text(pretty(pool_number))
    expect(page.locator("#pool")).to_contain_text("utilization")
    expect(page.locator("#airtable")).to_contain_text("Messages")
    # the fault switches reach the runner's /_local/faults (and "off" leaves none on)
    page.locator("#faults button", has_text="Twilio 5xx 30 %").click()
    expect(page.locator("#fault-result")).to_contain_text('"twilio_5xx": 0.3', timeout=WAIT_MS)
    page.locator("#faults button", has_text="off").click()
    expect(page.locator("#fault-result")).to_contain_text("off: 200", timeout=WAIT_MS)

    # nowhere in Olivia's phone (text, attributes, option values) is Sam's real number
    shown, markup = olivia.inner_text(), olivia.inner_html()
    for spelling in spellings(SAM.phone):
        assert spelling not in shown and spelling not in markup, f"Olivia's phone shows Sam's real number as {spelling!r}"
    # and nowhere in Sam's phone is Olivia's
    shown, markup = sam.inner_text(), sam.inner_html()
    for spelling in spellings(OLIVIA.phone):
        assert spelling not in shown and spelling not in markup, f"Sam's phone shows Olivia's real number as {spelling!r}"

    # Pete texts Kim, and a number nobody knows texts Sam: each sitter gets one thread per client
    send(page, PETE.client_id, KIM.reserved_number or "", "Are you free next week for Whiskers?", photo=2)
    kim_thread = phone(page, KIM.provider_id).locator(".thread", has_text="From Pete Parent: Are you free next week for Whiskers?")
    expect(kim_thread).to_have_count(1)
    assert kim_thread.get_attribute("data-number") in POOL_NUMBERS
    expect(kim_thread.locator("img.picture")).to_have_attribute("src", "/console/pictures/whiskers.svg")
    send(page, "new-number", SAM.reserved_number or "", "Hello, I found your flyer. Do you sit cats?")
    new_thread = sam.locator(".thread", has_text="Hello, I found your flyer.")
    expect(new_thread.locator(".thread-name")).to_have_text("New client")
    assert new_thread.get_attribute("data-number") in set(POOL_NUMBERS) - {pool_number}

    screenshot = tmp_path / "console.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("CONSOLE_SCREENSHOT"):  # regenerate docs/console.png: CONSOLE_SCREENSHOT=docs/console.png
        shutil.copyfile(screenshot, os.environ["CONSOLE_SCREENSHOT"])
