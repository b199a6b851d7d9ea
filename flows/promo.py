"""``/promo``: staff list promo codes, make new ones and disable those made in the chat.

    /promo                                   every code, with its uses and state
    /promo add CODE 10% [offers=a,b] [limit=N] [until=2027-01-31]
    /promo add CODE 5EUR [...]               a fixed amount, in that currency
    /promo off CODE                          disable a code made in the chat

The school file's codes are listed but stay the file's: the chat can neither disable them
nor make a code of the same name."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from core.money import CURRENCIES, Money
from core.promo_codes import CODE, PromoState
from core.school import PromoCode
from core.services import promo_codes
from core.services.promo_codes import PromoDraft, PromoLine, PromoRefused
from core.staff import Right
from flows.engine import Context, Reply, Stale
from flows.staff import staff_only
from flows.texts import Texts
from flows.ui import Button, screen

OFF_BUTTONS = 10  # at most this many "disable" buttons under the list
_PERCENT = re.compile(r"^(.+)%$")
_AMOUNT = re.compile(r"^(\d+(?:[.,]\d+)?)([A-Za-z]{3})$")
_OPTIONS = ("offers", "limit", "until")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")


@staff_only(Right.PROMO, "/promo")
async def promo_command(ctx: Context, arg: str) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    words = arg.split()
    if not words:
        return await _list(ctx)
    verb = words[0].lower()
    try:
        if verb == "add" and len(words) >= 3:
            draft = parse_draft(words[1:], ctx.school.timezone)
            made = await promo_codes.create(ctx.uow, ctx.school, draft, actor.account, ctx.now)
            promo = made.promo()
            actor.did(f"made {promo.code}: {promo_codes.describe(promo)}")
            return Reply(screen(t("promo_made", code=promo.code,
                                  summary=summary(t, promo, 0))))
        if verb == "off" and len(words) == 2:
            return _disabled(ctx, await promo_codes.disable(
                ctx.uow, ctx.school, words[1], actor.account, ctx.now))
    except PromoRefused as refused:
        actor.nothing(f"refused: {refused}")
        return Reply(screen(refusal(t, refused)))
    actor.nothing("usage shown")
    return Reply(screen(t("promo_usage")))


@staff_only(Right.PROMO, "promo.list")
async def list_button(ctx: Context, _: str) -> Reply:
    reply = await _list(ctx)
    reply.edit = True
    return reply


@staff_only(Right.PROMO, "promo.confirm")
async def confirm_off(ctx: Context, code: str) -> Reply:
    """A "disable" button under the list: asks once more (a tap is easily made)."""
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    _button_code(code)
    actor.nothing(f"asked to confirm disabling {code}")
    return Reply(screen(t("promo_off_confirm", code=code),
                        Button(t("btn_promo_off_yes", code=code), action=f"pcy:{code}"),
                        Button(t("btn_back"), action="pcl")), edit=True)


@staff_only(Right.PROMO, "promo.off")
async def off_button(ctx: Context, code: str) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    _button_code(code)
    try:
        reply = _disabled(ctx, await promo_codes.disable(ctx.uow, ctx.school, code,
                                                         actor.account, ctx.now))
    except PromoRefused as refused:
        actor.nothing(f"refused: {refused}")
        reply = Reply(screen(refusal(t, refused)))
    reply.edit = True
    return reply


def _button_code(code: str) -> None:
    if not CODE.fullmatch(code) or code != code.upper():
        raise Stale(code)


def _disabled(ctx: Context, line: PromoLine) -> Reply:
    assert ctx.staff is not None
    code = line.promo.code
    ctx.staff.did(f"disabled {code}: {line.used} used, was {line.state.value}")
    return Reply(screen(ctx.t("promo_disabled", code=code, used=line.used),
                        Button(ctx.t("btn_promo_list"), action="pcl")))


async def _list(ctx: Context) -> Reply:
    t, actor = ctx.t, ctx.staff
    assert actor is not None
    lines = await promo_codes.listing(ctx.uow, ctx.school, ctx.now)
    actor.nothing(f"listed {len(lines)} codes")
    if not lines:
        return Reply(screen(t("promo_none") + "\n\n" + t("promo_usage")))
    text = [t("promo_title", n=len(lines))]
    for line in lines:
        text.append(t("promo_line", code=line.promo.code,
                      summary=summary(t, line.promo, line.used), state=_state(t, line)))
    text += ["", t("promo_usage")]
    buttons = [Button(t("btn_promo_off", code=line.promo.code), action=f"pc:{line.promo.code}")
               for line in lines if line.made is not None and line.state is not
               PromoState.DISABLED][:OFF_BUTTONS]
    return Reply(screen("\n".join(text), *buttons))


def _state(t: Texts, line: PromoLine) -> str:
    state = t(f"promo_state_{line.state.value}")
    if line.made is None:
        return f"{state}{t('promo_in_file')}"
    if line.made.disabled_at is not None:
        return t("promo_state_disabled_by", state=state, date=t.date(line.made.disabled_at),
                 by=line.made.disabled_by or "?")
    return t("promo_made_by", state=state, by=line.made.created_by)


def summary(t: Texts, promo: PromoCode, used: int) -> str:
    """``10 % · every offer · used 3 of 50 · until 31.01.2027``."""
    discount = f"{promo.percent}%" if promo.percent is not None else \
        promo.amount.format(t.language) if promo.amount else "?"
    offers = ", ".join(promo.offers) if promo.offers else t("promo_every_offer")
    uses = t("promo_uses_of", used=used, limit=promo.max_uses) if promo.max_uses is not None \
        else t("promo_uses", used=used)
    until = t("promo_until", date=t.date(promo.valid_until)) if promo.valid_until \
        else t("promo_no_end")
    return " · ".join((discount, offers, uses, until))


def refusal(t: Texts, refused: PromoRefused) -> str:
    params = {key: value.format(t.language) if isinstance(value, Money)
              else t.datetime(value) if isinstance(value, datetime) else value
              for key, value in refused.params.items()}
    return t(f"promo_refused_{refused.reason}", **params)


def parse_draft(words: list[str], zone) -> PromoDraft:
    """``CODE 10% offers=a,b limit=5 until=2027-01-31`` (also ``10 %``, ``5 EUR``, ``5,50EUR``)
    as a draft; PromoRefused says what is wrong with it."""
    code, value, *rest = words
    if rest and (rest[0] == "%" or rest[0].upper() in CURRENCIES) and not _is_option(rest[0]):
        value += rest.pop(0)
    percent, amount = _discount(value)
    options: dict[str, str] = {}
    for word in rest:
        key, sep, given = word.partition("=")
        key = key.lower()
        if not sep or key not in _OPTIONS:
            raise PromoRefused("bad_option", option=word)
        if key in options:
            raise PromoRefused("twice", option=key)
        options[key] = given
    offers: tuple[str, ...] = ()
    if "offers" in options:
        offers = tuple(o.strip() for o in options["offers"].split(",") if o.strip())
        if not offers:
            raise PromoRefused("no_offers")
    limit = None
    if "limit" in options:
        if not options["limit"].isdecimal() or len(options["limit"]) > 9:
            raise PromoRefused("bad_limit", limit=options["limit"], most=promo_codes.MAX_USES)
        limit = int(options["limit"])
    until = _until(options["until"], zone) if "until" in options else None
    return PromoDraft(code=code.upper(), percent=percent, amount=amount, offers=offers,
                      max_uses=limit, valid_until=until)


def _is_option(word: str) -> bool:
    return "=" in word


def _discount(value: str) -> tuple[int | None, Money | None]:
    if match := _PERCENT.match(value):
        number = match.group(1).strip()
        if not number.isdecimal() or not 1 <= int(number) <= 100:
            raise PromoRefused("bad_percent", percent=number)
        return int(number), None
    if match := _AMOUNT.match(value):
        number, currency = match.group(1).replace(",", "."), match.group(2).upper()
        if currency not in CURRENCIES:
            raise PromoRefused("unknown_currency", currency=currency)
        try:
            amount = Money.from_major(number, currency)
        except ValueError:
            raise PromoRefused("bad_amount", amount=value) from None
        if amount.amount <= 0:
            raise PromoRefused("bad_amount", amount=value)
        return None, amount
    raise PromoRefused("bad_value", value=value)


def _until(text: str, zone) -> datetime:
    """``2027-01-31``: to the end of that day, school time; ``2027-01-31T18:00``: then."""
    try:
        if _DAY.match(text):
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59), zone).astimezone(UTC)
        if _MOMENT.match(text):
            return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        pass
    raise PromoRefused("bad_date", until=text)
