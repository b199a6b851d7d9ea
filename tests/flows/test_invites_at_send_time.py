"""Personal links into paid groups are made at send time and always expire in the future:
access held only by a renewal still in progress (its end passed) gets no link Telegram would
refuse (EXPIRE_DATE_INVALID), and an invite whose link has lapsed is not sent."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from factories import START

from core.models import InviteLink, Order, OrderStatus, OutboxMessage, Purchase
from core.notices import GroupInvite
from core.school import Group
from core.services import users
from flows.groups import GroupKeeper
from flows.notifications import render
from flows.texts import Texts

CLUB = -100123


class Telegram:
    """Records the links asked for and refuses a past expiry, as Telegram does."""

    def __init__(self, clock) -> None:
        self.clock, self.links = clock, []

    async def create_link(self, chat_id: int, name: str, expires_at: datetime,
                          join_request: bool) -> str:
        if expires_at <= self.clock.now():
            raise AssertionError("Bad Request: EXPIRE_DATE_INVALID")
        self.links.append(expires_at)
        return f"https://t.me/+link{len(self.links)}"

    async def revoke_link(self, chat_id: int, url: str) -> None:
        return None


@pytest.fixture
def school(school):
    return dataclasses.replace(school, groups={"club": Group("club", CLUB, {"en": "Club"})})


async def _club_purchase(uow_factory, ends_at: datetime, renewal: str | None) -> Purchase:
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, START, "telegram", "501", "Anna", "en")
        order = await uow.orders.add(Order(
            user_id=user.id, offer_code="club-month", token="t1", amount=900, list_amount=900,
            currency="EUR", status=OrderStatus.PAID, created_at=START, products=("club",),
            access="subscription", period="P1M"))
        purchase = await uow.purchases.add(Purchase(
            user_id=user.id, order_id=order.id, offer_code="club-month", products=("club",),
            access="subscription", starts_at=START, ends_at=ends_at, renewal=renewal,
            renewal_method="test:card_1" if renewal else None, updated_at=START))
        await uow.commit()
    return purchase


async def test_no_link_while_only_a_renewal_in_progress_holds_the_access(
        uow_factory, school, clock):
    clock.set(START + timedelta(days=40))
    purchase = await _club_purchase(uow_factory, START + timedelta(days=31), "test")
    telegram = Telegram(clock)
    keeper = GroupKeeper(uow_factory, clock, lambda: school, {}, telegram)
    assert await keeper.personal_link(purchase.id, "club") is None
    assert telegram.links == []


async def test_a_link_expires_a_week_from_sending_or_at_the_end_of_access(
        uow_factory, school, clock):
    purchase = await _club_purchase(uow_factory, START + timedelta(days=31), None)
    telegram = Telegram(clock)
    keeper = GroupKeeper(uow_factory, clock, lambda: school, {}, telegram)
    clock.set(START + timedelta(days=27))  # sent late: the link is as of sending
    message = OutboxMessage(id=1, user_id=purchase.user_id, kind="group_invite",
                            data={"purchase": purchase.id, "group": "club"}, created_at=START)
    await keeper.prepare_invite(GroupInvite(purchase=purchase.id, group="club"))
    assert telegram.links == [START + timedelta(days=31)]
    async with uow_factory() as uow:
        shown = await render(uow, school, Texts(school, "en"), message, None, now=clock.now())
    assert "until Apr 2, 2026" in shown.text


async def test_an_invite_whose_link_lapsed_is_not_sent(uow_factory, school, clock):
    purchase = await _club_purchase(uow_factory, START + timedelta(days=31), None)
    async with uow_factory() as uow:
        await uow.invite_links.add(InviteLink(
            purchase_id=purchase.id, user_id=purchase.user_id, group="club",
            url="https://t.me/+old", created_at=START, expires_at=START + timedelta(days=7)))
        await uow.commit()
    message = OutboxMessage(id=1, user_id=purchase.user_id, kind="group_invite",
                            data={"purchase": purchase.id, "group": "club"}, created_at=START)
    async with uow_factory() as uow:
        late = await render(uow, school, Texts(school, "en"), message, None,
                            now=START + timedelta(days=8))
        in_time = await render(uow, school, Texts(school, "en"), message, None,
                               now=START + timedelta(days=1))
    assert late is None and in_time is not None
