"""Helpers for the core's unit tests: a ``shop`` that sets the scene (students, orders,
payments) through the real services, one committed unit of work per step, and reads the
store back. Tests call the service under test themselves."""

from __future__ import annotations

import itertools

import pytest

from core.models import Order, OutboxMessage, Payment, Purchase, User
from core.services import checkout, payments, users
from core.services.checkout import PlacedOrder
from core.services.payments import Confirmation, PaymentNotice


class Shop:
    def __init__(self, uow_factory, school, clock) -> None:
        self.uow_factory = uow_factory
        self.school = school
        self.clock = clock
        self._external_ids = itertools.count(1001)
        self._payment_ids = itertools.count(1)

    # --- setting the scene -------------------------------------------------------------------

    async def student(self, name: str = "Anna", language: str = "en") -> User:
        async with self.uow_factory() as uow:
            user, _ = await users.resolve(
                uow, self.clock.now(), "telegram", str(next(self._external_ids)), name, language
            )
            await uow.commit()
        return user

    async def order(
        self, user: User, offer_code: str, promo: str | None = None, unlocked: bool = False
    ) -> PlacedOrder:
        async with self.uow_factory() as uow:
            placed = await checkout.place_order(
                uow,
                self.school,
                self.clock.now(),
                user,
                offer_code,
                promo,
                messenger="telegram",
                unlocked=unlocked,
            )
            await uow.commit()
        return placed

    def notice(
        self,
        order: Order,
        amount: int | None = None,
        payment_id: str | None = None,
        succeeded: bool = True,
        currency: str | None = None,
    ) -> PaymentNotice:
        return PaymentNotice(
            gateway="test",
            gateway_payment_id=payment_id or f"pay-{next(self._payment_ids)}",
            order_token=order.token,
            amount=order.amount if amount is None else amount,
            currency=currency or order.currency,
            succeeded=succeeded,
        )

    async def confirm(self, notice: PaymentNotice) -> Confirmation:
        async with self.uow_factory() as uow:
            result = await payments.confirm(uow, self.school, notice, self.clock.now())
            await uow.commit()
        return result

    async def pay(self, order: Order, **notice) -> Confirmation:
        return await self.confirm(self.notice(order, **notice))

    async def buy(self, user: User, offer_code: str, promo: str | None = None) -> Purchase:
        """Order and pay; the purchase that now carries the access (new or extended)."""
        placed = await self.order(user, offer_code, promo, unlocked=True)
        if not placed.completed:
            await self.pay(placed.order)
        async with self.uow_factory() as uow:
            [message] = [
                m
                for m in await uow.outbox.for_user(user.id)
                if m.kind == "order_paid" and m.data["order"] == placed.order.id
            ]
            purchase = await uow.purchases.get(message.data["purchase"])
        assert purchase is not None
        return purchase

    async def expire_orders(self) -> int:
        async with self.uow_factory() as uow:
            count = await checkout.expire_unpaid(uow, self.school, self.clock.now())
            await uow.commit()
        return count

    # --- reading the store back --------------------------------------------------------------

    async def get_order(self, order_id: int) -> Order:
        async with self.uow_factory() as uow:
            order = await uow.orders.get(order_id)
        assert order is not None
        return order

    async def orders(self, user_id: int) -> list[Order]:
        async with self.uow_factory() as uow:
            return await uow.orders.for_user(user_id)

    async def purchase(self, purchase_id: int) -> Purchase:
        async with self.uow_factory() as uow:
            purchase = await uow.purchases.get(purchase_id)
        assert purchase is not None
        return purchase

    async def purchases(self, user_id: int) -> list[Purchase]:
        async with self.uow_factory() as uow:
            return await uow.purchases.for_user(user_id)

    async def payments(self, order_id: int) -> list[Payment]:
        async with self.uow_factory() as uow:
            return await uow.payments.for_order(order_id)

    async def outbox(self, user_id: int, kind: str | None = None) -> list[OutboxMessage]:
        async with self.uow_factory() as uow:
            messages = await uow.outbox.for_user(user_id)
        return [m for m in messages if kind is None or m.kind == kind]

    async def used(self, key: str) -> int:
        async with self.uow_factory() as uow:
            return await uow.counters.used(key)

    async def delivered(self, user_id: int, course: str = "python") -> set[str]:
        async with self.uow_factory() as uow:
            return await uow.deliveries.delivered(user_id, course)


@pytest.fixture
def shop(uow_factory, school, clock) -> Shop:
    return Shop(uow_factory, school, clock)
