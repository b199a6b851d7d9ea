"""Clocks. Every datetime inside the platform is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def ensure_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the platform only handles aware UTC times")
    return value.astimezone(UTC)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock tests (and the sandbox) move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start) if start else datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = ensure_utc(moment)


class OffsetClock:
    """Real time moved forward by hand: the sandbox's clock, so an owner can watch a week
    of lessons and reminders happen in a minute. Never used for a real school."""

    def __init__(self, base: SystemClock | FakeClock | None = None) -> None:
        self._base = base or SystemClock()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self._base.now() + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if delta <= timedelta(0):
            raise ValueError("time only moves forward")
        self.offset += delta
        return self.now()
