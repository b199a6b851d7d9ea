"""``run.py`` imports only what every configuration uses; the rest is imported when needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_AT_START = ("aiogram", "vk_api", "alembic", "asyncpg", "bots.telegram", "bots.vk",
                "bots.viber", "bots.sandbox", "web.sandbox", "bots.terminal", "matplotlib",
                "numpy")


def test_importing_run_loads_no_messenger_library_nor_alembic_nor_the_sandbox():
    code = ("import json, sys; import run; "
            f"print(json.dumps(sorted(m for m in {NOT_AT_START!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
