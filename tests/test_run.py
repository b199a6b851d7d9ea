"""``run.py``: the command line, settings and a real start of the platform."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp

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
