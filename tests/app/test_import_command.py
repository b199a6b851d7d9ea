"""``run.py import``: the CSV file read and checked line by line, a dry run that changes
nothing, the import, and a second import that finds everything done; also through the real
``run.py`` in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from factories import START
from sqlalchemy import select

from app import importing
from core.contacts import ContactKind
from core.services import users
from storage import tables
from storage.testing import make_sqlite_uow_factory

ROOT = Path(__file__).resolve().parents[2]
HEADER = "name,language,telegram_id,vk_id,email,phone,offer,starts_at,ends_at\n"
GOOD = HEADER + (
    "Anna,en,111,,Anna@Example.com,,python-life,2026-01-10,\n"
    "Boris,ru,222,333,,+49 (30) 1234-5678,python-30,2026-02-20,2026-03-31\n"
    "Boris,ru,222,,,,club-month,2025-01-01,2025-12-31\n"
    "Cleo,fr,,,cleo@example.com,,,,\n"
)


def _file(tmp_path: Path, text: str | bytes, name: str = "students.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.fixture
async def store(tmp_path_factory):
    factory, engine = await make_sqlite_uow_factory(tmp_path_factory.mktemp("db"))
    yield factory, engine
    await factory.close()
    await engine.dispose()


async def _snapshot(engine) -> dict[str, list]:
    """Every row of every table but the audit log."""
    async with engine.connect() as connection:
        return {table.name: [tuple(r) for r in await connection.execute(select(table))]
                for table in tables.metadata.sorted_tables if table.name != "audit_log"}


async def _audit(factory):
    async with factory() as uow:
        return list(reversed(await uow.audit.latest(50)))


def test_a_good_file_is_read_into_rows(tmp_path, school):
    read = importing.read(_file(tmp_path, GOOD), school)

    assert read.problems == []
    anna, boris, boris_club, cleo = read.rows
    assert (anna.line, anna.name, anna.language, anna.accounts, anna.contacts, anna.item) == (
        2, "Anna", "en", (("telegram", "111"),), ((ContactKind.EMAIL, "anna@example.com"),),
        "python-life")
    assert anna.starts_at.isoformat() == "2026-01-09T23:00:00+00:00"  # Berlin midnight
    assert anna.ends_at is None
    assert boris.accounts == (("telegram", "222"), ("vk", "333"))
    assert boris.contacts == ((ContactKind.PHONE, "+493012345678"),)
    assert boris.ends_at.isoformat() == "2026-03-31T21:59:59+00:00"  # to the end of the day
    assert (boris_club.line, cleo.line, cleo.item) == (4, 5, None)


def test_semicolons_a_byte_order_mark_and_quoted_lines_are_read(tmp_path, school):
    text = "\ufeffName;Telegram_ID;offer;ends_at\n\"Anna\nPetrova\";111;python-life;\n\n" \
           "Boris;222;python-30;2026-04-01 18:30\n"

    read = importing.read(_file(tmp_path, text), school)

    assert read.problems == []
    assert [(r.line, r.name) for r in read.rows] == [(2, "Anna\nPetrova"), (5, "Boris")]
    assert read.rows[1].ends_at.isoformat() == "2026-04-01T16:30:00+00:00"


@pytest.mark.parametrize(("text", "problems"), [
    (b"", ["the file is empty: the first line names the columns"]),
    (HEADER, ["no rows under the header: nothing to import"]),
    ("name,tg,offer\nA,1,python-life\n", [
        "line 1: unknown column 'tg' (columns: name, language, telegram_id, vk_id, viber_id, "
        "email, phone, offer, starts_at, ends_at)",
        "line 1: no column tells who the student is: give telegram_id, vk_id, viber_id, "
        "email or phone"]),
    ("email,email\na@b.co,c@d.co\n", ["line 1: column 'email' is there twice"]),
    (b"name,email\n\xff\xfe,x@y.z\n", ["line 2: not UTF-8 text: save the file as CSV UTF-8"]),
    (HEADER + "A,en,@anna,,,,python-life,,\n"
              "B,english,12,,b@,,,,\n"
              "C,,13,,,12345,pyton,2026-31-01,\n"
              "D,,14,,,,python-30,2026-03-01,2026-02-01\n"
              "E,,,,,,python-life,,\n"
              "F,,15,too,many,fields,here,,,,\n"
              "G,,16,,,,,,2026-05-01\n", [
        "line 2, column telegram_id: '@anna' is not a user id: digits only, never a @username",
        "line 3, column language: 'english' is not a language code such as en, ru or fr",
        "line 3, column email: 'b@' is not an email address",
        "line 4, column phone: '12345' is not an international phone number (+ and 7 to 15 "
        "digits)",
        "line 4, column offer: 'pyton' is neither an offer nor a product of the school file "
        "(offers: python-life, python-30, club-month, club-extend, secret, drawing-seats, "
        "later; products: python-course, drawing-course, club)",
        "line 4, column starts_at: '2026-31-01' is not a date: write 2026-01-31 or 2026-01-31 "
        "18:00 (school time)",
        "line 5, column ends_at: '2026-02-01' is not after starts_at (2026-03-01)",
        "line 6: no telegram_id, vk_id, viber_id, email or phone: who is it?",
        "line 7: 11 fields, but the header has 9",
        "line 8: starts_at and ends_at need an offer"]),
    ('name,email\n"Anna,a@b.co\n', ["line 2: unexpected end of data"]),
])
def test_a_malformed_file_gets_one_line_per_problem(tmp_path, school, text, problems):
    read = importing.read(_file(tmp_path, text), school)
    assert read.problems == problems


async def test_dry_run_then_import_then_again(tmp_path, school, store, capsys):
    factory, engine = store
    path = _file(tmp_path, GOOD)
    before = await _snapshot(engine)

    assert await importing.import_file(factory, school, path, START, apply=False) == 0
    dry = capsys.readouterr().out.splitlines()
    assert dry[0] == ("students.csv: dry run, nothing changed (add --apply to import). 4 rows "
                      "would make 3 new students, 0 matched existing; 3 purchases created, "
                      "0 extended, 0 already there")
    assert dry[1:] == [
        "  line 2: new student Anna; +telegram:111; +email anna@example.com; python-life for "
        "life granted (no payment)",
        "  line 3: new student Boris; +telegram:222; +vk:333; +phone +493012345678; "
        "python-30 until 2026-03-31 23:59 school time granted (no payment)",
        "  line 4: club-month until 2025-12-31 23:59 school time (ended) granted (no payment)",
        "  line 5: new student Cleo; +email cleo@example.com",
    ]
    assert await _snapshot(engine) == before
    assert await _audit(factory) == []

    assert await importing.import_file(factory, school, path, START, apply=True) == 0
    applied = capsys.readouterr().out.splitlines()
    assert applied[0] == ("students.csv: imported 4 rows — 3 new students, 0 matched "
                          "existing; 3 purchases created, 0 extended, 0 already there")
    assert applied[1:] == dry[1:]
    after = await _snapshot(engine)
    assert len(after["users"]) == 3 and len(after["identities"]) == 3
    assert len(after["contacts"]) == 3 and len(after["purchases"]) == 3
    assert len(after["orders"]) == 3 and after["payments"] == [] and after["outbox"] == []

    assert await importing.import_file(factory, school, path, START, apply=True) == 0
    assert capsys.readouterr().out.splitlines() == [
        "students.csv: imported 4 rows — 0 new students, 3 matched existing; 0 purchases "
        "created, 0 extended, 3 already there"]
    assert await _snapshot(engine) == after
    audit = [(e.actor, e.action, e.result.value, e.subject, e.detail)
             for e in await _audit(factory)]
    assert [line[:4] for line in audit] == [
        ("import:students.csv", "import", "done", "line 2"),
        ("import:students.csv", "import", "done", "line 3"),
        ("import:students.csv", "import", "done", "line 4"),
        ("import:students.csv", "import", "done", "line 5"),
        ("import:students.csv", "import", "done", "4 rows"),
        ("import:students.csv", "import", "nothing", "4 rows"),
    ]


async def test_a_problem_found_against_the_database_changes_nothing(tmp_path, school, store,
                                                                    capsys):
    factory, engine = store
    await importing.import_file(factory, school, _file(tmp_path, GOOD), START, apply=True)
    capsys.readouterr()
    before = await _snapshot(engine)
    clash = HEADER + ("Dora,,444,,,,python-life,,\n"
                      "Anna?,,111,,cleo@example.com,,python-30,,2026-06-01\n")

    code = await importing.import_file(factory, school, _file(tmp_path, clash, "clash.csv"),
                                       START, apply=True)

    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["clash.csv: 1 problem(s), nothing changed:",
                   "  line 3: telegram_id 111 belong to student #1; email cleo@example.com "
                   "belong to student #3: one row is one student (link their accounts in the "
                   "chat first, or fix the row)"]
    assert await _snapshot(engine) == before  # Dora of line 2 is not imported either


async def test_a_later_file_extends_what_an_earlier_one_gave(tmp_path, school, store, capsys):
    factory, _ = store
    await importing.import_file(factory, school, _file(tmp_path, GOOD), START, apply=True)
    later = HEADER + "Boris,,222,,,,python-30,,2026-06-30\n"

    code = await importing.import_file(factory, school, _file(tmp_path, later, "later.csv"),
                                       START + timedelta(days=1), apply=True)

    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [
        "later.csv: imported 1 rows — 0 new students, 1 matched existing; 0 purchases "
        "created, 1 extended, 0 already there",
        "  line 2: purchase #2 python-30 extended from 2026-03-31 23:59 school time until "
        "2026-06-30 23:59 school time"]


async def test_a_change_made_between_the_dry_run_and_the_import_stops_it_there(
    tmp_path, school, store, capsys, monkeypatch
):
    factory, engine = store
    monkeypatch.setattr(importing, "BATCH", 1)
    opened = 0

    @contextlib.asynccontextmanager
    async def racing():
        """The platform meets Boris on two accounts as two students, once the dry run is
        over and before his row is imported."""
        nonlocal opened
        opened += 1
        if opened == 3:
            async with factory() as uow:
                await users.resolve(uow, START, "telegram", "222", "Boris")
                await users.resolve(uow, START, "vk", "333", "Boris")
                await uow.commit()
        async with factory() as uow:
            yield uow

    code = await importing.import_file(racing, school, _file(tmp_path, GOOD), START,
                                       apply=True)

    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "students.csv: the database changed while importing; rows up to line 2 were imported, "
        "the others not. Run the import again (what is imported stays as it is):",
        "  line 3: telegram_id 222 belong to student #2; vk_id 333 belong to student #3: one "
        "row is one student (link their accounts in the chat first, or fix the row)"]
    async with factory() as uow:
        assert (await uow.users.identity("telegram", "111")).user_id == 1  # line 2: Anna
        assert await uow.purchases.for_user(2) == [] and await uow.purchases.for_user(3) == []


# --- the real command ------------------------------------------------------------------------

EXAMPLE_ROWS = (
    "name,telegram_id,email,offer,starts_at,ends_at\n"
    "Anna,111,anna@example.com,python-lifetime,2025-09-01,\n"
    "Boris,222,,club-monthly,2025-09-01,2099-12-31\n"
)


async def _run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SCHOOL_FILE")}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'school.db'}",
               SCHOOL_FILE=str(ROOT / "school.example.yaml"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), *args, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


def _count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "school.db") as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def test_run_py_import_dry_run_apply_and_again(tmp_path):
    _file(tmp_path, EXAMPLE_ROWS)

    code, out, err = await _run(tmp_path, "import", "students.csv")
    assert code == 0, err
    assert out.startswith("students.csv: dry run, nothing changed (add --apply to import). "
                          "2 rows would make 2 new students")
    assert _count(tmp_path, "users") == 0

    code, out, err = await _run(tmp_path, "import", "students.csv", "--apply")
    assert code == 0, err
    assert out.startswith("students.csv: imported 2 rows — 2 new students, 0 matched existing; "
                          "2 purchases created")
    assert (_count(tmp_path, "users"), _count(tmp_path, "purchases"),
            _count(tmp_path, "payments")) == (2, 2, 0)

    code, out, err = await _run(tmp_path, "import", "students.csv", "--apply")
    assert code == 0, err
    assert out.strip() == ("students.csv: imported 2 rows — 0 new students, 2 matched "
                           "existing; 0 purchases created, 0 extended, 2 already there")
    assert _count(tmp_path, "purchases") == 2
    assert "Traceback" not in err


async def test_run_py_import_of_a_malformed_file_exits_2_and_changes_nothing(tmp_path):
    _file(tmp_path, EXAMPLE_ROWS + "Cleo,abc,,python-lifetime,,\nDan,444,,nope,,\n")

    code, out, err = await _run(tmp_path, "import", "students.csv", "--apply")

    assert code == 2
    head, line4, line5 = err.splitlines()
    assert (head, line4) == (
        "students.csv: 2 problem(s), nothing changed:",
        "  line 4, column telegram_id: 'abc' is not a user id: digits only, never a @username")
    assert line5.startswith("  line 5, column offer: 'nope' is neither an offer nor a product "
                            "of the school file (offers: python-lifetime, drawing-club-30d, ")
    assert "; products: python-course, drawing-course" in line5
    assert out == ""
    assert not (tmp_path / "school.db").exists()  # read before the database is opened


async def test_run_py_import_help_lists_the_columns(tmp_path):
    code, out, _ = await _run(tmp_path, "import", "--help")
    assert code == 0
    assert "telegram_id" in out and "ends_at" in out and "--apply" in out
