"""``run.py``: the command line, settings and a real start of the platform."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent
BROKEN = """
school: {name: Broken, default_language: en, timezone: Mars/Olympus, currency: RUB}
courses: []
products: []
offers:
  - {code: a, title: A, price: 0, currency: RUB, products: []}
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SCHOOL_FILE")}
    env.update(extra, PYTHONFAULTHANDLER="1")
    return env


async def _finish(process, stdin: bytes | None = None) -> tuple[str, str]:
    """Wait for the process; if it hangs, make it dump every thread's stack and fail with it."""
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    except TimeoutError:
        process.send_signal(signal.SIGABRT)
        out, err = await process.communicate()
        raise AssertionError(f"run.py did not stop:\n{err.decode()[-4000:]}") from None
    return out.decode(), err.decode()


async def _run(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_check_accepts_the_demo_school(tmp_path):
    code, out, err = await _run("check", str(ROOT / "school.example.yaml"),
                                env=_env(tmp_path), cwd=tmp_path)
    assert code == 0, err
    assert ": OK" in out


async def test_check_lists_every_problem_without_a_traceback(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    code, out, err = await _run("check", str(broken), env=_env(tmp_path), cwd=tmp_path)
    assert code == 2
    assert "offers[0].price: 0 RUB is below the minimum of 1" in err
    assert "school.timezone" in err
    assert "Traceback" not in err + out


async def test_a_broken_school_file_stops_the_start_with_the_same_message(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    code, out, err = await _run(env=_env(tmp_path, SCHOOL_FILE=str(broken)), cwd=tmp_path)
    assert code == 2
    assert "offers[0].price: 0 RUB is below the minimum of 1" in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "school.db").exists()


async def test_migrate_brings_the_database_up_to_date_and_exits(tmp_path):
    code, out, err = await _run("migrate", env=_env(tmp_path), cwd=tmp_path)
    assert code == 0, err
    assert "up to date" in out
    tables = {row[0] for row in sqlite3.connect(tmp_path / "school.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "orders", "payments", "alembic_version"} <= tables
    code, out, err = await _run("migrate", env=_env(tmp_path), cwd=tmp_path)  # nothing to do
    assert code == 0 and "Traceback" not in err


async def test_migrate_names_a_database_it_cannot_open(tmp_path):
    code, out, err = await _run("migrate", env=_env(
        tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/missing/dir/school.db"),
        cwd=tmp_path)
    assert code == 2
    assert "DATABASE_URL: cannot open" in err


async def test_bad_settings_are_reported_clearly(tmp_path):
    code, out, err = await _run(env=_env(tmp_path, DATABASE_URL="mysql://root@localhost/x"),
                                cwd=tmp_path)
    assert code == 2
    assert "DATABASE_URL" in err and "sqlite+aiosqlite" in err
    assert "Traceback" not in err + out


async def test_the_platform_starts_migrates_and_answers_health_checks(tmp_path):
    port = _free_port()
    env = _env(tmp_path, SCHOOL_FILE=str(ROOT / "school.example.yaml"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        body = None
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        body = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        assert body is not None and body["status"] == "ok", body
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await _finish(process)
    assert process.returncode == 0, err
    assert "TEST PAYMENTS ARE ON" in err
    # No messenger here takes Stars, and no web page does: the demo's Stars offer is named.
    assert "takes the currency of club-monthly-stars (XTR): nobody can buy them" in err
    tables = {row[0] for row in sqlite3.connect(tmp_path / "school.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "orders", "payments", "purchases", "outbox", "alembic_version"} <= tables


async def test_chat_in_the_terminal_shows_the_menu_and_presses_buttons(tmp_path):
    port = _free_port()
    env = _env(tmp_path, SCHOOL_FILE=str(ROOT / "school.example.yaml"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "--port", str(port), "chat", env=env, cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    text, err = await _finish(process, b"/start\n1\n")
    assert process.returncode == 0, err
    assert "Pixel School" in text and "[1] 📚 Courses" in text
    assert "✎ (edited)" in text  # pressing [1] edited the menu into the catalog
    assert "Traceback" not in err


def _demo(tmp_path: Path, **extra: str) -> dict[str, str]:
    return _env(tmp_path, SCHOOL_FILE=str(ROOT / "school.example.yaml"), **extra)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


async def test_a_public_host_with_test_payments_unset_refuses_to_start(tmp_path):
    code, out, err = await _run(env=_demo(tmp_path, HOST="0.0.0.0"), cwd=tmp_path)
    assert code == 2
    line = _one_line(err)
    assert "HOST 0.0.0.0" in line and "TEST_PAYMENTS=0" in line
    assert not (tmp_path / "school.db").exists()


async def test_a_malformed_bot_token_is_one_line(tmp_path):
    code, out, err = await _run(env=_demo(tmp_path, TELEGRAM_BOT_TOKEN="not a token"),
                                cwd=tmp_path)
    assert code == 2
    assert _one_line(err).startswith("TELEGRAM_BOT_TOKEN: not a bot token")


async def test_postgresql_without_its_driver_is_one_line(tmp_path):
    """asyncpg made impossible to import, as on a machine where it was never installed."""
    shadow = tmp_path / "no-asyncpg" / "asyncpg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n")
    env = _demo(tmp_path, DATABASE_URL="postgresql+asyncpg://school@127.0.0.1/school",
               PYTHONPATH=str(shadow.parent))
    code, out, err = await _run(env=env, cwd=tmp_path)
    assert code == 2
    line = _one_line(err)
    assert line.startswith("DATABASE_URL:") and "pip install -e '.[postgres]'" in line


async def test_a_database_that_refuses_connections_is_one_line(tmp_path):
    url = f"postgresql+asyncpg://school:secret@127.0.0.1:{_free_port()}/school"
    code, out, err = await _run(env=_demo(tmp_path, DATABASE_URL=url), cwd=tmp_path)
    assert code == 2
    line = _one_line(err)
    assert line.startswith("DATABASE_URL: cannot open") and "secret" not in line


async def test_a_database_that_cannot_be_opened_is_one_line(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/school.db"
    code, out, err = await _run(env=_demo(tmp_path, DATABASE_URL=url), cwd=tmp_path)
    assert code == 2
    assert "unable to open database file" in _one_line(err)


async def test_a_postgresql_database_that_does_not_exist_is_one_line(tmp_path):
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql+asyncpg://user@host:port/db")
    url = base.rsplit("/", 1)[0] + "/no_such_school_database"
    code, out, err = await _run(env=_demo(tmp_path, DATABASE_URL=url), cwd=tmp_path)
    assert code == 2
    assert 'database "no_such_school_database" does not exist' in _one_line(err)


async def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await _run("--port", str(port), env=_demo(tmp_path), cwd=tmp_path)
    assert code == 2
    line = _one_line(err)
    assert line.startswith(f"PORT: {port} is already in use") and "--port" in line


async def _wait_for_line(process, seen: list[str], wanted: str, within: float = 30) -> None:
    async with asyncio.timeout(within):
        while not any(wanted in line for line in seen):
            line = await process.stderr.readline()
            assert line, "run.py ended:\n" + "".join(seen)
            seen.append(line.decode())


async def test_an_unreachable_bot_api_is_tried_again_until_the_bot_comes_up(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "bots" / "telegram"))
    from fake_bot_api import DEFAULT_TOKEN, FakeBotAPI

    api_port, port = _free_port(), _free_port()
    env = _demo(tmp_path, TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
                TELEGRAM_API_URL=f"http://127.0.0.1:{api_port}")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "--port", str(port), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    fake = FakeBotAPI()
    try:
        await _wait_for_line(process, seen, "(attempt 2)")
        async with aiohttp.ClientSession() as http:  # the platform serves meanwhile
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
        await fake.start(port=api_port)
        await _wait_for_line(process, seen, "the bot is up")
        fake.push(fake.text_update(fake.user(42), "/start"))
        await fake.wait_for_call("sendMessage", within=20)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await _finish(process)
        await fake.stop()
    assert process.returncode == 0, err
    retries = [line for line in seen if "the API cannot be reached" in line]
    assert len(retries) >= 2 and all(line.startswith(tuple("0123456789")) for line in retries)
    assert "telegram: the API cannot be reached" in retries[0]
    assert "Traceback" not in "".join(seen) + err
    assert "Pixel School" in fake.last_message(42)["text"]


async def test_chat_beside_a_running_server_shares_neither_its_port_nor_its_database(tmp_path):
    env = _demo(tmp_path, PORT=str(_free_port()))
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        await _wait_for_line(server, seen, "is up at")
        chat = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "run.py"), "chat", env=env, cwd=tmp_path,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        text, err = await _finish(chat, b"/start\n1\n")
    finally:
        server.send_signal(signal.SIGTERM)
        _, server_err = await _finish(server)
    assert chat.returncode == 0, err
    assert "Pixel School" in text and "[1] 📚 Courses" in text
    assert "Traceback" not in err
    assert server.returncode == 0, server_err
    users = sqlite3.connect(tmp_path / "school.db").execute("SELECT count(*) FROM users")
    assert users.fetchone() == (0,)  # the terminal student never reached the school's data
    leftovers = [p.name for p in tmp_path.iterdir()
                 if not p.name.startswith(("school.db", "sandbox.db"))]
    assert leftovers == []  # the chat's own database went with it


async def test_log_format_json_makes_every_line_a_json_object(tmp_path):
    env = _demo(tmp_path, LOG_FORMAT="json", PORT=str(_free_port()))
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        await _wait_for_line(process, seen, "is up at")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await _finish(process)
    assert process.returncode == 0, err
    entries = [json.loads(line) for line in "".join(seen).splitlines() + err.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["level"] == "WARNING" and "TEST PAYMENTS ARE ON" in e["message"]
               for e in entries)


async def test_an_unknown_log_format_is_one_line(tmp_path):
    code, out, err = await _run(env=_demo(tmp_path, LOG_FORMAT="xml"), cwd=tmp_path)
    assert code == 2
    assert _one_line(err) == "LOG_FORMAT: Input should be 'text' or 'json'"
