"""The contract of ``core.ports`` repositories, run against every backend."""

from datetime import UTC, timedelta, timezone

import pytest
from storage_helpers import (
    NAIVE_ERRORS,
    T0,
    add_order,
    add_purchase,
    add_user,
    raises_integrity,
)

from core.models import (
    ChatState,
    Identity,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentStatus,
    PurchaseStatus,
    Renewal,
    User,
)

MINUTE = timedelta(minutes=1)
NEW = frozenset({OrderStatus.NEW})


# --- the unit of work ------------------------------------------------------------------------


async def test_commit_keeps_changes(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == user


async def test_leaving_without_commit_discards(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow)
    async with uow_factory() as uow:
        assert await uow.users.get(user.id) is None


async def test_an_exception_discards_and_propagates(uow_factory):
    with pytest.raises(RuntimeError, match="boom"):
        async with uow_factory() as uow:
            await add_user(uow, "boom")
            raise RuntimeError("boom")
    async with uow_factory() as uow:
        assert await uow.users.by_referral_code("boom") is None


async def test_rollback_discards_what_came_after_the_last_commit(uow_factory):
    async with uow_factory() as uow:
        kept = await add_user(uow, "kept")
        await uow.commit()
        await add_user(uow, "lost")
        await uow.rollback()
        assert await uow.users.by_referral_code("lost") is None
        await add_user(uow, "after")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get(kept.id) == kept
        assert await uow.users.by_referral_code("lost") is None
        assert await uow.users.by_referral_code("after") is not None


async def test_a_unit_of_work_sees_its_own_writes(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow, "mine")
        assert await uow.users.by_referral_code("mine") == user


# --- users and identities --------------------------------------------------------------------


async def test_add_assigns_ids_and_returns_the_object_passed(uow_factory):
    async with uow_factory() as uow:
        user = User(name="Ann", referral_code="a1", created_at=T0)
        added = await uow.users.add(user)
        other = await add_user(uow, "b2")
        assert added is user
        assert user.id > 0 and other.id > 0 and other.id != user.id


async def test_entities_handed_out_are_copies(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow, "copy")
        user.name = "changed after add"
        fetched = await uow.users.get(user.id)
        assert fetched.name == "Ann"
        fetched.name = "changed after get"
        assert (await uow.users.get(user.id)).name == "Ann"
        fetched.name = "saved"
        await uow.users.update(fetched)
        assert (await uow.users.get(user.id)).name == "saved"


async def test_user_fields_round_trip(uow_factory):
    user = User(
        created_at=T0,
        name="Анна",
        language="ru",
        timezone="Europe/Moscow",
        referral_code="ref1",
        referred_by="ref0",
        utm_source="vk",
        utm_medium="post",
        utm_campaign="spring",
        start_offer="python",
    )
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == user
        assert await uow.users.get(user.id + 1000) is None


async def test_referral_codes_are_unique_but_empty_ones_are_not(uow_factory):
    async with uow_factory() as uow:
        first = await add_user(uow, "same")
        await add_user(uow)
        await add_user(uow)  # users without a code yet
        assert await uow.users.by_referral_code("same") == first
        assert await uow.users.by_referral_code("") is None
        assert await uow.users.by_referral_code("nobody") is None
        with raises_integrity():
            await add_user(uow, "same")


async def test_identities(uow_factory, now):
    async with uow_factory() as uow:
        user = await add_user(uow)
        tg = await uow.users.add_identity(
            Identity(
                user_id=user.id,
                messenger="telegram",
                external_id="42",
                name="ann",
                last_seen_at=now,
            )
        )
        vk = await uow.users.add_identity(
            Identity(user_id=user.id, messenger="vk", external_id="42", last_seen_at=now + MINUTE)
        )
        viber = await uow.users.add_identity(
            Identity(user_id=user.id, messenger="viber", external_id="x==")
        )
        await uow.commit()
    async with uow_factory() as uow:
        assert tg.id and vk.id and viber.id
        assert await uow.users.identity("telegram", "42") == tg
        assert await uow.users.identity("telegram", "43") is None
        assert await uow.users.identity_by_id(vk.id) == vk
        assert await uow.users.identity_by_id(vk.id + 1000) is None
        assert [i.id for i in await uow.users.identities(user.id)] == [vk.id, tg.id, viber.id]
        assert await uow.users.identities(user.id + 1000) == []

        tg.reachable = False
        tg.last_seen_at = now + 2 * MINUTE
        await uow.users.update_identity(tg)
        assert await uow.users.identity_by_id(tg.id) == tg
        assert [i.id for i in await uow.users.identities(user.id)][0] == tg.id


async def test_an_identity_belongs_to_one_user(uow_factory):
    async with uow_factory() as uow:
        ann, bob = await add_user(uow), await add_user(uow)
        await uow.users.add_identity(Identity(user_id=ann.id, messenger="vk", external_id="1"))
        with raises_integrity():
            await uow.users.add_identity(Identity(user_id=bob.id, messenger="vk", external_id="1"))


async def test_rows_must_point_at_existing_rows(uow_factory):
    async with uow_factory() as uow:
        with raises_integrity():
            await uow.users.add_identity(Identity(user_id=999, messenger="vk", external_id="1"))


async def test_updating_what_was_never_stored_is_an_error(uow_factory):
    async with uow_factory() as uow:
        with pytest.raises(LookupError):
            await uow.users.update(User(id=999, name="ghost"))


# --- orders ----------------------------------------------------------------------------------


async def test_order_round_trip(uow_factory, now):
    async with uow_factory() as uow:
        user = await add_user(uow)
        order = await add_order(
            uow,
            user.id,
            "t1",
            promo_code="SPRING",
            expires_at=now + timedelta(hours=1),
            messenger="telegram",
            products=("python", "sql"),
            access="period",
            period="P1M",
            extends=("python",),
        )
        await uow.commit()
    async with uow_factory() as uow:
        fetched = await uow.orders.get(order.id)
        assert fetched == order
        assert fetched.status is OrderStatus.NEW
        assert fetched.products == ("python", "sql") and fetched.extends == ("python",)
        assert await uow.orders.by_token("t1") == order
        assert await uow.orders.by_token("nope") is None
        assert await uow.orders.get_for_update(order.id) == order
        assert await uow.orders.get_for_update(order.id + 1000) is None
        assert await uow.orders.get(order.id + 1000) is None


async def test_order_tokens_are_unique(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow)
        await add_order(uow, user.id, "same")
        with raises_integrity():
            await add_order(uow, user.id, "same")


async def test_orders_of_a_user(uow_factory):
    async with uow_factory() as uow:
        ann, bob = await add_user(uow), await add_user(uow)
        first = await add_order(uow, ann.id, "a1")
        await add_order(uow, bob.id, "b1")
        second = await add_order(uow, ann.id, "a2")
        assert await uow.orders.for_user(ann.id) == [first, second]
        assert await uow.orders.for_user(999) == []


async def test_transition_is_a_compare_and_set(uow_factory, now):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id)
        assert await uow.orders.transition(order.id, NEW, OrderStatus.PAID, now)
        assert not await uow.orders.transition(order.id, NEW, OrderStatus.PAID, now + MINUTE)
        await uow.commit()
    async with uow_factory() as uow:
        paid = await uow.orders.get(order.id)
        assert paid.status is OrderStatus.PAID
        assert paid.paid_at == now
        assert paid.closed_at is None and paid.close_reason is None
        assert not await uow.orders.transition(order.id + 1000, NEW, OrderStatus.PAID, now)
        assert not await uow.orders.transition(order.id, frozenset(), OrderStatus.NEW, now)


@pytest.mark.parametrize("closing", [OrderStatus.CANCELLED, OrderStatus.REFUNDED])
async def test_closing_transitions_record_when_and_why(uow_factory, now, closing):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id)
        await uow.orders.transition(order.id, NEW, OrderStatus.PAID, now)
        paid = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_PAID})
        assert await uow.orders.transition(order.id, paid, closing, now + MINUTE, "why")
        closed = await uow.orders.get(order.id)
        assert closed.status is closing
        assert closed.closed_at == now + MINUTE and closed.close_reason == "why"
        assert closed.paid_at == now


async def test_transition_to_partially_paid_touches_no_dates(uow_factory, now):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id)
        assert await uow.orders.transition(order.id, NEW, OrderStatus.PARTIALLY_PAID, now)
        partial = await uow.orders.get(order.id)
        assert partial.status is OrderStatus.PARTIALLY_PAID
        assert partial.paid_at is None and partial.closed_at is None


async def test_expired_unpaid(uow_factory, now):
    async with uow_factory() as uow:
        uid = (await add_user(uow)).id
        late = await add_order(uow, uid, "late", expires_at=now - MINUTE)
        exact = await add_order(uow, uid, "exact", expires_at=now)
        await add_order(uow, uid, "future", expires_at=now + MINUTE)
        await add_order(uow, uid, "never")
        paid = await add_order(uow, uid, "paid", expires_at=now - MINUTE)
        await uow.orders.transition(paid.id, NEW, OrderStatus.PAID, now)
        older = await add_order(uow, uid, "older", expires_at=now - 2 * MINUTE)

        assert [o.id for o in await uow.orders.expired_unpaid(now, 10)] == [
            late.id,
            exact.id,
            older.id,
        ]
        assert [o.id for o in await uow.orders.expired_unpaid(now, 2)] == [late.id, exact.id]


# --- payments --------------------------------------------------------------------------------


def _payment(order_id: int, payment_id: str = "p1", **fields) -> Payment:
    values = {
        "order_id": order_id,
        "gateway": "test",
        "gateway_payment_id": payment_id,
        "amount": 1000,
        "currency": "RUB",
        "created_at": T0,
        "details": {"raw": {"id": payment_id}, "n": [1, 2]},
    } | fields
    return Payment(**values)


async def test_a_payment_is_recorded_once(uow_factory):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id)
        first = _payment(order.id)
        assert await uow.payments.add(first)
        assert first.id > 0
        again = _payment(order.id, amount=1)
        assert not await uow.payments.add(again)
        assert again.id == 0
        assert await uow.payments.add(_payment(order.id, gateway="stripe"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.payments.get("test", "p1") == first
        assert await uow.payments.get("test", "p2") is None
        assert [p.gateway for p in await uow.payments.for_order(order.id)] == ["test", "stripe"]


async def test_payment_update(uow_factory):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id)
        payment = _payment(order.id)
        await uow.payments.add(payment)
        payment.status = PaymentStatus.REFUNDED
        payment.details = {"refund": "r1"}
        await uow.payments.update(payment)
        stored = await uow.payments.get("test", "p1")
        assert stored == payment and stored.status is PaymentStatus.REFUNDED


async def test_payments_to_refund_are_the_marked_ones_not_yet_returned(uow_factory):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id)
        for n, (reason, status) in enumerate([
            (None, PaymentStatus.SUCCEEDED), ("extra", PaymentStatus.SUCCEEDED),
            ("underpaid", PaymentStatus.REFUNDED), ("currency", PaymentStatus.SUCCEEDED),
            ("extra", PaymentStatus.FAILED),
        ]):
            await uow.payments.add(_payment(order.id, f"p{n}", refund_reason=reason,
                                            status=status, created_at=T0 - n * MINUTE))
        await uow.commit()
    async with uow_factory() as uow:
        listed = await uow.payments.to_refund(10)
        assert [(p.gateway_payment_id, p.refund_reason) for p in listed] == [
            ("p3", "currency"), ("p1", "extra")]  # oldest first
        assert [p.gateway_payment_id for p in await uow.payments.to_refund(1)] == ["p3"]


async def test_a_renewal_is_found_by_its_order(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow)
        first = await add_order(uow, user.id, "t1")
        second = await add_order(uow, user.id, "t2")
        purchase = await add_purchase(uow, user_id=user.id, order_id=first.id)
        renewal = await uow.renewals.add(Renewal(
            purchase_id=purchase.id, period_end=T0, order_id=second.id, due_at=T0))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.renewals.for_order(second.id) == renewal
        assert await uow.renewals.for_order(first.id) is None


async def test_a_payment_needs_its_order(uow_factory):
    async with uow_factory() as uow:
        with raises_integrity():
            await uow.payments.add(_payment(999))


# --- purchases -------------------------------------------------------------------------------


async def test_purchase_round_trip(uow_factory, now):
    async with uow_factory() as uow:
        purchase = await add_purchase(
            uow,
            products=("python", "sql"),
            access="period",
            ends_at=now + timedelta(days=30),
            next_lesson_at=now + MINUTE,
            updated_at=now,
        )
        await uow.commit()
    async with uow_factory() as uow:
        fetched = await uow.purchases.get(purchase.id)
        assert fetched == purchase
        assert fetched.products == ("python", "sql") and fetched.status is PurchaseStatus.ACTIVE
        assert await uow.purchases.get(purchase.id + 1000) is None
        fetched.status = PurchaseStatus.EXPIRED
        fetched.ended_at, fetched.end_reason = now, "expired"
        await uow.purchases.update(fetched)
        assert await uow.purchases.get(purchase.id) == fetched


async def test_purchases_of_a_user_newest_first_and_of_an_order(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow)
        order = await add_order(uow, user.id)
        first = await add_purchase(uow, user_id=user.id, order_id=order.id)
        second = await add_purchase(uow, user_id=user.id, order_id=order.id)
        third = await add_purchase(uow, user_id=user.id)
        await add_purchase(uow)
        assert [p.id for p in await uow.purchases.for_user(user.id)] == [
            third.id,
            second.id,
            first.id,
        ]
        assert await uow.purchases.for_order(order.id) == [first, second]
        assert await uow.purchases.for_user(999) == []


@pytest.mark.parametrize(
    ("column", "method"), [("next_lesson_at", "due_lessons"), ("ends_at", "due_expiry")]
)
async def test_due_purchases(uow_factory, now, column, method):
    async with uow_factory() as uow:
        user = await add_user(uow)
        order = await add_order(uow, user.id)

        async def purchase(when, status=PurchaseStatus.ACTIVE):
            values = {column: when, "status": status}
            return await add_purchase(uow, user_id=user.id, order_id=order.id, **values)

        late = await purchase(now - MINUTE)
        exact = await purchase(now)
        await purchase(now + MINUTE)
        await purchase(None)
        await purchase(now - MINUTE, PurchaseStatus.EXPIRED)
        await purchase(now - MINUTE, PurchaseStatus.REVOKED)
        earliest = await purchase(now - 2 * MINUTE)
        tie = await purchase(now)
        await uow.commit()
    async with uow_factory() as uow:
        due = getattr(uow.purchases, method)
        assert [p.id for p in await due(now, 10)] == [earliest.id, late.id, exact.id, tie.id]
        assert [p.id for p in await due(now, 2)] == [earliest.id, late.id]
        assert await due(now - timedelta(days=1), 10) == []


async def test_active_ids_page_through_active_purchases(uow_factory):
    async with uow_factory() as uow:
        user = await add_user(uow)
        order = await add_order(uow, user.id)
        ids = []
        for n in range(5):
            status = PurchaseStatus.EXPIRED if n == 2 else PurchaseStatus.ACTIVE
            p = await add_purchase(uow, user_id=user.id, order_id=order.id, status=status)
            ids.append(p.id)
        active = [i for n, i in enumerate(ids) if n != 2]
        assert await uow.purchases.active_ids(0, 100) == active
        assert await uow.purchases.active_ids(0, 2) == active[:2]
        assert await uow.purchases.active_ids(active[1], 2) == active[2:]
        assert await uow.purchases.active_ids(active[-1], 2) == []


# --- counters --------------------------------------------------------------------------------


async def test_take_respects_the_limit(uow_factory):
    async with uow_factory() as uow:
        assert await uow.counters.used("seats:x") == 0
        assert await uow.counters.take("seats:x", 2)
        assert await uow.counters.take("seats:x", 2)
        assert not await uow.counters.take("seats:x", 2)
        assert await uow.counters.used("seats:x") == 2
        assert not await uow.counters.take("seats:zero", 0)
        assert await uow.counters.used("seats:zero") == 0
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.counters.used("seats:x") == 2
        assert await uow.counters.used("seats:other") == 0


async def test_take_without_a_limit(uow_factory):
    async with uow_factory() as uow:
        for _ in range(3):
            assert await uow.counters.take("promo:FREE", None)
        assert await uow.counters.used("promo:FREE") == 3


async def test_release_gives_back_but_never_below_zero(uow_factory):
    async with uow_factory() as uow:
        await uow.counters.take("seats:x", 1)
        await uow.counters.release("seats:x")
        assert await uow.counters.used("seats:x") == 0
        await uow.counters.release("seats:x")
        await uow.counters.release("seats:never")
        assert await uow.counters.used("seats:x") == 0
        assert await uow.counters.used("seats:never") == 0
        assert await uow.counters.take("seats:x", 1)


async def test_force_take_ignores_the_limit(uow_factory):
    async with uow_factory() as uow:
        await uow.counters.force_take("seats:new")
        assert await uow.counters.used("seats:new") == 1
        assert not await uow.counters.take("seats:new", 1)
        await uow.counters.force_take("seats:new")
        assert await uow.counters.used("seats:new") == 2


# --- lesson deliveries -----------------------------------------------------------------------


async def test_a_lesson_is_delivered_once(uow_factory, now):
    async with uow_factory() as uow:
        purchase = await add_purchase(uow)
        uid, pid = purchase.user_id, purchase.id
        assert await uow.deliveries.add_if_absent(uid, "python", "l1", pid, now)
        assert not await uow.deliveries.add_if_absent(uid, "python", "l1", pid, now + MINUTE)
        assert await uow.deliveries.add_if_absent(uid, "python", "l2", pid, now)
        assert await uow.deliveries.add_if_absent(uid, "sql", "l1", pid, now)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.deliveries.delivered(uid, "python") == {"l1", "l2"}
        assert await uow.deliveries.delivered(uid, "sql") == {"l1"}
        assert await uow.deliveries.delivered(uid, "go") == set()
        assert await uow.deliveries.delivered(uid + 1000, "python") == set()


# --- outbox ----------------------------------------------------------------------------------


def _message(user_id: int, due_at=T0, **fields) -> OutboxMessage:
    values = {"user_id": user_id, "kind": "hello", "data": {"n": 1}, "created_at": T0}
    return OutboxMessage(due_at=due_at, **(values | fields))


async def test_outbox_dedupes_on_the_key(uow_factory):
    async with uow_factory() as uow:
        uid = (await add_user(uow)).id
        first = _message(uid, dedupe_key="paid:1")
        assert await uow.outbox.add(first)
        assert first.id > 0
        again = _message(uid, dedupe_key="paid:1", kind="other")
        assert not await uow.outbox.add(again)
        assert again.id == 0
        assert await uow.outbox.add(_message(uid))
        assert await uow.outbox.add(_message(uid))  # no key: never a duplicate
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.outbox.for_user(uid)
        assert [m.kind for m in stored] == ["hello"] * 3
        assert stored[0] == first and stored[0].status is OutboxStatus.PENDING
        assert await uow.outbox.get(first.id) == first
        assert await uow.outbox.get(first.id + 1000) is None
        assert await uow.outbox.for_user(uid + 1000) == []


async def test_outbox_without_due_time_is_due_when_created(uow_factory, now):
    async with uow_factory() as uow:
        uid = (await add_user(uow)).id
        message = _message(uid, due_at=None)
        await uow.outbox.add(message)
        assert message.due_at == message.created_at == now
        assert [m.id for m in await uow.outbox.claim(now, now - MINUTE, 10)] == [message.id]


async def test_claim_takes_due_pending_messages_oldest_first(uow_factory, now):
    async with uow_factory() as uow:
        uid = (await add_user(uow)).id
        first = _message(uid, due_at=now - MINUTE)
        future = _message(uid, due_at=now + MINUTE)
        second = _message(uid, due_at=now)
        third = _message(uid, due_at=now - 2 * MINUTE)
        for message in (first, future, second, third):
            await uow.outbox.add(message)
        await uow.commit()

    async with uow_factory() as uow:
        claimed = await uow.outbox.claim(now, now - 5 * MINUTE, 2)
        assert [m.id for m in claimed] == [first.id, second.id]
        assert all(m.status is OutboxStatus.SENDING for m in claimed)
        assert all(m.attempts == 1 and m.claimed_at == now for m in claimed)
        assert claimed == [await uow.outbox.get(m.id) for m in claimed]
        rest = await uow.outbox.claim(now, now - 5 * MINUTE, 10)
        assert [m.id for m in rest] == [third.id]
        assert await uow.outbox.claim(now, now - 5 * MINUTE, 10) == []
        await uow.commit()

    async with uow_factory() as uow:
        later = now + 2 * MINUTE
        assert [m.id for m in await uow.outbox.claim(later, now - MINUTE, 10)] == [future.id]


async def test_claim_takes_back_messages_whose_sender_died(uow_factory, now):
    async with uow_factory() as uow:
        uid = (await add_user(uow)).id
        message = _message(uid)
        await uow.outbox.add(message)
        await uow.outbox.claim(now, now - 5 * MINUTE, 10)
        await uow.commit()

    async with uow_factory() as uow:
        soon = now + MINUTE
        assert await uow.outbox.claim(soon, soon - 5 * MINUTE, 10) == []  # not stale yet
        late = now + 10 * MINUTE
        [again] = await uow.outbox.claim(late, late - 5 * MINUTE, 10)
        assert again.id == message.id
        assert again.attempts == 2 and again.claimed_at == late


async def test_mark_sent_retry_and_failed(uow_factory, now):
    async with uow_factory() as uow:
        user = await add_user(uow)
        identity = await uow.users.add_identity(
            Identity(user_id=user.id, messenger="telegram", external_id="7")
        )
        sent, retried, failed = (_message(user.id) for _ in range(3))
        for message in (sent, retried, failed):
            await uow.outbox.add(message)
        await uow.outbox.claim(now, now, 10)

        await uow.outbox.mark_sent(sent.id, identity.id, now + MINUTE)
        await uow.outbox.mark_retry(retried.id, now + 5 * MINUTE, "429 retry after 300")
        await uow.outbox.mark_failed(failed.id, "blocked")
        await uow.commit()

    async with uow_factory() as uow:
        stored = {m.id: m for m in await uow.outbox.for_user(user.id)}
        assert stored[sent.id].status is OutboxStatus.SENT
        assert stored[sent.id].identity_id == identity.id
        assert stored[sent.id].sent_at == now + MINUTE
        assert stored[retried.id].status is OutboxStatus.PENDING
        assert stored[retried.id].due_at == now + 5 * MINUTE
        assert stored[retried.id].error == "429 retry after 300"
        assert stored[failed.id].status is OutboxStatus.FAILED
        assert stored[failed.id].error == "blocked"

        assert await uow.outbox.claim(now + MINUTE, now, 10) == []
        [again] = await uow.outbox.claim(now + 5 * MINUTE, now, 10)
        assert again.id == retried.id and again.attempts == 2

        with pytest.raises(LookupError):
            await uow.outbox.mark_failed(retried.id + 1000, "no such message")


# --- chat states -----------------------------------------------------------------------------


async def test_chat_state_put_and_get(uow_factory, now):
    async with uow_factory() as uow:
        assert await uow.chat_states.get("telegram", "1") is None
        state = ChatState("telegram", "1", "catalog", {"offer": "python", "page": 2}, now)
        await uow.chat_states.put(state)
        await uow.chat_states.put(ChatState("vk", "1", "start"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.chat_states.get("telegram", "1") == state
        state.step, state.data, state.updated_at = "checkout", {"order": 5}, now + MINUTE
        await uow.chat_states.put(state)
        assert await uow.chat_states.get("telegram", "1") == state
        assert (await uow.chat_states.get("vk", "1")).step == "start"


# --- values ----------------------------------------------------------------------------------


async def test_datetimes_come_back_aware_utc(uow_factory):
    moscow = timezone(timedelta(hours=3))
    local = T0.astimezone(moscow).replace(microsecond=123456)
    async with uow_factory() as uow:
        user = await uow.users.add(User(created_at=local))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.users.get(user.id)
        assert stored.created_at == local
        assert stored.created_at.tzinfo == UTC
        assert stored.created_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(uow_factory):
    with pytest.raises(NAIVE_ERRORS):
        async with uow_factory() as uow:
            await uow.users.add(User(created_at=T0.replace(tzinfo=None)))


async def test_json_values_come_back_as_json(uow_factory):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id)
        payment = _payment(order.id, details={"tuple": (1, 2), "nested": {"ok": True}})
        await uow.payments.add(payment)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.payments.get("test", "p1")
        assert stored.details == {"tuple": [1, 2], "nested": {"ok": True}}


async def test_queries_compare_instants_whatever_the_offset(uow_factory, now):
    async with uow_factory() as uow:
        purchase = await add_purchase(uow, ends_at=now)
        behind = now.astimezone(timezone(timedelta(hours=-5)))
        ahead = (now - MINUTE).astimezone(timezone(timedelta(hours=3)))
        assert [p.id for p in await uow.purchases.due_expiry(behind, 10)] == [purchase.id]
        assert await uow.purchases.due_expiry(ahead, 10) == []


async def test_last_seen_only_moves_forward(uow_factory, now):
    async with uow_factory() as uow:
        user = await add_user(uow)
        identity = await uow.users.add_identity(
            Identity(user_id=user.id, messenger="telegram", external_id="42", last_seen_at=now))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.users.seen(identity, now + 5 * MINUTE)
        await uow.users.seen(identity, now + 2 * MINUTE)
        await uow.commit()
    if hasattr(uow_factory, "flush"):
        await uow_factory.flush()  # SQL writes last seen behind
    async with uow_factory() as uow:
        assert (await uow.users.identity_by_id(identity.id)).last_seen_at == now + 5 * MINUTE
