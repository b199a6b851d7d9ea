"""Periods: ISO-8601 durations with calendar arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.periods import Period


@pytest.mark.parametrize("text", ["P30D", "P1M", "PT12H", "P1W", "P1Y", "P1M15D"])
def test_parse_keeps_the_iso_text(text):
    period = Period.parse(text)
    assert period.iso == text
    assert str(period) == text


@pytest.mark.parametrize(
    "text", ["", "30D", "p1d", "P", "PXD", "-P1D", "P-1D", "P1D ", "one month", None, 30]
)
def test_parse_rejects_junk(text):
    with pytest.raises(ValueError, match="is not an ISO-8601 duration"):
        Period.parse(text)


@pytest.mark.parametrize("text", ["P0D", "PT0S", "P0M", "P0Y0M0DT0H"])
def test_parse_rejects_zero(text):
    with pytest.raises(ValueError, match="must be longer than zero"):
        Period.parse(text)


def test_days_are_exact():
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert Period.parse("P30D").add_to(start) == start + timedelta(days=30)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 1, 15, 9, 30, tzinfo=UTC), datetime(2026, 2, 15, 9, 30, tzinfo=UTC)),
        (datetime(2026, 1, 31, 9, 30, tzinfo=UTC), datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),
        (datetime(2024, 1, 31, 9, 30, tzinfo=UTC), datetime(2024, 2, 29, 9, 30, tzinfo=UTC)),
        (datetime(2026, 12, 15, 9, 30, tzinfo=UTC), datetime(2027, 1, 15, 9, 30, tzinfo=UTC)),
        (datetime(2026, 3, 31, 0, 0, tzinfo=UTC), datetime(2026, 4, 30, 0, 0, tzinfo=UTC)),
    ],
)
def test_one_month_follows_the_calendar(start, end):
    assert Period.parse("P1M").add_to(start) == end


def test_adding_keeps_the_time_zone():
    end = Period.parse("P1M").add_to(datetime(2026, 1, 15, tzinfo=UTC))
    assert end.tzinfo is not None and end.utcoffset() == timedelta(0)


def test_approx_measures_from_a_fixed_date():
    assert Period.parse("P1M").approx() == timedelta(days=31)  # January 2001
    assert Period.parse("PT12H").approx() == timedelta(hours=12)
