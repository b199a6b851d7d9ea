"""Retake the README's sandbox screenshots: docs/student-card.png, docs/stats-sandbox.png
and docs/automations.png.

Starts ``run.py`` on a free port in a throwaway directory (so a fresh sandbox.db), has Anna
buy a course through the test checkout page, then as the owner Olga sends ``/find Anna``,
``/stats`` and ``/automations welcome`` (Anna's welcome sequence waits for its second day).
Needs Playwright and Chromium, as tests/e2e does. Run by hand: ``python docs/shots.py``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PHONE = {"width": 480, "height": 1280}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_platform(workdir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SCHOOL_FILE")}
    env["SCHOOL_FILE"] = str(ROOT / "school.example.yaml")
    process = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "--port", str(port)],
                               env=env, cwd=workdir, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("run.py did not answer on /healthz")


def anna_buys_a_course(page, context) -> None:
    chat = page.locator("#chat")
    page.get_by_role("button", name="/start").click()
    chat.get_by_role("button", name="📚 Courses").click()
    chat.get_by_role("button", name="Python from zero — forever").click()
    chat.get_by_role("button", name="💳 Buy for 49.90 EUR").click()
    with context.expect_page() as checkout_info:
        chat.get_by_role("link", name="💳 Pay 49.90 EUR").click()
    checkout = checkout_info.value
    checkout.get_by_role("button", name="Pay 49.90 EUR").click()
    expect(checkout.locator("#result")).to_have_attribute("data-status", "paid")
    checkout.close()
    expect(chat).to_contain_text("Payment received!")


def olga_sends(page, command: str) -> None:
    page.locator("#text").fill(command)
    page.get_by_role("button", name="Send", exact=True).click()


def shoot_last_exchange(page, path: Path) -> None:
    """The chat's head, then only the last command and its answer, cropped under the answer."""
    page.locator("#chat").evaluate("""chat => {
        const mine = [...chat.querySelectorAll('.msg.student')].pop();
        while (chat.firstElementChild !== mine) chat.firstElementChild.remove();
        chat.scrollTop = 0;
    }""")
    head = page.locator("main").bounding_box()
    answer = page.locator("#chat .msg.bot").last.bounding_box()
    height = answer["y"] + answer["height"] + 12 - head["y"]
    page.screenshot(path=str(path), clip={**head, "height": height})


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        process, url = start_platform(workdir)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                context = browser.new_context(viewport=PHONE, device_scale_factor=1)
                page = context.new_page()
                page.goto(url + "/sandbox/")
                expect(page.locator(".chat-head")).to_contain_text("Anna (en)")
                anna_buys_a_course(page, context)

                page.locator("#students li", has_text="Olga").click()
                expect(page.locator(".chat-head")).to_contain_text("Olga")
                chat = page.locator("#chat")
                olga_sends(page, "/find Anna")
                expect(chat.locator(".msg.bot").last).to_contain_text("49.90")
                shoot_last_exchange(page, DOCS / "student-card.png")

                olga_sends(page, "/stats")
                chart = chat.locator("img.photo").last
                expect(chart).to_be_visible()
                page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                       arg=chart.element_handle())
                shoot_last_exchange(page, DOCS / "stats-sandbox.png")

                olga_sends(page, "/automations welcome")
                expect(chat.locator(".msg.bot").last).to_contain_text("1 waiting")
                shoot_last_exchange(page, DOCS / "automations.png")
                browser.close()
        finally:
            process.terminate()
            process.wait(60)
    print("wrote docs/student-card.png, docs/stats-sandbox.png and docs/automations.png")


if __name__ == "__main__":
    main()
