"""Automatic renewal's money rules on every storage backend: a crash between the gateway's
charge and the database commit is reconciled with no second charge, and two schedulers on
one PostgreSQL database charge each renewal once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from factories import START, make_school

from core import jobs
from core.models import PaymentStatus, RenewalStatus
from core.ports import ChargeResult
from core.services import checkout, payments, renewals, users
from core.services.payments import PaymentNotice
from payments.testgateway import TestGateway
from storage.lease import SchedulerLease
from storage.testing import make_postgres_uow_factory, postgres_url

SECRET = b"renewal-tests-secret-0123456789"


class Clock:
    def __init__(self) -> None:
        self.moment = START

    def now(self):
        return self.moment


@pytest.fixture
def gateway():
    return TestGateway(SECRET, "http://127.0.0.1", Clock())


async def _subscriber(uow_factory, school, gateway, external_id: str):
    """A student on club-month who saved a card; returns the purchase."""
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, START, "console", external_id, "Anna")
        order = (await checkout.place_order(uow, school, START, user, "club-month")).order
        card = gateway.card_for(order.token, failing=False)
        await payments.confirm(uow, school, PaymentNotice(
            "test", f"first-{external_id}", order.token, order.amount, order.currency,
            details={"saved_method": card}), START)
        [purchase] = await uow.purchases.for_user(user.id)
        await uow.commit()
    assert purchase.renewal == "test"
    return purchase


async def test_a_crash_after_the_charge_is_reconciled_without_charging_again(
        db_uow_factory, gateway):
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway, "1")
    end = purchase.ends_at
    async with db_uow_factory() as uow:
        [charge] = await renewals.claim(uow, end)
        await uow.commit()
    result = await gateway.charge(charge.method, charge.amount, charge.currency, charge.key)
    assert result.succeeded and len(gateway.charges) == 1
    # ...and the process dies before writing the outcome. The lease runs out:
    later = end + renewals.LEASE + timedelta(seconds=1)
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, later) == 1
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, later) == 0
    assert len(gateway.charges) == 1  # the same key: the first charge, no new money
    async with db_uow_factory() as uow:
        current = await uow.purchases.get(purchase.id)
        [renewal] = [r for r in await uow.renewals.for_purchase(purchase.id)
                     if r.period_end == end]
        paid = [p for p in await uow.payments.for_order(renewal.order_id)
                if p.status is PaymentStatus.SUCCEEDED]
    assert current.ends_at.month == end.month + 1  # one period on, from the old end
    assert renewal.status is RenewalStatus.SUCCEEDED and len(paid) == 1


async def test_a_gateway_that_does_not_answer_leaves_the_renewal_due(db_uow_factory, gateway):
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway, "2")

    class Down:
        name = "test"

        async def charge(self, *args, **kwargs):
            raise ConnectionError("the gateway is down")

    assert await jobs.charge_renewals(db_uow_factory, school, {"test": Down()},
                                      purchase.ends_at) == 0
    later = purchase.ends_at + renewals.LEASE + timedelta(seconds=1)
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, later) == 1
    assert len(gateway.charges) == 1


@pytest.mark.skipif(not postgres_url(), reason="PostgreSQL: set TEST_DATABASE_URL")
async def test_two_schedulers_on_one_postgresql_database_charge_each_renewal_once(gateway):
    school = make_school()
    first, engine_a = await make_postgres_uow_factory(postgres_url(), "renew_two")
    from storage.engine import create_engine, session_factory
    from storage.factory import sql_uow_factory

    engine_b = create_engine(postgres_url(),
                             connect_args={"server_settings": {"search_path": "renew_two"}})
    second = sql_uow_factory(session_factory(engine_b))
    try:
        bought = [await _subscriber(first, school, gateway, str(n)) for n in range(30)]
        end = max(p.ends_at for p in bought)
        counts = await asyncio.gather(
            jobs.charge_renewals(first, school, {"test": gateway}, end, batch=7),
            jobs.charge_renewals(second, school, {"test": gateway}, end, batch=7),
        )
        assert sum(counts) == 30 and all(counts)  # both worked, on different rows
        assert len(gateway.charges) == 30
        assert len({key for *_, key in gateway.charges}) == 30
        async with first() as uow:
            for purchase in bought:
                current = await uow.purchases.get(purchase.id)
                assert current.ends_at > purchase.ends_at

        # And only one of two processes holds the scheduler lease at a time.
        lease_a, lease_b = SchedulerLease(engine_a), SchedulerLease(engine_b)
        assert await lease_a.held() and not await lease_b.held()
        assert await lease_a.held()  # still ours
        await lease_a.release()
        assert await lease_b.held()
        await lease_b.release()
    finally:
        await engine_b.dispose()
        await engine_a.dispose()


async def _renew_by_hand(uow_factory, school, purchase, now, payment_id: str):
    """The student orders their own offer again and pays it on the checkout page."""
    async with uow_factory() as uow:
        user = await uow.users.get(purchase.user_id)
        placed = await checkout.place_order(uow, school, now, user, "club-month")
        await uow.commit()
    return placed.order, PaymentNotice("test", payment_id, placed.order.token,
                                       placed.order.amount, placed.order.currency)


async def _confirm(uow_factory, school, notice, now):
    async with uow_factory() as uow:
        result = await payments.confirm(uow, school, notice, now)
        await uow.commit()
    return result


async def _money_and_end(uow_factory, purchase):
    async with uow_factory() as uow:
        current = await uow.purchases.get(purchase.id)
        paid = [p for order in await uow.orders.for_user(purchase.user_id)
                for p in await uow.payments.for_order(order.id)
                if p.status is PaymentStatus.SUCCEEDED]
        to_refund = await uow.payments.to_refund(10)
        told = [m for m in await uow.outbox.for_user(purchase.user_id)
                if m.kind == "renewal_doubled"]
    return current.ends_at, paid, to_refund, told


@pytest.mark.parametrize("hand_first", [True, False], ids=["hand-first", "charge-first"])
async def test_a_renewal_by_hand_during_a_charge_in_flight_buys_a_second_period(
        db_uow_factory, gateway, hand_first):
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway, "5")
    end = purchase.ends_at
    async with db_uow_factory() as uow:
        [charge] = await renewals.claim(uow, end)  # the charge is in flight...
        renewal = await uow.renewals.get(charge.renewal_id)
        await uow.commit()
    # ...and the student renews by hand meanwhile, from the reminder.
    order, by_hand = await _renew_by_hand(db_uow_factory, school, purchase, end, "hand-1")
    assert order.id != renewal.order_id  # never the order the gateway is charging
    result = await gateway.charge(charge.method, charge.amount, charge.currency, charge.key)
    steps = [lambda: _confirm(db_uow_factory, school, by_hand, end)]
    async def record():
        async with db_uow_factory() as uow:
            await renewals.record_success(uow, school, charge, result, end)
            await uow.commit()
    steps.insert(0 if not hand_first else 1, record)
    for step in steps:
        await step()

    ends_at, paid, to_refund, told = await _money_and_end(db_uow_factory, purchase)
    assert len(paid) == 3 and to_refund == []  # the first month, by hand, by the gateway
    assert ends_at.month == end.month + 2  # two payments, two periods
    assert len(told) == (1 if hand_first else 0)  # the charge came second: say so
    assert len(gateway.charges) == 1


async def test_a_renewal_caught_up_after_long_downtime_buys_time_from_now(
        db_uow_factory, gateway):
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway, "6")
    back = purchase.ends_at + timedelta(days=40)  # down for longer than the month paid
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, back) == 1
    async with db_uow_factory() as uow:
        current = await uow.purchases.get(purchase.id)
    assert current.ends_at > back  # never a paid period that is already over
    assert current.ends_at.month == back.month + 1
    # ...so the next sweep charges nothing more for the time the platform was down.
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, back) == 0
    assert len(gateway.charges) == 1


@pytest.mark.parametrize("down,from_charge", [
    (timedelta(days=2), False),  # within the grace: the period follows the old one
    (timedelta(days=10), True),  # past the grace, less than a period: starts at the charge
])
async def test_a_renewal_caught_up_past_the_grace_starts_at_the_charge(
        db_uow_factory, gateway, down, from_charge):
    school = make_school()
    assert school.renewals.grace == timedelta(days=3)
    purchase = await _subscriber(db_uow_factory, school, gateway, "7")
    back = purchase.ends_at + down
    assert await jobs.charge_renewals(db_uow_factory, school, {"test": gateway}, back) == 1
    async with db_uow_factory() as uow:
        current = await uow.purchases.get(purchase.id)
    start = back if from_charge else purchase.ends_at
    assert current.ends_at == start.replace(month=start.month + 1)
    assert len(gateway.charges) == 1


async def test_the_gateway_is_told_when_a_key_in_doubt_was_first_sent(db_uow_factory, gateway):
    """A charge whose answer was lost is retried with the same key and the time it was first
    sent (a gateway whose keys expire looks it up); a recorded decline starts a new key."""
    school = make_school()
    purchase = await _subscriber(db_uow_factory, school, gateway, "8")
    end = purchase.ends_at
    seen: list[tuple[str, object]] = []

    class Flaky:
        name = "test"

        def __init__(self, answers):
            self.answers = answers

        async def charge(self, method, amount, currency, key, receipt=None, sent_at=None):
            seen.append((key, sent_at))
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    lost, declined = ConnectionError("timed out"), ChargeResult(False, "ch-1", "card_declined")
    flaky = Flaky([lost, lost, declined, lost])
    moments = [end, end + timedelta(hours=30), end + timedelta(hours=31),
               end + timedelta(hours=40)]
    for moment in moments:
        await jobs.charge_renewals(db_uow_factory, school, {"test": flaky}, moment)
    first, second = f"renew:{purchase.id}:{int(end.timestamp())}:0", \
        f"renew:{purchase.id}:{int(end.timestamp())}:1"
    assert seen == [(first, None), (first, end), (first, end), (second, None)]
    async with db_uow_factory() as uow:
        [renewal] = await uow.renewals.for_purchase(purchase.id)
    assert (renewal.attempts, renewal.key_sent_at) == (1, moments[3])
