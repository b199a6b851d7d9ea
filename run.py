"""The composition root and command line of the school platform.

    python run.py                 start the platform (demo school, SQLite, test payments)
    python run.py --port 9000     the same on another port
    python run.py chat            the same, and chat with the school in this terminal
    python run.py check FILE      validate a school file and list every problem

Settings come from the environment or a ``.env`` file; see the README's reference."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import ipaddress
import logging
import re
import secrets
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import AnyHttpUrl, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.base import Messenger, MessengerError
from core import jobs
from core.clock import OffsetClock, SystemClock
from core.errors import SchoolFileError
from core.ports import Charger, Clock, PaymentGateway, UnitOfWorkFactory
from core.school import School
from core.school_file import load_school
from flows.channel import GroupAdmin
from flows.engine import FlowEngine
from flows.groups import GroupKeeper
from flows.outbound import OutboundDispatcher
from flows.routes import student_router
from observability.logs import configure_logging
from observability.metrics import Metrics
from payments.testgateway import TestGateway
from storage.engine import create_engine, session_factory
from storage.factory import sql_uow_factory
from storage.lease import SchedulerLease
from storage.migrate import migrate
from web.app import add_home, make_app
from web.deps import Deps

log = logging.getLogger("school")
TELEGRAM = "telegram"
VK = "vk"
VIBER = "viber"
# name -> interval in seconds
SWEEPS = {"orders": 300, "lessons": 30, "expiry": 60, "groups": 60, "reminders": 60,
          "renewals": 60}
SWEEP_GRACE = 30  # seconds a sweep in progress may take to finish at shutdown


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///school.db"
    school_file: Path = Path("school.example.yaml")
    public_url: AnyHttpUrl | None = None  # where students' browsers reach this server
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str | None = None  # signs checkout forms; random per start when unset
    test_payments: bool = True  # the built-in test gateway: NEVER on for a live school
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for collectors
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: AnyHttpUrl | None = None  # a self-hosted Bot API server
    telegram_provider_token: SecretStr | None = None  # card payments in the chat
    telegram_webhook_secret: SecretStr | None = None  # required in webhook mode (PUBLIC_URL)
    vk_group_token: SecretStr | None = None  # a VK community's access token (messages)
    vk_group_id: int | None = None
    vk_api_url: AnyHttpUrl | None = None  # another VK API server (tests)
    vk_callback_secret: SecretStr | None = None  # Callback API mode (with PUBLIC_URL)
    vk_confirmation_code: str | None = None  # the Callback API server's confirmation string
    viber_auth_token: SecretStr | None = None
    viber_api_url: AnyHttpUrl | None = None  # another Viber API server (tests)
    sandbox: Literal["auto", "on", "off"] = "auto"  # auto: on when no messenger is configured
    sandbox_database_url: str = "sqlite+aiosqlite:///sandbox.db"
    sandbox_public: bool = False  # serve the sandbox on a non-loopback address too

    @field_validator("sandbox_database_url")
    @classmethod
    def _sandbox_database(cls, value: str) -> str:
        if not value.startswith("sqlite+aiosqlite:///") or value.endswith(":memory:"):
            raise ValueError("the sandbox needs a SQLite file: sqlite+aiosqlite:///sandbox.db")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        # aiogram's own rule (TokenValidationError otherwise), checked before aiogram loads
        if value is not None and not re.fullmatch(r"[0-9]+:\S+", value.get_secret_value()):
            raise ValueError("not a bot token: it looks like 123456789:AAE... (digits, a colon, "
                             "then letters); copy it again from @BotFather")
        return value

    @model_validator(mode="after")
    def _no_free_courses_in_public(self) -> Settings:
        if self.reachable_from_outside and self.test_payments \
                and "test_payments" not in self.model_fields_set:
            where = f"PUBLIC_URL {self.public_url}" if self.public_url_is_public \
                else f"HOST {self.host}"
            raise ValueError(
                f"{where} is reachable from outside and the test gateway (anyone can 'pay' "
                "without money) is on by default: set TEST_PAYMENTS=0 for a live school, "
                "or TEST_PAYMENTS=1 to keep it on deliberately")
        return self

    @property
    def public_url_is_public(self) -> bool:
        return self.public_url is not None and not is_loopback(self.public_url.host or "")

    @property
    def reachable_from_outside(self) -> bool:
        """Listening on a non-loopback address, or published behind a proxy."""
        return not is_loopback(self.host) or self.public_url_is_public

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}",
                                                  value.get_secret_value()):
            raise ValueError("16 to 256 of A-Z a-z 0-9 _ - (Telegram's rule for secret tokens)")
        return value

    @model_validator(mode="after")
    def _telegram_webhook_needs_secret(self) -> Settings:
        if self.telegram_bot_token and self.public_url and not self.telegram_webhook_secret:
            raise ValueError("with PUBLIC_URL the Telegram bot runs on a webhook: set "
                             "TELEGRAM_WEBHOOK_SECRET so forged updates are refused")
        return self

    @model_validator(mode="after")
    def _vk_complete(self) -> Settings:
        if self.vk_group_token and not self.vk_group_id:
            raise ValueError("VK_GROUP_TOKEN needs VK_GROUP_ID (the community's numeric id)")
        if self.vk_callback_secret and not self.vk_confirmation_code:
            raise ValueError("the VK Callback API needs VK_CONFIRMATION_CODE as well as "
                             "VK_CALLBACK_SECRET (both from the community's settings)")
        return self

    @model_validator(mode="after")
    def _sandbox_apart(self) -> Settings:
        if _sqlite_file(self.sandbox_database_url) == _sqlite_file(self.database_url):
            raise ValueError("SANDBOX_DATABASE_URL must not be the school's DATABASE_URL: "
                             "the sandbox wipes its database at every start")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB"
            )
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("a port is 1..65535")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters")
        return value

    @property
    def base_url(self) -> str:
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (0.0.0.0 and :: mean every address)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost resolves to who knows where
        return False


def _sqlite_file(url: str) -> Path | None:
    prefix = "sqlite+aiosqlite:///"
    return Path(url.removeprefix(prefix)).resolve() if url.startswith(prefix) else None


def _wipe_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def settings_problems(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: "
        f"{e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]


class StartupError(Exception):
    """The platform cannot start for a reason the operator can fix: said in one line that
    names the setting and what to do, and the process exits with status 2."""


class SchoolHolder:
    """The current school; replaced whole when the file is reloaded."""

    def __init__(self, school: School) -> None:
        self.school = school

    def __call__(self) -> School:
        return self.school


@dataclass
class Platform:
    settings: Settings
    school: SchoolHolder
    clock: Clock
    uow_factory: UnitOfWorkFactory
    gateways: dict[str, PaymentGateway]
    channels: dict[str, Messenger]
    dispatcher: OutboundDispatcher
    flows: FlowEngine
    app: web.Application
    groups: GroupKeeper
    metrics: Metrics

    async def sweep(self, name: str) -> int:
        """Run one sweep now; the scheduler calls this on intervals, tests call it directly."""
        school, now, uowf = self.school(), self.clock.now(), self.uow_factory
        if name == "orders":
            count = await jobs.cancel_unpaid_orders(uowf, school, now)
        elif name == "lessons":
            count = await jobs.open_lessons(uowf, school, now)
        elif name == "expiry":
            count = await jobs.expire_purchases(uowf, now)
            if count:  # the members whose access just ended leave their groups at once
                await self.groups.sweep()
        elif name == "groups":
            count = await self.groups.sweep()
        elif name == "reminders":
            count = await jobs.send_reminders(uowf, school, now)
        elif name == "renewals":
            count = await jobs.charge_renewals(uowf, school, self.chargers(), now)
            if count:  # a renewal that failed for the last time takes its groups with it
                await self.groups.sweep()
        else:
            raise ValueError(f"unknown sweep {name!r}")
        if count:
            self.dispatcher.wake()
        return count

    def chargers(self) -> dict[str, Charger]:
        """The gateways that can charge a saved method again."""
        return {name: g for name, g in self.gateways.items() if isinstance(g, Charger)}

    async def run_sweeps(self) -> dict[str, int]:
        return {name: await self.sweep(name) for name in SWEEPS}


def build_platform(
    settings: Settings,
    school: School,
    uow_factory: UnitOfWorkFactory,
    clock: Clock | None = None,
    channels: dict[str, Messenger] | None = None,
    base_url: str | None = None,
    gateways: dict[str, PaymentGateway] | None = None,
) -> Platform:
    """Wire one platform. ``base_url``: where its pages are reached (the sandbox's sit under
    ``/sandbox``). ``gateways``: those built elsewhere (Telegram's, over its messenger)."""
    clock = clock or SystemClock()
    holder = SchoolHolder(school)
    channels = dict(channels or {})
    gateways = dict(gateways or {})
    if settings.test_payments:
        secret = (settings.secret_key or secrets.token_hex(32)).encode()
        gateways["test"] = TestGateway(secret, base_url or settings.base_url, clock)
    if not any(not g.in_chat for g in gateways.values()) \
            and not any(c.capabilities.invoices for c in channels.values()):
        raise SystemExit("no way to take payments: configure a payment gateway or a messenger "
                         "that takes payments in the chat (TEST_PAYMENTS=1 for the demo)")
    checkout_url = next((g.checkout_url for g in gateways.values() if not g.in_chat), None)

    dispatcher = OutboundDispatcher(uow_factory, clock, holder, channels, checkout_url)
    flows = FlowEngine(
        uow_factory, clock, holder, student_router(), channels, checkout_url, dispatcher,
        gateways,
    )
    metrics = Metrics()
    flows.metrics = dispatcher.metrics = metrics
    # Paid groups live in Telegram: the Telegram messenger is the one that can manage them.
    group_admin = next((c for c in channels.values() if isinstance(c, GroupAdmin)), None)
    keeper = GroupKeeper(uow_factory, clock, holder, channels, group_admin)
    flows.groups = keeper.handle
    if group_admin is not None:
        flows.group_links = keeper.personal_link
    dispatcher.prepare["group_invite"] = keeper.prepare_invite
    app = make_app(Deps(uow_factory, clock, holder, gateways, dispatcher, metrics))
    return Platform(settings, holder, clock, uow_factory, gateways, channels, dispatcher, flows,
                    app, keeper, metrics)


class Sweeper:
    """The interval sweeps over due rows. A late run still runs (no misfire limit) and runs
    once; stopping lets a sweep in progress finish its transaction."""

    def __init__(self, platform: Platform, lease: SchedulerLease | None = None) -> None:
        self.platform = platform
        self.lease = lease
        self.running: set[asyncio.Task] = set()
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        for name, seconds in SWEEPS.items():
            self.scheduler.add_job(self._sweep, "interval", args=[name], seconds=seconds,
                                   id=name, next_run_time=platform.clock.now())

    async def _sweep(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        metrics = self.platform.metrics
        try:
            held = self.lease is None or await self.lease.held()
            metrics.lease(held)
            if not held:
                return  # another process runs the sweeps
            started = time.perf_counter()
            count = await self.platform.sweep(name)
            metrics.swept(name, time.perf_counter() - started)
        except Exception:
            log.exception("sweep %s failed; the next run catches up", name)
            return
        finally:
            self.running.discard(task)
        if count:
            log.info("sweep %s: %d", name, count)

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        self.scheduler.pause()
        if self.running:
            await asyncio.wait(set(self.running), timeout=SWEEP_GRACE)
        self.scheduler.shutdown(wait=False)
        if self.lease is not None:
            await self.lease.release()
            self.platform.metrics.lease(False)


def configured_messengers(settings: Settings, default_language: str = "en",
                          school_name: str = "School") -> dict[str, Messenger]:
    """Every messenger whose token is set."""
    messengers: dict[str, Messenger] = {}
    if settings.telegram_bot_token:
        # aiogram takes seconds to import: only a school with a Telegram bot pays for it.
        from bots.telegram.adapter import WEBHOOK_PATH, TelegramMessenger

        secret = settings.telegram_webhook_secret
        provider = settings.telegram_provider_token
        messengers[TELEGRAM] = TelegramMessenger(
            settings.telegram_bot_token.get_secret_value(),
            api_url=str(settings.telegram_api_url).rstrip("/") if settings.telegram_api_url
            else None,
            provider_token=provider.get_secret_value() if provider else None,
            webhook_url=f"{settings.base_url}{WEBHOOK_PATH}" if settings.public_url else None,
            webhook_secret=secret.get_secret_value() if secret else None,
            default_language=default_language,
        )
    if settings.vk_group_token and settings.vk_group_id:
        from bots.vk.adapter import VkMessenger

        callback = settings.public_url is not None and settings.vk_callback_secret is not None
        messengers[VK] = VkMessenger(
            settings.vk_group_token.get_secret_value(), settings.vk_group_id,
            api_url=str(settings.vk_api_url).rstrip("/") if settings.vk_api_url else None,
            callback_secret=settings.vk_callback_secret.get_secret_value()
            if settings.vk_callback_secret else None,
            confirmation_code=settings.vk_confirmation_code, webhook=callback,
        )
    if settings.viber_auth_token:
        from bots.viber.adapter import WEBHOOK_PATH as VIBER_PATH
        from bots.viber.adapter import ViberMessenger

        if settings.public_url is None:
            log.warning("Viber delivers messages only to a webhook: set PUBLIC_URL (https)")
        messengers[VIBER] = ViberMessenger(
            settings.viber_auth_token.get_secret_value(), sender_name=school_name,
            api_url=str(settings.viber_api_url) if settings.viber_api_url else None,
            webhook_url=f"{settings.base_url}{VIBER_PATH}" if settings.public_url else None,
        )
    return messengers


def in_chat_gateways(messengers: dict[str, Messenger]) -> dict[str, PaymentGateway]:
    """Telegram's payments, over the Telegram messenger, when it runs."""
    telegram = messengers.get(TELEGRAM)
    if telegram is None:
        return {}
    from payments.telegram import TelegramGateway

    return {TELEGRAM: TelegramGateway(telegram)}


def add_webhook_routes(app: web.Application, messengers: dict[str, Messenger]) -> None:
    """The callback endpoints of the messengers that receive through one."""
    for messenger in messengers.values():
        receives = getattr(messenger, "webhook_url", None) or getattr(messenger, "webhook", False)
        if receives and hasattr(messenger, "add_webhook_route"):
            messenger.add_webhook_route(app)


SANDBOX_STUDENTS = (("Anna", "en"), ("Дмитрий", "ru"), ("Camille", "fr"))


@dataclass
class Running:
    platform: Platform
    engine: AsyncEngine
    sweeper: Sweeper


async def start(platform: Platform, engine: AsyncEngine) -> Running:
    """The platform's background work; its messengers start once the web server listens."""
    asyncio.create_task(platform.dispatcher.run_forever(), name="outbound dispatcher")
    sweeper = Sweeper(platform, SchedulerLease(engine))
    sweeper.start()
    return Running(platform, engine, sweeper)


def sandbox_wanted(settings: Settings, messengers: int) -> bool:
    wanted = settings.sandbox == "on" or (settings.sandbox == "auto" and messengers == 0)
    if wanted and settings.reachable_from_outside and not settings.sandbox_public:
        where = settings.public_url if settings.public_url_is_public else settings.host
        log.warning("SANDBOX is off: the platform is reachable from outside (%s) and the "
                    "sandbox takes test payments; set SANDBOX_PUBLIC=1 to serve it anyway",
                    where)
        return False
    return wanted


async def open_sandbox(settings: Settings, school: School) -> tuple[Platform, AsyncEngine]:
    """A platform of its own for the sandbox: a fresh SQLite file at every start, a clock the
    page moves, pretend students, and test payments whatever TEST_PAYMENTS says."""
    from bots.sandbox import SandboxMessenger  # only a platform with the sandbox loads it
    from web.sandbox import Sandbox, add_sandbox_routes

    path = _sqlite_file(settings.sandbox_database_url)
    assert path is not None
    await asyncio.to_thread(_wipe_sqlite, path)
    engine = await open_database(settings.sandbox_database_url, "SANDBOX_DATABASE_URL")
    clock = OffsetClock()
    messenger = SandboxMessenger()
    for name, language in SANDBOX_STUDENTS:
        messenger.add_student(name, language)
    platform = build_platform(
        settings.model_copy(update={"test_payments": True}), school,
        sql_uow_factory(session_factory(engine)), clock, {messenger.name: messenger},
        base_url=f"{settings.base_url}/sandbox",
    )

    async def move_time(step: timedelta) -> None:
        clock.advance(step)
        await platform.run_sweeps()
        await platform.dispatcher.drain()

    add_sandbox_routes(platform.app, Sandbox(messenger, clock, platform.school, path.name,
                                             move_time))
    return platform, engine


def settle_memory() -> None:
    """Start-up is over: what it built lives as long as the process. Frozen, it is never
    scanned again; and young objects are collected after 5,000 allocations instead of 700,
    since one button press allocates thousands that die with it (the benchmark's p99 fell
    from 56 to 45 ms)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(5000, 10, 10)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything else starts, so a port in use stops the
    start at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host.strip("[]"), port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"PORT: {port} is already in use on {host} (another run.py?): stop that "
                f"program, or set PORT (or --port) to a free port") from None
        raise StartupError(f"HOST: cannot listen on {host}:{port} ({exc.strerror or exc}): "
                           f"set HOST to an address of this machine") from None


DRIVER_PACKAGES = {"asyncpg": "pip install -e '.[postgres]'"}


async def open_database(url: str, setting: str) -> AsyncEngine:
    """An engine on ``url``, connected and migrated. A missing driver or a database that
    cannot be reached is a StartupError naming ``setting``."""
    try:
        engine = create_engine(url)
    except ImportError as exc:
        install = DRIVER_PACKAGES.get(exc.name or "", f"pip install {exc.name}")
        raise StartupError(f"{setting}: {url.split(':', 1)[0]} needs the {exc.name} package, "
                           f"which is not installed: {install}") from None
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (OSError, DBAPIError) as exc:
        await engine.dispose()
        reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
        shown = make_url(url).render_as_string(hide_password=True)
        raise StartupError(
            f"{setting}: cannot open {shown} ({one_line(reason)}): start the database server, "
            f"create the database, or correct {setting}") from None
    await migrate(engine)
    return engine


def api_errors(name: str) -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """For a messenger: the errors that mean "its API cannot be reached now" (try again) and
    those that mean "its API refuses our token" (no use trying again)."""
    unreachable: tuple[type[Exception], ...] = (OSError, aiohttp.ClientError, MessengerError)
    if name == TELEGRAM:
        from aiogram.exceptions import (
            TelegramNetworkError,
            TelegramRetryAfter,
            TelegramServerError,
            TelegramUnauthorizedError,
        )

        return (*unreachable, TelegramNetworkError, TelegramServerError,
                TelegramRetryAfter), (TelegramUnauthorizedError,)
    return unreachable, ()


TOKEN_SETTINGS = {TELEGRAM: "TELEGRAM_BOT_TOKEN", VK: "VK_GROUP_TOKEN", VIBER: "VIBER_AUTH_TOKEN"}
FIRST_RETRY, LAST_RETRY = 1.0, 60.0  # seconds between attempts to reach a messenger's API


async def run_messenger(name: str, messenger: Messenger, platform: Platform) -> None:
    """Start one messenger, trying again with backoff (a log line per attempt) while its API
    cannot be reached; the platform serves meanwhile. A refused token is a StartupError."""
    unreachable, refused = api_errors(name)
    attempt = 0
    while True:
        try:
            await messenger.run(platform.flows.handle)
        except refused as exc:
            raise StartupError(
                f"{TOKEN_SETTINGS.get(name, name)}: {name} refuses the token "
                f"({one_line(exc)}): copy it again from the messenger's settings") from None
        except unreachable as exc:
            attempt += 1
            delay = min(FIRST_RETRY * 2 ** (attempt - 1), LAST_RETRY)
            log.warning("%s: the API cannot be reached (%s); trying again in %.0f s "
                        "(attempt %d)", name, one_line(exc), delay, attempt)
            await asyncio.sleep(delay)
        else:
            if attempt:
                log.info("%s: the API answered after %d failed attempts; the bot is up",
                         name, attempt)
            return


async def run_messengers(platform: Platform) -> None:
    """Every messenger of a platform, then what needs them running (paid groups' checks)."""
    await asyncio.gather(*(run_messenger(name, messenger, platform)
                           for name, messenger in platform.channels.items()))
    await platform.groups.start()


async def serve(settings: Settings, school: School, terminal: bool = False) -> None:
    """Run until stopped (a signal; the end of the terminal chat). Raises StartupError for
    what the operator must fix, after releasing whatever had started."""
    sock = listen(settings.host, settings.port)
    if settings.port == 0:  # any free port: the one the system gave
        settings = settings.model_copy(update={"port": sock.getsockname()[1]})
    engines: list[AsyncEngine] = []
    runs: list[Running] = []
    runner: web.AppRunner | None = None
    stop = asyncio.Event()
    failures: list[BaseException] = []
    starting: list[asyncio.Task] = []
    try:
        engine = await open_database(settings.database_url, "DATABASE_URL")
        engines.append(engine)
        uow_factory = sql_uow_factory(session_factory(engine))
        messengers = {} if terminal else configured_messengers(
            settings, school.default_language, school.name)
        console = None
        if terminal:  # python run.py chat
            from bots.terminal import TerminalMessenger

            console = TerminalMessenger()
        if console is not None:
            messengers[console.name] = console
        platform = build_platform(settings, school, uow_factory, channels=messengers,
                                  gateways=in_chat_gateways(messengers))
        add_webhook_routes(platform.app, messengers)
        resynced = await jobs.resync_lesson_schedule(uow_factory, school, platform.clock.now())
        log.info("lesson schedule checked, %d purchases updated", resynced)
        with_sandbox = not terminal and sandbox_wanted(settings, len(platform.channels))
        add_home(platform.app, "/sandbox/" if with_sandbox else None)
        platforms = [(platform, engine)]
        if with_sandbox:
            sandbox, sandbox_engine = await open_sandbox(settings, school)
            engines.append(sandbox_engine)
            platform.app.add_subapp("/sandbox", sandbox.app)
            platforms.append((sandbox, sandbox_engine))
        elif not platform.channels:
            log.warning("no messenger token configured: only the web pages are served; "
                        "chat with the school in a terminal with: python run.py chat")
        if "test" in platform.gateways and not terminal:
            log.warning("TEST PAYMENTS ARE ON: anyone can 'pay' without money. "
                        "Never go live so.")

        settle_memory()
        runner = web.AppRunner(platform.app, access_log=None, shutdown_timeout=5)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        for p, e in platforms:
            runs.append(await start(p, e))

        def stop_on_failure(task: asyncio.Task) -> None:
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())
                stop.set()

        for run in runs:  # a webhook is set only once the server can answer it
            task = asyncio.create_task(run_messengers(run.platform), name="messengers")
            task.add_done_callback(stop_on_failure)
            starting.append(task)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Windows' event loop has no signal handlers; Ctrl+C still stops it there.
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        log.info("%s is up at %s (health: %s/healthz)", school.name, settings.base_url,
                 settings.base_url)
        if with_sandbox:
            log.info("sandbox: open %s/sandbox/ to chat with the school as pretend students",
                     settings.base_url)

        if console is not None:
            chat = asyncio.create_task(console.converse(school.default_language))
            await asyncio.wait([chat, asyncio.create_task(stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
        else:
            await stop.wait()
        log.info("stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        sock.close()
        for task in starting:  # a messenger still trying to reach its API
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        for run in runs:
            await run.sweeper.stop()
            for messenger in run.platform.channels.values():
                await messenger.stop()
        # Every task (a dispatcher, a sweep in progress) must finish its rollback while the
        # database is still there: disposing the engine under it would leave it waiting
        # forever.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        for run in runs:  # "last seen" is written behind; stop listening for other processes
            await run.platform.uow_factory.close()
        for engine in engines:
            await engine.dispose()
    if failures:
        raise failures[0]


def check(path: Path) -> int:
    try:
        school = load_school(path)
    except SchoolFileError as exc:
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print(f"{path}: OK — {school.name}: {len(school.courses)} courses, "
          f"{len(school.offers)} offers, {len(school.promo_codes)} promo codes")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--school", type=Path, help="school file (default SCHOOL_FILE)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("chat", help="start, and chat with the school in this terminal")
    check_cmd = sub.add_parser("check", help="validate a school file")
    check_cmd.add_argument("file", type=Path)
    args = parser.parse_args(argv)

    if args.command == "check":
        return check(args.file)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port),
                                   ("school_file", args.school)) if v is not None}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for problem in settings_problems(exc):  # one line each, the setting first
            print(problem, file=sys.stderr)
        return 2
    chatting = args.command == "chat"
    configure_logging("WARNING" if chatting else settings.log_level, settings.log_format)
    try:
        school = load_school(settings.school_file)
    except SchoolFileError as exc:
        print(f"{settings.school_file}: the school file has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    try:
        if chatting:
            with tempfile.TemporaryDirectory(prefix="school-chat-") as scratch:
                asyncio.run(serve(chat_settings(settings, args.port, Path(scratch)), school,
                                  terminal=True))
        else:
            asyncio.run(serve(settings, school))
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def chat_settings(settings: Settings, port: int | None, scratch: Path) -> Settings:
    """``run.py chat`` talks to a throwaway copy of the school, never to the school a server
    may be running: a fresh SQLite file in ``scratch``, loopback on a free port (or
    ``--port``), test payments, no messenger bots, no sandbox."""
    return settings.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{scratch / 'chat.db'}", "host": "127.0.0.1",
        "port": port or 0, "public_url": None, "test_payments": True, "sandbox": "off"})


if __name__ == "__main__":
    sys.exit(main())
