"""The serve lifecycle: the database opened and migrated, the web server, the messengers (each
retried while its API cannot be reached), the sweeps, the sandbox, and an orderly stop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.bootstrap import (
    Platform,
    build_platform,
    configured_gateways,
    configured_messengers,
)
from app.settings import PlatformSettings, sqlite_file
from bots.base import Messenger, MessengerError
from bots.registry import MessengerEntry
from core import jobs
from core.clock import OffsetClock
from core.school import School
from core.services import staff
from core.staff import Role, StaffRef
from storage.engine import create_engine, session_factory
from storage.factory import sql_uow_factory
from storage.lease import SchedulerLease
from storage.migrate import migrate
from web.app import add_home

log = logging.getLogger("school")
SWEEP_GRACE = 30  # seconds a sweep in progress may take to finish at shutdown
SANDBOX_STUDENTS = (("Anna", "en"), ("Дмитрий", "ru"), ("Camille", "fr"))
# A pretend staff member among them, to try the staff commands: (id, name, language, role).
SANDBOX_STAFF = (("olga", "Olga", "en", Role.OWNER),)
FIRST_RETRY, LAST_RETRY = 1.0, 60.0  # seconds between attempts to reach a messenger's API
DRIVER_PACKAGES = {"asyncpg": "pip install -e '.[postgres]'"}


class StartupError(Exception):
    """The platform cannot start for a reason the operator can fix: said in one line that
    names the setting and what to do, and the process exits with status 2."""


class Sweeper:
    """The interval sweeps over due rows. A late run still runs (no misfire limit) and runs
    once; stopping lets a sweep in progress finish its transaction."""

    def __init__(self, platform: Platform, lease: SchedulerLease | None = None) -> None:
        self.platform = platform
        self.lease = lease
        self.running: set[asyncio.Task] = set()
        self.holding = False  # the lease, as the last sweep found it
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        for name, (seconds, _job) in platform.sweeps.items():
            self.scheduler.add_job(self._sweep, "interval", args=[name], seconds=seconds,
                                   id=name, next_run_time=platform.clock.now())

    async def _sweep(self, name: str) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        metrics = self.platform.metrics
        try:
            held = self.lease is None or await self.lease.held()
            if held and not self.holding:  # broadcasts waiting go out at once
                self.platform.broadcasts.wake()
            self.holding = held
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


def add_webhook_routes(app: web.Application, messengers: dict[str, Messenger]) -> None:
    """The callback endpoints of the messengers that receive through one."""
    for messenger in messengers.values():
        app.router.add_routes(messenger.webhook_routes())


@dataclass
class Running:
    platform: Platform
    engine: AsyncEngine
    sweeper: Sweeper


async def start(platform: Platform, engine: AsyncEngine) -> Running:
    """The platform's background work; its messengers start once the web server listens."""
    asyncio.create_task(platform.dispatcher.run_forever(), name="outbound dispatcher")
    if platform.automations is not None:
        asyncio.create_task(platform.automations.run_forever(), name="automations")
    sweeper = Sweeper(platform, SchedulerLease(engine))
    sweeper.start()

    async def holds_lease() -> bool:  # broadcasts go out from the one process with the lease
        return sweeper.holding

    platform.broadcasts.start(holds_lease)
    return Running(platform, engine, sweeper)


def sandbox_wanted(settings: PlatformSettings, messengers: int) -> bool:
    wanted = settings.sandbox == "on" or (settings.sandbox == "auto" and messengers == 0)
    if wanted and settings.reachable_from_outside and not settings.sandbox_public:
        where = settings.public_url if settings.public_url_is_public else settings.host
        log.warning("SANDBOX is off: the platform is reachable from outside (%s) and the "
                    "sandbox takes test payments; set SANDBOX_PUBLIC=1 to serve it anyway",
                    where)
        return False
    return wanted


async def open_sandbox(settings: PlatformSettings,
                       school: School) -> tuple[Platform, AsyncEngine]:
    """A platform of its own for the sandbox: a fresh SQLite file at every start, a clock the
    page moves, pretend students, and test payments whatever TEST_PAYMENTS says."""
    from bots.sandbox import SandboxMessenger  # only a platform with the sandbox loads it
    from web.sandbox import Sandbox, add_sandbox_routes

    path = sqlite_file(settings.sandbox_database_url)
    assert path is not None
    await asyncio.to_thread(wipe_sqlite, path)
    engine = await open_database(settings.sandbox_database_url, "SANDBOX_DATABASE_URL")
    clock = OffsetClock()
    messenger = SandboxMessenger()
    for name, language in SANDBOX_STUDENTS:
        messenger.add_student(name, language)
    for person, name, language, _ in SANDBOX_STAFF:
        messenger.add_student(name, language, person)
    school = with_sandbox_staff(school, messenger.name)
    settings = settings.model_copy(update={"test_payments": True})
    base_url = f"{settings.base_url}/sandbox"
    test_only = {name: gateway for name, gateway in
                 configured_gateways(settings, clock, base_url).items() if name == "test"}
    platform = build_platform(settings, school, sql_uow_factory(session_factory(engine)), clock,
                              {messenger.name: messenger}, base_url=base_url, gateways=test_only)

    async def move_time(step: timedelta) -> None:
        clock.advance(step)
        await platform.run_sweeps()
        await platform.dispatcher.drain()

    async def roles() -> dict[str, str]:
        async with platform.uow_factory() as uow:
            team = await staff.team(uow, platform.school())
        return {m.external_id: m.role.value for m in team if m.messenger == messenger.name}

    add_sandbox_routes(platform.app, Sandbox(messenger, clock, platform.school, path.name,
                                             move_time, roles))
    return platform, engine


def with_sandbox_staff(school: School, messenger: str) -> School:
    """The school as the sandbox runs it: its pretend staff on the staff, unless the school
    file names those accounts itself (``sandbox:olga: support``)."""
    named = {(s.messenger, s.external_id) for s in school.staff}
    added = tuple(StaffRef(messenger, person, role) for person, _, _, role in SANDBOX_STAFF
                  if (messenger, person) not in named)
    return replace(school, staff=(*school.staff, *added))


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
        # aiosqlite's worker thread reports its own stop to this loop after a failed connect;
        # closing the loop first makes that thread print a traceback below the one-line error.
        await asyncio.sleep(0.1)
        reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
        shown = make_url(url).render_as_string(hide_password=True)
        raise StartupError(
            f"{setting}: cannot open {shown} ({one_line(reason)}): start the database server, "
            f"create the database, or correct {setting}") from None
    await migrate(engine)
    return engine


def api_errors(entry: MessengerEntry | None) -> tuple[tuple[type[Exception], ...],
                                                      tuple[type[Exception], ...]]:
    """For a messenger: the errors that mean "its API cannot be reached now" (try again) and
    those that mean "its API refuses our token" (no use trying again)."""
    unreachable: tuple[type[Exception], ...] = (OSError, aiohttp.ClientError, MessengerError)
    if entry is None or entry.api_errors is None:
        return unreachable, ()
    more, refused = entry.api_errors()
    return (*unreachable, *more), refused


async def run_messenger(name: str, messenger: Messenger, platform: Platform) -> None:
    """Start one messenger, trying again with backoff (a log line per attempt) while its API
    cannot be reached; the platform serves meanwhile. A refused token is a StartupError."""
    entry = next((e for e in platform.settings.messenger_entries if e.name == name), None)
    unreachable, refused = api_errors(entry)
    attempt = 0
    while True:
        try:
            await messenger.run(platform.flows.handle)
        except refused as exc:
            raise StartupError(
                f"{entry.token_setting if entry else name}: {name} refuses the token "
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
    """Every messenger of a platform, then what needs them running (paid groups' checks,
    the staff's command menus)."""
    await asyncio.gather(*(run_messenger(name, messenger, platform)
                           for name, messenger in platform.channels.items()))
    await platform.started()


async def serve(settings: PlatformSettings, school: School, terminal: bool = False) -> None:
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
        platform = build_platform(settings, school, uow_factory, channels=messengers)
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
        unpayable = platform.unpayable_offers()
        if unpayable:
            log.warning("no payment gateway or messenger here takes the currency of %s: "
                        "nobody can buy them (configure a gateway that takes it)",
                        ", ".join(unpayable))

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
            await run.platform.broadcasts.stop()  # rows claimed and not sent go back
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




def wipe_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
