"""A moment typed in the school's time: the forms staff type, and what is no moment."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.local_time import parse_moment

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 23, 23, 30, tzinfo=UTC)  # already the 24th in Berlin
DAYS = {"today": 0, "tomorrow": 1, "завтра": 1}


@pytest.mark.parametrize("typed, expected", [
    ("2026-12-24 10:00", datetime(2026, 12, 24, 9, 0, tzinfo=UTC)),
    ("2026-12-24T10:00", datetime(2026, 12, 24, 9, 0, tzinfo=UTC)),
    ("  2026-7-1   8.05 ", datetime(2026, 7, 1, 6, 5, tzinfo=UTC)),  # summer time
    ("24.12.2026 10:00", datetime(2026, 12, 24, 9, 0, tzinfo=UTC)),
    ("Tomorrow 10:00", datetime(2026, 12, 25, 9, 0, tzinfo=UTC)),  # the school's tomorrow
    ("завтра 10:00", datetime(2026, 12, 25, 9, 0, tzinfo=UTC)),
    ("today 23:59", datetime(2026, 12, 24, 22, 59, tzinfo=UTC)),
])
def test_the_forms_staff_type(typed, expected):
    assert parse_moment(typed, NOW, BERLIN, DAYS) == expected


@pytest.mark.parametrize("typed", ["", "soon", "2026-02-30 10:00", "2026-12-24 25:00",
                                   "yesterday 10:00", "2026-12-24", "10:00", "31.13.2026 1:00"])
def test_what_is_no_moment(typed):
    assert parse_moment(typed, NOW, BERLIN, DAYS) is None
