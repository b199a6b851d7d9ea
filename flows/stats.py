"""``/stats``: the school's figures for today, 7 days, 30 days or all time, with a chart where
the messenger shows pictures; ``/stats digest on|off [HOUR]``: the daily digest."""

from __future__ import annotations

from datetime import date

from core.money import CURRENCIES, Money
from core.school import School, pick
from core.services import digests
from core.services import stats as figures
from core.staff import Right
from core.stats import Report, Span, Takings
from flows import chart
from flows.engine import Context, Reply, Stale
from flows.staff import staff_only
from flows.texts import Texts
from flows.ui import Attachment, Button, Screen, screen

WORDS = {"today": Span.TODAY, "7": Span.WEEK, "7d": Span.WEEK, "30": Span.MONTH,
         "30d": Span.MONTH, "all": Span.ALL}
SHOWN = (Span.TODAY, Span.WEEK, Span.MONTH, Span.ALL)


def _amounts(t: Texts, money: dict[str, int]) -> str:
    return " · ".join(
        Money(amount, currency).format(t.language) if currency in CURRENCIES
        else f"{amount} {currency}"
        for currency, amount in sorted(money.items()))


def _share(t: Texts, value: float | None) -> str:
    return t("stats_none") if value is None else f"{value:.0%}"


def report_text(t: Texts, school: School, report: Report) -> str:
    """The figures as staff read them, dates in the school's time zone."""
    local = Texts(school, t.language)  # the school's days, whatever the reader's zone
    window = report.window
    start = local.date(window.start) if window.start else ""
    lines = [t(f"stats_title_{window.span.value}", start=start, end=local.date(window.end))]
    money: dict[str, Takings] = report.money
    if any(m.taken or m.refunded for m in money.values()):
        lines.append(t("stats_revenue", amounts=_amounts(t, {c: m.net for c, m in money.items()})))
        refunds = {c: m.refunded for c, m in money.items() if m.refunded}
        if refunds:
            lines.append(t("stats_refunds", amounts=_amounts(t, refunds)))
    else:
        lines.append(t("stats_revenue_none"))
    lines += [
        t("stats_orders", orders=report.orders, paid=report.paid_orders,
          conversion=_share(t, report.conversion)),
        t("stats_new", n=report.new_students),
        t("stats_renewals", renewals=report.renewals, churned=report.churned,
          churn=_share(t, report.churn)),
        t("stats_auto", auto=report.auto_renewing, renewable=report.renewable,
          share=_share(t, report.auto_share)),
        "",
    ]
    if report.active_by_product:
        lines.append(t("stats_active_title"))
        for code, count in sorted(report.active_by_product.items(),
                                  key=lambda item: (-item[1], item[0])):
            product = school.products.get(code)
            name = pick(product.title, t.language, school.default_language) if product else code
            lines.append(f"• {name}: {count}")
    else:
        lines.append(t("stats_active_none"))
    return "\n".join(lines)


def _buttons(t: Texts, shown: Span) -> list[Button]:
    return [Button(("· " if span is shown else "") + t(f"stats_btn_{span.value}"),
                   action=f"st:{span.value}") for span in SHOWN]


async def _show(ctx: Context, span: Span, edit: bool) -> Reply:
    t, actor, school, now = ctx.t, ctx.staff, ctx.school, ctx.now
    assert actor is not None
    window = figures.window(span, now, school.timezone)
    report = await figures.report(ctx.uow, window, now)
    text = report_text(t, school, report)
    rows = _buttons(t, span)
    actor.nothing(f"read the figures: {span.value}")
    if "photo" not in ctx.capabilities.attachments:
        return Reply(screen(text, rows), edit=edit)
    series = await figures.series(ctx.uow, school, window, now)
    currency = report.main_currency(school.currency)
    unit = t(f"stats_unit_{series.unit.value}")
    labels = chart.Labels(t("stats_chart_revenue", unit=unit, currency=currency),
                          t("stats_chart_active", unit=unit))

    async def with_chart() -> Screen:  # drawn after the turn, outside its transaction
        png = await chart.chart(series, currency, labels, school.timezone)
        return Screen(text, (tuple(rows),),
                      attachment=Attachment("photo", f"stats-{span.value}.png", png))

    return Reply(None, after=with_chart)


@staff_only(Right.STATS, "/stats")
async def stats_command(ctx: Context, arg: str) -> Reply:
    """``/stats [today|7|30|all]``; ``/stats digest on [HOUR]`` or ``/stats digest off``."""
    actor = ctx.staff
    assert actor is not None
    words = arg.lower().split()
    if words and words[0] == "digest":
        return await _digest(ctx, words[1:])
    span = WORDS.get(words[0]) if words else Span.TODAY
    if span is None or len(words) > 1:
        actor.nothing("usage shown")
        return Reply(screen(ctx.t("stats_usage")))
    return await _show(ctx, span, edit=False)


@staff_only(Right.STATS, "stats.period")
async def stats_period(ctx: Context, arg: str) -> Reply:
    """A period button under the figures (``st:7d``)."""
    if arg not in {span.value for span in SHOWN}:
        raise Stale(arg)
    return await _show(ctx, Span(arg), edit=True)


async def _digest(ctx: Context, words: list[str]) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    usage = Reply(screen(t("stats_usage")))
    if not words or words[0] not in ("on", "off") or len(words) > 2 or (
            words[0] == "off" and len(words) > 1):
        actor.nothing("usage shown")
        return usage
    hour = None
    if len(words) == 2:
        if not (words[1].isascii() and words[1].isdigit() and 0 <= int(words[1]) <= 23):
            actor.nothing(f"bad hour {words[1][:20]!r}")
            return usage
        hour = int(words[1])
    on = words[0] == "on"
    before = await ctx.uow.digests.get(ctx.incoming.peer.messenger,
                                       ctx.incoming.sender.external_id)
    digest = await digests.switch(ctx.uow, ctx.school, ctx.incoming.peer.messenger,
                                  ctx.incoming.sender.external_id, on, hour, ctx.now)
    was = f"on at {before.hour}:00" if before and before.due_at else "off"
    if not on:
        actor.did(f"daily digest: {was} -> off")
        return Reply(screen(t("stats_digest_off")))
    assert digest.due_at is not None
    actor.did(f"daily digest: {was} -> on at {digest.hour}:00 {ctx.school.timezone.key}")
    local = Texts(ctx.school, t.language)
    return Reply(screen(t("stats_digest_on", hour=digest.hour, timezone=ctx.school.timezone.key,
                          first=local.datetime(digest.due_at))))


async def digest_screen(t: Texts, school: School, uow, day: date, now) -> Screen:
    """The daily digest of ``day`` (school-local), as sent by the outbox."""
    report = await figures.report(uow, figures.day_window(day, school.timezone), now)
    return screen(report_text(t, school, report))
