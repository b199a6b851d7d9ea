"""``run.py import FILE.csv [--apply]``: a student base from another platform, read from a
CSV file and brought in by ``core.services.importing``.

The file has a header row; columns, in any order (only an identity column is required):

    name         the student's name
    language     en, ru, fr ... (the bot's language for them)
    telegram_id  the Telegram user id (a number, never a @username)
    vk_id        the VK user id (a number)
    viber_id     the Viber user id
    email        an email address
    phone        an international phone number (+ and digits; spaces, dashes, brackets ok)
    offer        an offer's or a product's code from the school file (empty: no access)
    starts_at    when the access began: 2025-09-01 or 2025-09-01 10:00, school time
                 (empty: now)
    ends_at      when it ends: 2026-08-31 (to the end of that day) or 2026-08-31 18:00,
                 school time; empty: for life

Commas, semicolons or tabs separate the columns (what the header uses); UTF-8 text. A student
with several purchases takes one row per purchase. Without ``--apply`` nothing is changed:
the run says what would be. Any problem: one line each, exit status 2, nothing changed."""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from core.contacts import ContactKind, normal_email, normal_phone
from core.ports import UnitOfWorkFactory
from core.school import School
from core.services import importing, staff
from core.services.importing import ImportReport, ImportRow
from core.staff import AuditResult

IDENTITIES = {"telegram_id": "telegram", "vk_id": "vk", "viber_id": "viber"}
CONTACTS = {"email": ContactKind.EMAIL, "phone": ContactKind.PHONE}
COLUMNS = ("name", "language", *IDENTITIES, *CONTACTS, "offer", "starts_at", "ends_at")
BATCH = 200  # rows per transaction when applying
MAX_NAME = 200
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
# How each messenger's id is named in the file, for messages about a row.
_NAMED = tuple((messenger, column) for column, messenger in IDENTITIES.items())
Complain = Callable[[str, str, str], None]  # (column, value, why)


@dataclass
class ReadFile:
    rows: list[ImportRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read(path: Path, school: School) -> ReadFile:
    """The file's rows, each checked against the school; or its problems, one line each."""
    result = ReadFile()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        result.problems.append(f"cannot read the file: {exc.strerror or exc}")
        return result
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        result.problems.append(f"line {line}: not UTF-8 text: save the file as CSV UTF-8")
        return result
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        result.problems.append("the file is empty: the first line names the columns")
        return result
    except csv.Error as exc:
        result.problems.append(f"line 1: {exc}")
        return result
    if not _header_ok(header, result.problems):
        return result
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                result.problems.append(f"line {line}: {len(cells)} fields, but the header "
                                       f"has {len(header)}")
                continue
            row = _row(line, dict(zip(header, cells, strict=True)), school, result.problems)
            if row is not None:
                result.rows.append(row)
    except csv.Error as exc:
        result.problems.append(f"line {reader.line_num}: {exc}")
    if not result.rows and not result.problems:
        result.problems.append("no rows under the header: nothing to import")
    return result


def _header_ok(header: list[str], problems: list[str]) -> bool:
    for position, name in enumerate(header):
        if name not in COLUMNS:
            problems.append(f"line 1: unknown column {name!r} (columns: {', '.join(COLUMNS)})")
        elif name in header[:position]:
            problems.append(f"line 1: column {name!r} is there twice")
    if not set(header) & {*IDENTITIES, *CONTACTS}:
        problems.append("line 1: no column tells who the student is: give telegram_id, "
                        "vk_id, viber_id, email or phone")
    return not problems


def _row(line: int, cells: dict[str, str], school: School,
         problems: list[str]) -> ImportRow | None:
    found: list[str] = []

    def bad(column: str, value: str, why: str) -> None:
        found.append(f"line {line}, column {column}: {value!r} {why}")

    values = {name: cells.get(name, "").strip() for name in COLUMNS}
    name = values["name"]
    if len(name) > MAX_NAME:
        bad("name", name[:20] + "…", f"is longer than {MAX_NAME} characters")
    language = values["language"].replace("_", "-").split("-")[0].lower()
    if language and not _LANGUAGE.match(language):
        bad("language", values["language"], "is not a language code such as en, ru or fr")
    accounts = []
    for column, messenger in IDENTITIES.items():
        value = values[column]
        if not value:
            continue
        if messenger != "viber" and not (value.isascii() and value.isdecimal()
                                         and len(value) <= 20):
            bad(column, value, "is not a user id: digits only, never a @username")
        elif any(char.isspace() for char in value) or len(value) > 64:
            bad(column, value, "is not a user id")
        else:
            accounts.append((messenger, value))
    contacts = []
    for column, kind in CONTACTS.items():
        if not values[column]:
            continue
        normal = normal_email(values[column]) if kind is ContactKind.EMAIL \
            else normal_phone(values[column])
        if normal is None:
            bad(column, values[column], "is not an email address" if kind is ContactKind.EMAIL
                else "is not an international phone number (+ and 7 to 15 digits)")
        else:
            contacts.append((kind, normal))
    if not accounts and not contacts and not found:
        found.append(f"line {line}: no telegram_id, vk_id, viber_id, email or phone: who is it?")
    item = values["offer"] or None
    if item is not None and school.offer(item) is None and item not in school.products:
        bad("offer", item, f"is neither an offer nor a product of the school file (offers: "
                           f"{', '.join(school.offers)}; products: {', '.join(school.products)})")
    starts_at = _moment(values["starts_at"], school.timezone, False, "starts_at", bad)
    ends_at = _moment(values["ends_at"], school.timezone, True, "ends_at", bad)
    if item is None and (starts_at or ends_at):
        found.append(f"line {line}: starts_at and ends_at need an offer")
    if starts_at and ends_at and ends_at <= starts_at:
        bad("ends_at", values["ends_at"], f"is not after starts_at ({values['starts_at']})")
    problems += found
    if found:
        return None
    return ImportRow(line=line, name=name, language=language, accounts=tuple(accounts),
                     contacts=tuple(contacts), item=item, starts_at=starts_at,
                     ends_at=ends_at, columns=_NAMED)


def _moment(text: str, zone: ZoneInfo, end_of_day: bool, column: str,
            bad: Complain) -> datetime | None:
    if not text:
        return None
    try:
        if _DAY.match(text):
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0),
                                    zone).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or not _DAY.match(text[:10]):
        bad(column, text, "is not a date: write 2026-01-31 or 2026-01-31 18:00 (school time)")
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


class Interrupted(Exception):
    """The database changed between the dry run and the import (the platform running on it
    made or linked a student): rows up to ``through`` were imported, the others not."""

    def __init__(self, report: ImportReport, through: int) -> None:
        super().__init__(through)
        self.report = report
        self.through = through


async def run(uow_factory: UnitOfWorkFactory, school: School, rows: list[ImportRow],
              source: str, now: datetime, apply: bool) -> ImportReport:
    """Work the rows out in a transaction rolled back at the end (the dry run). With
    ``apply`` and no problem, do it: ``BATCH`` rows per transaction (a second run of the same
    file finds everything done), then one audit line for the whole run."""
    planned = ImportReport()
    async with uow_factory() as uow:
        await importing.import_rows(uow, school, rows, source, now, planned)
        await uow.rollback()
    if planned.problems or not apply:
        return planned
    done, through = ImportReport(), 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        async with uow_factory() as uow:
            await importing.import_rows(uow, school, batch, source, now, done)
            if done.problems:  # something changed since the dry run: keep nothing of it
                raise Interrupted(done, through)
            await uow.commit()
        through = batch[-1].line
    async with uow_factory() as uow:
        result = AuditResult.DONE if done.changes else AuditResult.NOTHING
        await staff.audit(uow, now, source, "import", result, subject=f"{len(rows)} rows",
                          detail=done.summary())
        await uow.commit()
    return done


def report_lines(path: Path, rows: int, report: ImportReport, apply: bool) -> list[str]:
    if apply:
        head = f"{path.name}: imported {rows} rows — {report.summary()}"
    else:
        head = (f"{path.name}: dry run, nothing changed (add --apply to import). {rows} rows "
                f"would make {report.summary()}")
    return [head, *(f"  {change}" for change in report.changes)]


async def import_file(uow_factory: UnitOfWorkFactory, school: School, path: Path,
                      now: datetime, apply: bool) -> int:
    """The command: prints what changed (or would), or the problems; the exit status."""
    read_file = read(path, school)
    if read_file.problems:
        return print_problems(path, read_file.problems)
    return await import_rows(uow_factory, school, path, read_file.rows, now, apply)


async def import_rows(uow_factory: UnitOfWorkFactory, school: School, path: Path,
                      rows: list[ImportRow], now: datetime, apply: bool) -> int:
    """``import_file`` once the file is read without a problem."""
    try:
        report = await run(uow_factory, school, rows, f"import:{path.name}", now, apply)
    except Interrupted as stopped:
        done = f"rows up to line {stopped.through} were imported" if stopped.through \
            else "nothing was imported"
        print(f"{path.name}: the database changed while importing; {done}, the others not. "
              f"Run the import again (what is imported stays as it is):", file=sys.stderr)
        for problem in stopped.report.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if report.problems:
        return print_problems(path, report.problems)
    print("\n".join(report_lines(path, len(rows), report, apply)))
    return 0


def print_problems(path: Path, problems: list[str]) -> int:
    print(f"{path.name}: {len(problems)} problem(s), nothing changed:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 2
