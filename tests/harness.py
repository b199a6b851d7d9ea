"""The whole platform wired as ``run.py`` wires it, with the console messenger, a fake clock
and a real HTTP server on 127.0.0.1 for the checkout page."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.bootstrap import Platform, build_platform, configured_gateways
from app.lifecycle import open_sandbox
from app.settings import Settings
from bots.console import ConsoleChat, ConsoleMessenger
from core.clock import FakeClock
from core.ports import UnitOfWorkFactory
from core.school import School
from payments.telegram import TelegramGateway
from web.app import add_home


class _Forms(HTMLParser):
    """Collects each form's action and hidden fields from the checkout page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "fields": {}})
        elif tag == "input" and self.forms:
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def checkout_forms(html: str, page_url: str) -> dict[str, dict]:
    """outcome ("pay" / "decline") -> {"url": where the form posts, "fields": {...}}"""
    parser = _Forms()
    parser.feed(html)
    return {
        form["fields"]["outcome"]: {**form, "url": urljoin(page_url, form["action"])}
        for form in parser.forms
    }


class InChatPayments:
    """Telegram's payments API as the Telegram gateway sees it, over a test's ``refunds``."""

    def __init__(self, refunds) -> None:
        self.refund = refunds

    async def set_star_subscription(self, user_id: str, charge_id: str, on: bool) -> None:
        raise AssertionError("a console chat has no Stars subscriptions to switch")


class Harness:
    def __init__(self, uow_factory: UnitOfWorkFactory, school: School, clock: FakeClock,
                 invoices: frozenset[str] = frozenset(), refunds=None,
                 test_payments: bool = True, gateways: dict | None = None,
                 console: ConsoleMessenger | None = None):
        self.clock = clock
        self.console = console or ConsoleMessenger(invoices=invoices)
        self.settings = Settings(_env_file=None, secret_key="s" * 32, port=8080,
                                 test_payments=test_payments)
        self.platform = build_platform(
            self.settings, school, uow_factory, clock, channels={"console": self.console},
            gateways={**configured_gateways(self.settings, clock),
                      **(gateways or {}),
                      **({"telegram": TelegramGateway(InChatPayments(refunds))} if refunds
                         else {})},
        )
        add_home(self.platform.app)
        self.uow_factory = uow_factory
        self.server: TestServer | None = None
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Harness:
        await self.console.run(self.platform.flows.handle)
        self.server = TestServer(self.platform.app, host="127.0.0.1")
        await self.server.start_server()
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.close()
        await self.server.close()

    def chat(self, user_id: str = "1001", name: str = "Anna", language: str = "en") -> ConsoleChat:
        return self.console.chat(user_id, name, language)

    def url(self, absolute: str) -> str:
        """The checkout link a student got, pointed at this test server."""
        parts = urlsplit(absolute)
        return str(self.server.make_url(parts.path))

    async def checkout_forms(self, link: str) -> dict[str, dict]:
        status, html = await self.open_checkout(link)
        assert status == 200, html
        return checkout_forms(html, self.url(link))

    async def open_checkout(self, link: str) -> tuple[int, str]:
        async with self.http.get(self.url(link)) as response:
            return response.status, await response.text()

    async def submit(self, form: dict, **tamper: str) -> tuple[int, str]:
        fields = {**form["fields"], **tamper}
        async with self.http.post(form["url"], data=fields) as response:
            return response.status, await response.text()

    async def pay(self, link: str, outcome: str = "pay") -> tuple[int, str]:
        status, html = await self.open_checkout(link)
        assert status == 200, html
        return await self.submit(checkout_forms(html, self.url(link))[outcome])

    async def deliver(self) -> int:
        """Send everything the outbox holds that is due, as the dispatcher would."""
        return await self.platform.dispatcher.drain()

    async def sweep(self) -> dict[str, int]:
        done = await self.platform.run_sweeps()
        await self.deliver()
        return done


@contextlib.asynccontextmanager
async def sandbox_server(tmp_path: Path, school: School, home: bool = False
                         ) -> AsyncIterator[tuple[aiohttp.ClientSession, Platform]]:
    """The sandbox as ``run.py`` serves it under ``/sandbox`` (``home``: ``/`` leads there),
    its own SQLite file in ``tmp_path``; a client of it, and its platform."""
    settings = Settings(_env_file=None, secret_key="s" * 32,
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/school.db",
                        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path}/sandbox.db")
    platform, engine = await open_sandbox(settings, school)
    await platform.channels["sandbox"].run(platform.flows.handle)
    app = web.Application()
    if home:
        add_home(app, "/sandbox/")
    app.add_subapp("/sandbox", platform.app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(server.make_url("/")) as http:
            yield http, platform
    finally:
        await server.close()
        await engine.dispose()
