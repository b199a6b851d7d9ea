"""The school's figures for staff: what came in, who bought, who stays. Days are the
school's local days (``school.timezone``); every figure is an aggregate the storage computes.

- revenue: per currency, payments received in the window minus payments given back in it;
- orders: placed by students in the window (an automatic renewal's own order is not one),
  paid: how many of them were paid, conversion: paid / placed;
- new students: who first wrote to the bot in the window;
- renewals: paid orders that extended a purchase (by hand or automatically); churn: purchases
  that ran out in the window (or whose renewal failed for good), as a share of those plus
  the renewals: of what came to its end, what did not go on;
- now: running purchases per product, and the share of running purchases with an end that
  renew by themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.ports import UnitOfWork
from core.school import School
from core.stats import Report, Series, Span, Unit, Window

SPAN_DAYS = {Span.TODAY: 1, Span.WEEK: 7, Span.MONTH: 30}
CHART_DAYS_AT_LEAST = 7  # today's chart shows the week it ends, a single bar says nothing
MAX_PERIODS = 62  # a longer history is charted by weeks, then by months


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def window(span: Span, now: datetime, zone: ZoneInfo) -> Window:
    """The local days of ``span`` up to ``now`` (all time: since the beginning)."""
    if span is Span.ALL:
        return Window(span, None, now)
    if span is Span.DAY:
        raise ValueError("a day's window is day_window()")
    today = now.astimezone(zone).date()
    return Window(span, midnight(today - timedelta(days=SPAN_DAYS[span] - 1), zone), now)


def day_window(day: date, zone: ZoneInfo) -> Window:
    """One whole local day."""
    return Window(Span.DAY, midnight(day, zone), midnight(day + timedelta(days=1), zone))


async def report(uow: UnitOfWork, window: Window, now: datetime) -> Report:
    start, end = window.start, window.end
    found = Report(window)
    found.money = await uow.stats.takings(start, end)
    found.orders, found.paid_orders = await uow.stats.orders(start, end)
    found.new_students = await uow.stats.new_users(start, end)
    found.renewals = await uow.stats.renewals(start, end)
    found.churned = await uow.stats.churned(start, end)
    for products, count in (await uow.stats.active_products(now)).items():
        for product in products:
            found.active_by_product[product] = found.active_by_product.get(product, 0) + count
    found.renewable, found.auto_renewing = await uow.stats.renewable(now)
    return found


def edges(unit: Unit, first: date, now: datetime, zone: ZoneInfo) -> list[datetime]:
    """The starts of the local periods from the one holding ``first`` to the one holding
    ``now``, then ``now``."""
    today = now.astimezone(zone).date()
    if unit is Unit.WEEK:
        first -= timedelta(days=first.weekday())
    elif unit is Unit.MONTH:
        first = first.replace(day=1)
    starts = []
    day = first
    while day <= today:
        starts.append(midnight(day, zone))
        if unit is Unit.DAY:
            day += timedelta(days=1)
        elif unit is Unit.WEEK:
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [*starts, now]


def chart_unit(first: date, today: date) -> Unit:
    days = (today - first).days + 1
    if days <= MAX_PERIODS:
        return Unit.DAY
    return Unit.WEEK if days <= MAX_PERIODS * 7 else Unit.MONTH


async def series(uow: UnitOfWork, school: School, window: Window, now: datetime) -> Series:
    """Revenue and active students per local day of the window (at least the last week; all
    time by weeks or months when it is long)."""
    zone = school.timezone
    today = now.astimezone(zone).date()
    if window.start is not None:
        first = window.start.astimezone(zone).date()
    else:
        since = await uow.stats.first_user_at()
        first = since.astimezone(zone).date() if since is not None else today
    first = min(first, today - timedelta(days=CHART_DAYS_AT_LEAST - 1))
    unit = chart_unit(first, today)
    bounds = edges(unit, first, now, zone)
    return Series(unit, bounds, await uow.stats.revenue_series(bounds),
                  await uow.stats.active_series(bounds))
