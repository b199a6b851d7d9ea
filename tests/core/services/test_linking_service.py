"""Linking accounts on every storage backend: everything of the student typing the code
moves to the student who asked for it, a lesson both received is kept once, and a code used
by two accounts at the same moment links only one."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from factories import START, make_school

from core import errors
from core.models import Order, Purchase
from core.services import linking, users
from core.services.linking import Linked


@pytest.fixture
def school():
    return make_school()


async def _student(uow_factory, messenger, external_id, lesson=None):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, START, messenger, external_id, "Anna", "fr")
        if lesson:
            order = await uow.orders.add(Order(
                user_id=user.id, offer_code="python-life", token=f"t-{external_id}",
                amount=4900, list_amount=4900, currency="EUR", created_at=START,
                products=("python-course",)))
            purchase = await uow.purchases.add(Purchase(
                user_id=user.id, order_id=order.id, offer_code="python-life",
                products=("python-course",), starts_at=START, updated_at=START))
            await uow.deliveries.add_if_absent(user.id, "python", lesson, purchase.id, START)
        await uow.commit()
    return user.id


async def test_the_typing_account_joins_the_asking_student(db_uow_factory):
    anna = await _student(db_uow_factory, "telegram", "1", lesson="intro")
    other = await _student(db_uow_factory, "viber", "v1", lesson="intro")
    async with db_uow_factory() as uow:
        code = await linking.issue(uow, anna, START)
        await uow.commit()
    async with db_uow_factory() as uow:
        assert await linking.redeem(uow, code.code, other, START) is Linked.CONFIRM
        assert await linking.redeem(uow, code.code, other, START, confirmed=True) \
            is Linked.LINKED
        await uow.commit()
    async with db_uow_factory() as uow:
        assert (await uow.users.identity("viber", "v1")).user_id == anna
        assert len(await uow.purchases.for_user(anna)) == 2
        assert await uow.deliveries.delivered(anna, "python") == {"intro"}
        assert (await uow.users.get(other)).merged_into == anna
        with pytest.raises(errors.LinkCodeInvalid):  # once only
            await linking.redeem(uow, code.code, other, START)


async def test_a_code_raced_by_two_accounts_links_one(db_uow_factory):
    anna = await _student(db_uow_factory, "telegram", "2")
    rivals = [await _student(db_uow_factory, "viber", f"v{i}") for i in range(2, 5)]
    async with db_uow_factory() as uow:
        code = await linking.issue(uow, anna, START)
        await uow.commit()

    async def redeem(user_id):
        async with db_uow_factory() as uow:
            outcome = await linking.redeem(uow, code.code, user_id, START)
            await uow.commit()
            return outcome

    outcomes = await asyncio.gather(*(redeem(r) for r in rivals), return_exceptions=True)
    assert [o for o in outcomes if o is Linked.LINKED] == [Linked.LINKED]
    assert all(isinstance(o, errors.DomainError) for o in outcomes if o is not Linked.LINKED)
    async with db_uow_factory() as uow:
        assert len(await uow.users.identities(anna)) == 2


async def test_an_expired_code_changes_nothing(db_uow_factory):
    anna = await _student(db_uow_factory, "telegram", "3")
    boris = await _student(db_uow_factory, "viber", "v9")
    async with db_uow_factory() as uow:
        code = await linking.issue(uow, anna, START)
        await uow.commit()
    async with db_uow_factory() as uow:
        with pytest.raises(errors.LinkCodeInvalid):
            await linking.redeem(uow, code.code, boris, START + timedelta(minutes=15))
        assert (await uow.users.identity("viber", "v9")).user_id == boris
