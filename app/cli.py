"""The command line of the school platform.

    python run.py                 start the platform (demo school, SQLite, test payments)
    python run.py --port 9000     the same on another port
    python run.py chat            the same, and chat with the school in this terminal
    python run.py chat --as owner the same, as one of the school's staff (owner, admin,
                                  manager or support): try /help, /audit, /staff
    python run.py check FILE      validate a school file and list every problem
    python run.py migrate         bring the database (DATABASE_URL) up to date, then exit
    python run.py import FILE.csv [--apply]
                                  bring in students and their access from a CSV file (a dry
                                  run unless --apply; see app/importing.py for the columns)

Settings come from the environment or a ``.env`` file; see the README's reference."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from app import importing
from app.lifecycle import StartupError, open_database, serve
from app.settings import PlatformSettings, Settings, settings_problems
from bots.registry import known_messengers
from core.errors import SchoolFileError
from core.school import School
from core.school_file import load_school
from core.staff import Role, StaffRef
from observability.logs import configure_logging
from storage.engine import session_factory
from storage.factory import sql_uow_factory


def read_school(path: Path) -> School:
    """The school file at ``path``, checked against the messengers this platform knows."""
    return load_school(path, messengers=known_messengers())


def check(path: Path) -> int:
    try:
        school = read_school(path)
    except SchoolFileError as exc:
        print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    print(f"{path}: OK — {school.name}: {len(school.courses)} courses, "
          f"{len(school.offers)} offers, {len(school.promo_codes)} promo codes")
    return 0


async def migrate_database(settings: PlatformSettings) -> None:
    engine = await open_database(settings.database_url, "DATABASE_URL")  # migrates it
    await engine.dispose()


async def import_students(settings: PlatformSettings, school: School, path: Path,
                          apply: bool) -> int:
    """``run.py import``: the file is read and checked before the database is opened."""
    read = importing.read(path, school)
    if read.problems:
        return importing.print_problems(path, read.problems)
    engine = await open_database(settings.database_url, "DATABASE_URL")
    factory = sql_uow_factory(session_factory(engine))
    try:
        return await importing.import_rows(factory, school, path, read.rows,
                                           datetime.now(UTC), apply)
    finally:
        await factory.close()
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--school", type=Path, help="school file (default SCHOOL_FILE)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="start the platform (the default)")
    chat_cmd = sub.add_parser("chat", help="start, and chat with the school in this terminal")
    chat_cmd.add_argument("--as", dest="role", choices=[r.value for r in Role],
                          help="chat as one of the school's staff with this role")
    check_cmd = sub.add_parser("check", help="validate a school file")
    check_cmd.add_argument("file", type=Path)
    sub.add_parser("migrate", help="bring the database up to date, then exit")
    import_cmd = sub.add_parser(
        "import", help="bring in students and their access from a CSV file",
        description=importing.__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    import_cmd.add_argument("file", type=Path)
    import_cmd.add_argument("--apply", action="store_true",
                            help="import (without it: a dry run that changes nothing)")
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
    quiet = chatting or args.command == "import"
    configure_logging("WARNING" if quiet else settings.log_level, settings.log_format)
    if args.command == "migrate":
        try:
            asyncio.run(migrate_database(settings))
        except StartupError as exc:
            print(exc, file=sys.stderr)
            return 2
        print("the database is up to date")
        return 0
    try:
        school = read_school(settings.school_file)
    except SchoolFileError as exc:
        print(f"{settings.school_file}: the school file has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if args.command == "import":
        try:
            return asyncio.run(import_students(settings, school, args.file, args.apply))
        except StartupError as exc:
            print(exc, file=sys.stderr)
            return 2
    try:
        if chatting:
            if args.role:
                school = as_staff(school, Role(args.role))
            with tempfile.TemporaryDirectory(prefix="school-chat-") as scratch:
                asyncio.run(serve(chat_settings(settings, args.port, Path(scratch)), school,
                                  terminal=True))
        else:
            asyncio.run(serve(settings, school))
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def chat_settings(settings: PlatformSettings, port: int | None,
                  scratch: Path) -> PlatformSettings:
    """``run.py chat`` talks to a throwaway copy of the school, never to the school a server
    may be running: a fresh SQLite file in ``scratch``, loopback on a free port (or
    ``--port``), test payments, no messenger bots, no sandbox."""
    return settings.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{scratch / 'chat.db'}", "host": "127.0.0.1",
        "port": port or 0, "public_url": None, "test_payments": True, "sandbox": "off"})


def as_staff(school: School, role: Role) -> School:
    """The school for ``run.py chat --as ROLE``: the one chatting in the terminal is on its
    staff with ``role``. Only this throwaway copy of the school changes."""
    from bots.terminal import STUDENT_ID, TerminalMessenger

    account = StaffRef(TerminalMessenger.NAME, STUDENT_ID, role)
    others = tuple(s for s in school.staff
                   if (s.messenger, s.external_id) != (account.messenger, account.external_id))
    print(f"You chat as the school's {role.value} ({account.account}): /help lists what "
          "you may do.", flush=True)
    return replace(school, staff=(account, *others))
