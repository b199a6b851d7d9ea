"""Running ``run.py`` as shipped, in its own process, for the benchmarks: its environment,
waiting for /healthz, its resident memory, stopping it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"
# Settings run.py reads; the caller's own values must not leak into a benchmark.
SETTINGS = ("DATABASE_URL", "SCHOOL_FILE", "PUBLIC_URL", "HOST", "PORT", "SECRET_KEY",
            "TEST_PAYMENTS", "LOG_LEVEL", "SANDBOX", "SANDBOX_DATABASE_URL", "SANDBOX_PUBLIC")
MESSENGER_PREFIXES = ("TELEGRAM_", "VK_", "VIBER_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def platform_env(**settings: str) -> dict[str, str]:
    """This process's environment without any of run.py's settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items()
           if k not in SETTINGS and not k.startswith(MESSENGER_PREFIXES)}
    env["SCHOOL_FILE"] = str(ROOT / "school.example.yaml")
    env.update(settings)
    return env


async def start_process(args: list[str], env: dict[str, str], cwd: Path,
                        log: Path) -> asyncio.subprocess.Process:
    """``python *args`` with its output in ``log`` (a pipe nobody reads would block it)."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=out, stderr=out)


async def start_platform(port: int, env: dict[str, str], cwd: Path,
                         log: Path) -> asyncio.subprocess.Process:
    return await start_process([str(RUN_PY), "--port", str(port)], env, cwd, log)


async def wait_healthy(port: int, process: asyncio.subprocess.Process, log: Path,
                       within: float = 60.0) -> float:
    """Seconds from now until GET /healthz answers 200."""
    began = time.perf_counter()
    url = f"http://127.0.0.1:{port}/healthz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"the process stopped ({process.returncode}):\n"
                                   f"{log.read_text()[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError):  # not listening yet
                async with client.get(url) as response:
                    if response.status == 200:
                        return time.perf_counter() - began
            if time.perf_counter() - began > within:
                raise RuntimeError(f"no /healthz within {within} s:\n{log.read_text()[-3000:]}")
            await asyncio.sleep(0.01)


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def stop_process(process: asyncio.subprocess.Process, within: float = 30.0) -> int:
    """SIGTERM, as an operator stops it; SIGKILL if it does not stop in time."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            await process.wait()
    return process.returncode
