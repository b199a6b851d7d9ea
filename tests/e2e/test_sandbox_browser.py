"""A newcomer's first minute, in a real browser: open the sandbox, buy a course through the
test checkout page, get the first lesson, move the clock and get the next one.

Drives Debian's Chromium (``/usr/bin/chromium``, or ``CHROMIUM``) with Playwright against
``run.py`` started as a process. Leaves a screenshot in ``test-artifacts/``."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _require_browser():
    missing = []
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def platform_url(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SCHOOL_FILE")}
    env["SCHOOL_FILE"] = str(ROOT / "school.example.yaml")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{url}/healthz"):
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    yield url
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]


async def test_buy_a_course_and_watch_the_next_lesson_arrive(platform_url):
    _require_browser()
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page = await context.new_page()
        try:
            await page.goto(platform_url + "/")
            await expect(page).to_have_url(platform_url + "/sandbox/")
            await expect(page.locator("header")).to_contain_text("Pixel School")
            await expect(page.locator("header")).to_contain_text("sandbox.db")
            await expect(page.locator(".chat-head")).to_contain_text("Anna (en)")

            chat = page.locator("#chat")
            await page.get_by_role("button", name="/start").click()
            await chat.get_by_role("button", name="📚 Courses").click()
            await chat.get_by_role("button", name="Python from zero — forever").click()
            await chat.get_by_role("button", name="💳 Buy for 49.90 EUR").click()

            async with context.expect_page() as checkout_info:
                await chat.get_by_role("link", name="💳 Pay 49.90 EUR").click()
            checkout = await checkout_info.value
            await expect(checkout.locator("#price")).to_have_text("49.90 EUR")
            await checkout.get_by_role("button", name="Pay 49.90 EUR").click()
            await expect(checkout.locator("#result")).to_have_attribute("data-status", "paid")
            await checkout.close()

            await expect(chat).to_contain_text("Payment received! Order #1")
            first = chat.get_by_role("link", name="▶️ Install Python and say hello")
            await expect(first).to_have_attribute(
                "href", "https://pixel-school.example/python/intro")
            await expect(chat).not_to_contain_text("Variables and types is open")

            await page.get_by_role("button", name="+1 day").click()
            await expect(page.locator("#moved")).to_contain_text("1 day")
            await expect(chat).to_contain_text(
                "A new lesson of “Python from zero” is open: Variables and types")
            await expect(chat.get_by_role("link", name="▶️ Variables and types")).to_be_visible()
        finally:
            await page.screenshot(path=str(ARTIFACTS / "sandbox-chat.png"), full_page=True)
            await browser.close()


async def test_on_a_phone_send_fits_and_an_edited_message_comes_into_view(platform_url):
    """390 px wide (a common phone): nothing is cut off, and a message that grows when it is
    edited in place (the menu becoming the catalog) is scrolled into view."""
    _require_browser()
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await context.new_page()
        try:
            await page.goto(platform_url + "/sandbox/")
            await expect(page.locator(".chat-head")).to_contain_text("Anna (en)")
            send = page.get_by_role("button", name="Send", exact=True)
            await expect(send).to_be_in_viewport(ratio=1)
            box = await send.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
            assert box["y"] + box["height"] <= 844, box
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390

            chat = page.locator("#chat")
            for _ in range(3):  # enough history that the newest menu sits at the bottom
                await page.get_by_role("button", name="/start").click()
                await expect(chat.locator(".msg.bot")).not_to_have_count(0)
            await expect(chat.locator(".msg.bot")).to_have_count(3)
            menu = chat.locator(".msg.bot").last
            await menu.get_by_role("button", name="📚 Courses").click()
            await expect(menu).to_contain_text("Choose what you'd like to learn")
            # The edited message is scrolled into view: its end, with Back, is on screen (the
            # catalog may be taller than a phone's chat area).
            await expect(menu.get_by_role("button", name="⬅️ Back")).to_be_in_viewport(ratio=1)
            # The chat scrolled, not the page: the header and the composer are still there.
            await expect(send).to_be_in_viewport(ratio=1)
            await expect(page.locator("header")).to_be_in_viewport(ratio=1)
            assert await page.evaluate("document.scrollingElement.scrollTop") == 0
        finally:
            await page.screenshot(path=str(ARTIFACTS / "sandbox-phone.png"))
            await browser.close()
