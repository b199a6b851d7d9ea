"""aiogram's types built on first use (bots/telegram/deferred_types.py) are the models aiogram
builds at import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = """
import json, re, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {root!r})
if {deferred}:
    from bots.telegram.deferred_types import import_aiogram
    import_aiogram()
from pydantic import BaseModel
from aiogram import methods, types
from aiogram.methods.base import Response
built_at_import = types.Message.__pydantic_complete__
models = {{"Response[Message]": Response[types.Message]}}
for package in (types, methods):
    for name in package.__all__:
        model = getattr(package, name)
        if isinstance(model, type) and issubclass(model, BaseModel) and name != "TelegramObject":
            models[name] = model
schemas = {{}}
for name, model in models.items():
    model.__pydantic_validator__.title  # built here if it was deferred
    fields = {{f: re.sub(" at 0x[0-9a-f]+", "", repr(info))  # functions' addresses differ
              for f, info in model.__pydantic_fields__.items()}}
    schemas[name] = [model.__pydantic_complete__, fields]
for name in ("Update", "Message", "CallbackQuery", "InlineKeyboardMarkup", "Response[Message]"):
    schemas[name].append(models[name].model_json_schema())
print(json.dumps({{"built_at_import": built_at_import, "schemas": schemas}}, sort_keys=True))
"""


def schemas(*deferred: bool) -> list[dict]:
    """The schemas as each process sees them, built eagerly or deferred; the processes run at
    the same time (each builds every model: seconds)."""
    processes = [subprocess.Popen([sys.executable, "-c",
                                   SCHEMAS.format(root=str(ROOT), deferred=d)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for d in deferred]
    found = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err[-3000:]
            found.append(json.loads(out))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return found


def test_every_type_and_method_is_the_model_aiogram_builds_at_import():
    eager, deferred = schemas(False, True)
    assert eager["built_at_import"] is True
    assert deferred["built_at_import"] is False  # deferred indeed
    assert len(eager["schemas"]) > 500
    assert deferred["schemas"] == eager["schemas"]
