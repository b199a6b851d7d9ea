"""The student card: who the student is, where they are reachable, what they bought and
paid, what comes next for them, their paid groups and the staff's notes; with the buttons
of what the staff member's role may do about it (``flows.card_actions``).

A card fits one message on every messenger (Telegram's 4096 characters): it shows the latest
orders and notes, and their full lists are a button away; a section still too long is cut,
saying so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.automations.records import ACTOR, OPEN
from core.models import (
    RENEWAL_TELEGRAM_CHANNEL,
    RENEWAL_TELEGRAM_STARS,
    Identity,
    Membership,
    MemberStatus,
    Order,
    Payment,
    Purchase,
    PurchaseStatus,
)
from core.money import Money
from core.ports import UnitOfWork
from core.school import School, pick
from core.services import groups, reminders, students
from core.services.students import Card
from core.staff import Right, Role, may
from flows.automation_words import automation_title, run_state, step_words
from flows.engine import Context, Reply, Stale, parse_id
from flows.staff import staff_only
from flows.texts import Texts
from flows.titles import title_of
from flows.ui import Button, Screen, screen

CARD_LIMIT = 3500  # UTF-16 units, as Telegram counts its 4096: room for a line on top
ORDERS_SHOWN = 5
NOTES_SHOWN = 3
NOTE_CLIP = 300  # characters of a note on the card (the notes page shows it whole)
PURCHASE_BUTTONS = 8
PAGE_SHOWN = 30  # orders or notes on their own page
STEPS = ("card_days", "card_note")  # steps of the card awaiting typed text


@dataclass
class View:
    """What rendering a card needs: the turn's storage, school, wording, time and role."""

    uow: UnitOfWork
    school: School
    t: Texts
    now: datetime
    role: Role

    @classmethod
    def of(cls, ctx: Context) -> View:
        assert ctx.staff is not None
        return cls(ctx.uow, ctx.school, ctx.t, ctx.now, ctx.staff.role)

    def title(self, code: str) -> str:
        return title_of(self.school, self.t, code)


def leave_steps(ctx: Context) -> None:
    """Opening a card ends a card step left waiting (a note or a number never typed)."""
    if ctx.state.step in STEPS:
        ctx.state.step = ""
    for step in STEPS:
        ctx.state.data.pop(step, None)


# --- the card ---------------------------------------------------------------------------------


async def card_screen(view: View, user_id: int, lead: str = "") -> Screen | None:
    """The card of ``user_id``, under ``lead`` (what an action just changed); None if there
    is no such student."""
    card = await students.card(view.uow, view.school, user_id, ORDERS_SHOWN, NOTES_SHOWN)
    if card is None:
        return None
    text = fit([[lead]] if lead else [], sections(view, card), CARD_LIMIT, view.t("card_cut"))
    return Screen(text, tuple(tuple(row) for row in card_buttons(view, card)))


def sections(view: View, card: Card) -> list[list[str]]:
    """The card's text as sections of lines; the first line of each is its heading."""
    t, user = view.t, card.user
    zone = user.timezone or t("card_zone_school", zone=str(view.school.timezone))
    head = [t("card_title", name=user.name or "?", id=user.id),
            t("card_meta", since=t.date(user.created_at) if user.created_at else "?",
              language=user.language or "?", zone=zone)]
    granted = {order.id: order.granted_by for order in card.orders if order.granted_by}
    return [
        head,
        [t("card_accounts")] + [_identity(view, i, card) for i in card.identities],
        [t("card_access")] + ([_purchase(view, p, card, granted) for p in card.purchases]
                              or [t("card_none")]),
        [t("card_reminders")] + (_reminders(view, card) or [t("card_none")]),
        [t("card_orders", shown=min(len(card.orders), ORDERS_SHOWN), total=len(card.orders))]
        + ([line for order in card.orders[:ORDERS_SHOWN]
            for line in order_lines(view, order, card.payments.get(order.id, []))]
           or [t("card_none")]),
        [t("card_groups")] + (_groups(view, card) or [t("card_none")]),
        [t("card_automations")] + (_runs(view, card) or [t("card_none")]),
        [t("card_notes", shown=len(card.notes), total=card.notes_total)]
        + ([note_line(view, n.created_at, n.author, n.text, NOTE_CLIP) for n in card.notes]
           or [t("card_none")]),
    ]


def fit(top: list[list[str]], parts: list[list[str]], limit: int, cut: str) -> str:
    """Sections joined into one text of at most ``limit`` characters: while it is longer, the
    longest section loses its last line (its heading stays) and says it was cut."""
    parts = [list(part) for part in parts]
    clipped: set[int] = set()

    def text() -> str:
        return "\n\n".join("\n".join(part + ([cut] if i in clipped else []))
                           for i, part in enumerate(top + parts))

    while _units(text()) > limit:
        longest = max(range(len(parts)), key=lambda i: len("\n".join(parts[i])))
        if len(parts[longest]) <= 1:
            return text()[: limit - 1] + "…"
        parts[longest].pop()
        clipped.add(longest + len(top))
    return text()


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def _identity(view: View, identity: Identity, card: Card) -> str:
    t = view.t
    handle = f" @{identity.username}" if identity.username else ""
    name = f" “{identity.name}”" if identity.name else ""
    reach = t("card_reachable" if identity.reachable else "card_unreachable")
    seen = t("card_seen", date=t.datetime(identity.last_seen_at)) if identity.last_seen_at \
        else ""
    preferred = t("card_preferred") if card.user.preferred_messenger == identity.messenger \
        else ""
    return f"• {identity.messenger} {identity.external_id}{handle}{name} — {reach}{seen}" \
           f"{preferred}"


def purchase_state(view: View, purchase: Purchase) -> str:
    """``active, Mar 2, 2026 – Apr 1, 2026``, ``active since …, lifetime``, ``expired …``."""
    t = view.t
    start = t.date(purchase.starts_at) if purchase.starts_at else "?"
    if purchase.status is PurchaseStatus.ACTIVE:
        if purchase.ends_at is None:
            return t("card_p_lifetime", start=start)
        return t("card_p_active", start=start, end=t.date(purchase.ends_at))
    ended = purchase.ended_at or purchase.ends_at
    return t("card_p_ended", status=t(f"card_status_{purchase.status.value}"),
             date=t.date(ended) if ended else "?", reason=purchase.end_reason or "?",
             start=start, end=t.date(purchase.ends_at) if purchase.ends_at else t("card_life"))


def renewal_state(view: View, purchase: Purchase, card: Card | None = None) -> str:
    """Automatic renewal of a running purchase with an end: on (how), or off."""
    t = view.t
    if purchase.status is not PurchaseStatus.ACTIVE or purchase.ends_at is None:
        return ""
    if purchase.renewal == RENEWAL_TELEGRAM_CHANNEL:
        return t("card_renew_channel")
    if purchase.renewal == RENEWAL_TELEGRAM_STARS:
        return t("card_renew_on", method=t("card_method_stars"))
    if purchase.renewal is not None:
        text = t("card_renew_on", method=purchase.renewal)
        charge = card.charges.get(purchase.id) if card else None
        if charge is not None and charge.due_at is not None:
            text += t("card_next_charge", date=t.datetime(charge.due_at),
                      failed=charge.attempts)
        return text
    if purchase.renewal_method:
        return t("card_renew_off_kept", method=purchase.renewal_method.partition(":")[0])
    return t("card_renew_off")


def _purchase(view: View, purchase: Purchase, card: Card, granted: dict[int, str]) -> str:
    line = f"• {view.title(purchase.offer_code)} — {purchase_state(view, purchase)}" \
           f"{renewal_state(view, purchase, card)}"
    if purchase.order_id in granted:
        line += granted_by(view, "card_granted_by", granted[purchase.order_id])
    return line


def _reminders(view: View, card: Card) -> list[str]:
    t, lines = view.t, []
    for purchase in card.purchases:
        planned = card.reminders.get(purchase.id)
        if planned is None:
            continue
        when, kind, days = planned
        if kind is reminders.NOTICE:
            what = t("card_remind_notice", days=t.period(f"P{-days}D"))
        elif days < 0:
            what = t("card_remind_before", days=t.period(f"P{-days}D"))
        elif days == 0:
            what = t("card_remind_today")
        else:
            what = t("card_remind_after", days=t.period(f"P{days}D"))
        lines.append(f"• {view.title(purchase.offer_code)} — {t.datetime(when)}: {what}")
    return lines


def _runs(view: View, card: Card) -> list[str]:
    """Each run: its automation, and where it is (the step; paused or not, what it waits for
    and until when) or how it ended."""
    t, school, lines = view.t, view.school, []
    for shown in card.runs:
        run = shown.run
        title = automation_title(school, t, shown.automation, run.automation)
        if run.status in OPEN:
            lines.append(t("card_run_open", title=title,
                           step=step_words(school, t, shown.current), state=run_state(t, run)))
        else:
            lines.append(t("card_run_over", title=title, state=run_state(t, run)))
    if card.runs_total > len(card.runs):
        lines.append(t("auto_where_more_runs", n=card.runs_total - len(card.runs)))
    return lines


def granted_by(view: View, key: str, who: str, **params: object) -> str:
    """``key`` said of access given without payment by ``who``: a staff account, or an
    automation (named by its title, ``<key>_automation``)."""
    if who.startswith(ACTOR):
        code = who.removeprefix(ACTOR)
        return view.t(f"{key}_automation", title=automation_title(
            view.school, view.t, view.school.automations.get(code), code), **params)
    return view.t(key, who=who, **params)


def order_lines(view: View, order: Order, payments: list[Payment]) -> list[str]:
    t, language = view.t, view.t.language
    title = view.title(order.offer_code)
    if order.granted_by:
        return [f"• #{order.id} {title} — " + granted_by(
            view, "card_order_granted", order.granted_by,
            date=t.date(order.paid_at or order.created_at or view.now))]
    when = order.paid_at or order.closed_at or order.created_at
    status = t(f"card_order_{order.status.value}")
    if order.close_reason:
        status += f" ({order.close_reason})"
    lines = [f"• #{order.id} {title} — {Money(order.amount, order.currency).format(language)}"
             f" — {status}{', ' + t.date(when) if when else ''}"]
    for payment in payments:
        mark = t(f"card_payment_{payment.status.value}")
        if payment.refund_reason and payment.status.value == "succeeded":
            mark += t("card_payment_to_refund")
        lines.append(f"   ↳ {payment.gateway}: "
                     f"{Money(payment.amount, payment.currency).format(language)} {mark}")
    return lines


def _groups(view: View, card: Card) -> list[str]:
    t, school, lines = view.t, view.school, []
    seen = set()
    for member in card.memberships:
        group = school.groups.get(member.group)
        name = pick(group.title, t.language, school.default_language) if group else member.group
        seen.add(member.group)
        lines.append(f"• {name} — {_membership(view, member)}")
    for purchase in card.purchases:
        if not groups.running(purchase, view.now):
            continue
        for code in sorted(groups.groups_of(school, purchase.products) - seen):
            seen.add(code)
            name = pick(school.groups[code].title, t.language, school.default_language)
            lines.append(f"• {name} — {t('card_group_not_joined')}")
    return lines


def _membership(view: View, member: Membership) -> str:
    t = view.t
    when = t.date(member.updated_at or member.joined_at) if (
        member.updated_at or member.joined_at) else "?"
    if member.status is MemberStatus.MEMBER:
        text = t("card_group_member", date=t.date(member.joined_at) if member.joined_at
                 else "?")
        if member.check_at is not None:
            text += t("card_group_check")
        return text
    return t(f"card_group_{member.status.value}", date=when)


def note_line(view: View, at: datetime | None, author: str, text: str, clip: int) -> str:
    shown = text if len(text) <= clip else text[: clip - 1] + "…"
    return f"• {view.t.datetime(at) if at else '?'} {author}: {shown}"


def card_buttons(view: View, card: Card) -> list[list[Button]]:
    t, role, user_id = view.t, view.role, card.user.id
    rows: list[list[Button]] = []
    if may(role, Right.ACCESS):
        for purchase in [p for p in card.purchases
                         if p.status is not PurchaseStatus.REVOKED][:PURCHASE_BUTTONS]:
            rows.append([Button(purchase_label(view, purchase), action=f"sp:{purchase.id}")])
    actions = []
    if may(role, Right.ACCESS):
        actions += [Button(t("btn_card_grant"), action=f"sg:{user_id}"),
                    Button(t("btn_card_resend"), action=f"sl:{user_id}")]
    if may(role, Right.REFUND):
        actions.append(Button(t("btn_card_refund"), action=f"sf:{user_id}"))
    if may(role, Right.NOTES):
        actions.append(Button(t("btn_card_note"), action=f"sn:{user_id}"))
    rows += [actions[i:i + 2] for i in range(0, len(actions), 2)]
    pages = []
    if len(card.orders) > ORDERS_SHOWN:
        pages.append(Button(t("btn_card_orders", n=len(card.orders)), action=f"so:{user_id}"))
    if card.notes_total > NOTES_SHOWN:
        pages.append(Button(t("btn_card_notes", n=card.notes_total), action=f"sh:{user_id}"))
    if pages:
        rows.append(pages)
    rows.append([Button(t("btn_card_refresh"), action=f"sc:{user_id}")])
    return rows


def purchase_label(view: View, purchase: Purchase) -> str:
    t = view.t
    if purchase.status is PurchaseStatus.ACTIVE:
        end = t.date(purchase.ends_at) if purchase.ends_at else t("card_life")
    else:
        end = t(f"card_status_{purchase.status.value}")
    return t("btn_card_purchase", title=view.title(purchase.offer_code), end=end)


def back_to_card(t: Texts, user_id: int) -> Button:
    return Button(t("btn_card_back"), action=f"sc:{user_id}")


# --- handlers -------------------------------------------------------------------------------


@staff_only(Right.STUDENTS, "card.open")
async def open_card(ctx: Context, arg: str) -> Reply:
    """``sc:<user_id>``: the student's card, in place of the message pressed."""
    actor = ctx.staff
    assert actor is not None
    user = await students.student(ctx.uow, parse_id(arg))
    shown = await card_screen(View.of(ctx), user.id) if user else None
    if user is None or shown is None:
        raise Stale(arg)
    leave_steps(ctx)
    actor.nothing("opened the card", user_id=user.id)
    return Reply(shown, edit=True)


@staff_only(Right.STUDENTS, "card.orders")
async def all_orders(ctx: Context, arg: str) -> Reply:
    """``so:<user_id>``: the student's latest orders with their payments."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    user = await students.student(ctx.uow, parse_id(arg))
    if user is None:
        raise Stale(arg)
    view = View.of(ctx)
    placed = list(reversed(await ctx.uow.orders.for_user(user.id)))
    lines = [t("card_orders_page", name=user.name or "?", id=user.id,
               shown=min(len(placed), PAGE_SHOWN), total=len(placed))]
    for order in placed[:PAGE_SHOWN]:
        lines += order_lines(view, order, await ctx.uow.payments.for_order(order.id))
    actor.nothing(f"read {min(len(placed), PAGE_SHOWN)} orders", user_id=user.id)
    return Reply(screen(fit([], [lines], CARD_LIMIT, t("card_cut")), back_to_card(t, user.id)),
                 edit=True)


@staff_only(Right.STUDENTS, "card.notes")
async def all_notes(ctx: Context, arg: str) -> Reply:
    """``sh:<user_id>``: the staff's notes on the student, newest first."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    user = await students.student(ctx.uow, parse_id(arg))
    if user is None:
        raise Stale(arg)
    view = View.of(ctx)
    notes = await ctx.uow.notes.for_user(user.id, PAGE_SHOWN)
    total = await ctx.uow.notes.count(user.id)
    lines = [t("card_notes_page", name=user.name or "?", id=user.id, shown=len(notes),
               total=total)]
    lines += [note_line(view, n.created_at, n.author, n.text, len(n.text)) for n in notes]
    actor.nothing(f"read {len(notes)} notes", user_id=user.id)
    return Reply(screen(fit([], [lines], CARD_LIMIT, t("card_cut")), back_to_card(t, user.id)),
                 edit=True)
