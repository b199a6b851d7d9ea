"""The log's two formats: text lines by default, one JSON object per line with LOG_FORMAT=json;
aiogram's line per update stays off unless LOG_LEVEL=DEBUG."""

from __future__ import annotations

import json
import logging

import pytest

from observability.logs import configure_logging


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in ("aiogram.event", "apscheduler"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_lines_carry_time_level_logger_message_and_the_exception(restore_logging, capsys):
    configure_logging("INFO", "json")
    logging.getLogger("school").info("payment %s: %s", "p-1", "granted")
    try:
        raise ValueError("the database\nwent away")
    except ValueError:
        logging.getLogger("flows.engine").exception("flow failed on %s", "a press")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2  # the traceback's newlines stay inside its JSON string
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO" and first["logger"] == "school"
    assert first["message"] == "payment p-1: granted" and first["time"].endswith("+00:00")
    assert "exc_info" not in first
    assert second["level"] == "ERROR" and second["message"] == "flow failed on a press"
    assert second["exc_info"].startswith("Traceback") and "went away" in second["exc_info"]


def test_text_is_the_default_and_aiogram_updates_are_quiet(restore_logging, capsys):
    configure_logging("INFO")
    logging.getLogger("aiogram.event").info("Update id=1 is handled. Duration 3 ms")
    logging.getLogger("school").warning("TEST PAYMENTS ARE ON")
    err = capsys.readouterr().err
    assert "Update id=1" not in err
    [line] = err.splitlines()
    assert line.endswith(" WARNING school: TEST PAYMENTS ARE ON")
    configure_logging("DEBUG")
    logging.getLogger("aiogram.event").info("Update id=2 is handled. Duration 3 ms")
    assert "Update id=2" in capsys.readouterr().err
