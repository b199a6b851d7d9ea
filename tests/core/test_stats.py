"""The figures of a seeded month, on SQLite and PostgreSQL: revenue per currency with a
refund, conversion, renewals and churn, new students, what runs now, and the chart's series
per school-local day."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from factories import START
from stats_scene import seed

from core.models import Order, Purchase, PurchaseStatus
from core.services import staff_access, stats, users
from core.stats import Span, Takings, Unit


@pytest.fixture
async def scene(db_uow_factory, school, clock):
    return await seed(db_uow_factory, school, clock)


async def _report(uow_factory, school, span, now=START):
    async with uow_factory() as uow:
        return await stats.report(uow, stats.window(span, now, school.timezone), now)


async def test_today_counts_the_refund_now_and_the_stars_apart(db_uow_factory, school, scene):
    report = await _report(db_uow_factory, school, Span.TODAY)

    # Chen's 49 EUR came yesterday and went back today; Emil's Stars came today.
    assert report.money == {"EUR": Takings(taken=0, refunded=4900),
                            "XTR": Takings(taken=250, refunded=0)}
    assert {c: m.net for c, m in report.money.items()} == {"EUR": -4900, "XTR": 250}
    assert (report.orders, report.paid_orders, report.conversion) == (2, 1, 0.5)
    assert report.new_students == 2  # Dana and Emil
    assert (report.renewals, report.churned, report.churn) == (0, 0, None)


async def test_access_granted_by_staff_is_neither_an_order_nor_a_renewal(db_uow_factory,
                                                                         school, scene):
    later = START + timedelta(minutes=1)
    before = await _report(db_uow_factory, school, Span.WEEK, later)
    async with db_uow_factory() as uow:
        dana, _ = await users.resolve(uow, START, "telegram", "dana-2", "Dana")
        await staff_access.grant_offer(uow, school, dana.id, "python-life", "console:admin",
                                       START)
        await staff_access.grant_product(uow, school, dana.id, "club", 30, "console:admin",
                                         START)
        await staff_access.grant_product(uow, school, dana.id, "club", 7, "console:admin",
                                         START)  # extends the club grant
        await uow.commit()
    after = await _report(db_uow_factory, school, Span.WEEK, later)

    assert (after.orders, after.paid_orders, after.renewals) == (
        before.orders, before.paid_orders, before.renewals)
    assert after.money == before.money


async def test_seven_days(db_uow_factory, school, scene):
    report = await _report(db_uow_factory, school, Span.WEEK)

    assert report.window.start == START.replace(hour=0) - timedelta(days=6, hours=1)
    assert report.money == {"EUR": Takings(taken=800 + 4900, refunded=4900),
                            "XTR": Takings(taken=250)}
    # Boris's extension, Chen's (refunded since: it was paid), Dana's unpaid, Emil's.
    assert (report.orders, report.paid_orders, report.conversion) == (4, 3, 0.75)
    assert report.new_students == 3
    # Boris renewed by hand; Anna's access ran out: one of two that came to their end.
    assert (report.renewals, report.churned, report.churn) == (1, 1, 0.5)


async def test_thirty_days_and_all_time(db_uow_factory, school, scene):
    month = await _report(db_uow_factory, school, Span.MONTH)
    ever = await _report(db_uow_factory, school, Span.ALL)

    # Boris's first month is in the 30 days (his automatic renewal's own order is not an
    # order he placed); Anna's purchase 35 days ago only in all time.
    assert month.money["EUR"] == Takings(taken=900 + 800 + 4900, refunded=4900)
    assert (month.orders, month.paid_orders, month.new_students) == (5, 4, 4)
    assert (month.renewals, month.churned) == (1, 1)
    assert ever.window.start is None
    assert ever.money["EUR"] == Takings(taken=1990 + 900 + 800 + 4900, refunded=4900)
    assert ever.money["EUR"].net == 3690
    assert (ever.orders, ever.paid_orders, ever.new_students) == (6, 5, 5)
    assert ever.main_currency("EUR") == "EUR"
    assert ever.main_currency("USD") == "EUR"  # no dollars came: the most money came in euros
    stars_only = dataclasses.replace(ever, money={"XTR": Takings(taken=250)})
    assert stars_only.main_currency("EUR") == "XTR"


async def test_what_runs_now(db_uow_factory, school, scene):
    report = await _report(db_uow_factory, school, Span.TODAY)

    # Boris's club (renewing by card) and Emil's lifetime Python; Anna's ran out, Chen's
    # was revoked by the refund.
    assert report.active_by_product == {"club": 1, "python-course": 1}
    assert (report.renewable, report.auto_renewing, report.auto_share) == (1, 1, 1.0)
    async with db_uow_factory() as uow:
        assert [p.status for p in await uow.purchases.for_user(scene.chen)] == [
            PurchaseStatus.REVOKED]


async def test_a_past_day_is_a_whole_local_day(db_uow_factory, school, scene):
    yesterday = START.astimezone(school.timezone).date() - timedelta(days=1)
    async with db_uow_factory() as uow:
        report = await stats.report(uow, stats.day_window(yesterday, school.timezone), START)

    assert report.money == {"EUR": Takings(taken=4900)}  # refunded today, not that day
    assert (report.orders, report.paid_orders, report.new_students) == (1, 1, 1)


async def test_the_weeks_series_per_local_day(db_uow_factory, school, scene):
    window = stats.window(Span.WEEK, START, school.timezone)
    async with db_uow_factory() as uow:
        series = await stats.series(uow, school, window, START)

    assert series.unit is Unit.DAY
    days = [e.astimezone(school.timezone).date() for e in series.edges[:-1]]
    assert days == [date(2026, 2, 24) + timedelta(days=n) for n in range(7)]
    assert series.edges[-1] == START
    assert series.revenue == {"EUR": [0, 0, 0, 0, 800, 4900, -4900],
                              "XTR": [0, 0, 0, 0, 0, 0, 250]}
    # Anna until the 25th, Boris all week, Chen from the 1st, Emil today.
    assert series.active == [2, 2, 1, 1, 1, 2, 3]


async def test_todays_chart_shows_the_week_and_all_time_goes_by_weeks(db_uow_factory, school,
                                                                      scene):
    async with db_uow_factory() as uow:
        today = await stats.series(uow, school, stats.window(Span.TODAY, START,
                                                             school.timezone), START)
        later = START + timedelta(days=80)
        ever = await stats.series(uow, school, stats.window(Span.ALL, later,
                                                            school.timezone), later)

    assert len(today.edges) == 8 and today.active[-1] == 3
    # 115 days since Anna came: by weeks, each starting on a local Monday.
    assert ever.unit is Unit.WEEK
    starts = [e.astimezone(school.timezone) for e in ever.edges[:-1]]
    assert all(s.weekday() == 0 and (s.hour, s.minute) == (0, 0) for s in starts)
    assert starts[0].date() == date(2026, 1, 26)
    assert sum(ever.revenue["EUR"]) == 3690 and sum(ever.revenue["XTR"]) == 250


async def test_a_student_with_overlapping_purchases_counts_once_per_day(db_uow_factory,
                                                                          school, clock):
    """Two purchases that overlap, then a gap, then a third; and another student's lifetime
    access from before the week."""
    day0 = stats.midnight(date(2026, 2, 24), school.timezone)
    edges = [day0 + timedelta(days=n) for n in range(7)] + [START]
    async with db_uow_factory() as uow:
        one, _ = await users.resolve(uow, day0, "console", "one", "One", "en")
        two, _ = await users.resolve(uow, day0, "console", "two", "Two", "en")
        spans = [(one, 0, 3), (one, 1, 2.5), (one, 5.5, 6.2), (two, -40, None)]
        for user, begins, ends in spans:
            order = await uow.orders.add(Order(user_id=user.id, offer_code="x",
                                               token=f"t{begins}", currency="EUR"))
            await uow.purchases.add(Purchase(
                user_id=user.id, order_id=order.id, offer_code="x", starts_at=day0 + timedelta(
                    days=begins), ends_at=day0 + timedelta(days=ends) if ends else None))
        await uow.commit()
    async with db_uow_factory() as uow:
        active = await uow.stats.active_series(edges)

    # Days 0-2: One (twice over) and Two; day 3: One's access ended at its midnight; day 4:
    # only Two; days 5-6: One again.
    assert active == [2, 2, 2, 1, 1, 2, 2]
