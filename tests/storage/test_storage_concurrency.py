"""Many transactions at once: exactly-once effects and no "database is locked"."""

import asyncio

from storage_helpers import T0, add_order, add_user

from core.models import OrderStatus, OutboxMessage, Payment


async def _gather(tasks):
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], errors[:3]
    return results


async def test_duplicate_payment_notices_grant_once(uow_factory):
    async with uow_factory() as uow:
        order = await add_order(uow, (await add_user(uow)).id, "tok")
        await uow.commit()

    async def notice():
        async with uow_factory() as uow:
            # read first, write later: the pattern that fails in a deferred SQLite transaction
            found = await uow.orders.by_token("tok")
            locked = await uow.orders.get_for_update(found.id)
            payment = Payment(
                order_id=locked.id,
                gateway="test",
                gateway_payment_id="pay-1",
                amount=1000,
                currency="RUB",
                created_at=T0,
            )
            inserted = await uow.payments.add(payment)
            moved = await uow.orders.transition(
                locked.id, frozenset({OrderStatus.NEW}), OrderStatus.PAID, T0
            )
            await uow.commit()
            return inserted, moved

    results = await _gather([notice() for _ in range(100)])
    assert sum(inserted for inserted, _ in results) == 1
    assert sum(moved for _, moved in results) == 1
    assert (True, True) in results
    async with uow_factory() as uow:
        assert len(await uow.payments.for_order(order.id)) == 1
        assert (await uow.orders.get(order.id)).status is OrderStatus.PAID


async def test_the_last_seat_is_taken_once(uow_factory):
    async def take():
        async with uow_factory() as uow:
            taken = await uow.counters.take("seats:last", 1)
            await uow.commit()
            return taken

    results = await _gather([take() for _ in range(50)])
    assert results.count(True) == 1
    async with uow_factory() as uow:
        assert await uow.counters.used("seats:last") == 1


async def test_concurrent_claims_never_share_a_message(uow_factory):
    async with uow_factory() as uow:
        uid = (await add_user(uow)).id
        for n in range(60):
            await uow.outbox.add(OutboxMessage(user_id=uid, kind=f"m{n}", created_at=T0, due_at=T0))
        await uow.commit()

    async def claim():
        async with uow_factory() as uow:
            claimed = await uow.outbox.claim(T0, T0, 5)
            await asyncio.sleep(0.01)  # hold the rows while the others claim
            await uow.commit()
            return [m.id for m in claimed]

    results = await _gather([claim() for _ in range(20)])
    ids = [i for batch in results for i in batch]
    assert len(ids) == len(set(ids)) == 60


async def test_a_second_sqlite_unit_of_work_in_one_task_is_refused(tmp_path):
    import pytest

    from storage.testing import make_sqlite_uow_factory

    factory, engine = await make_sqlite_uow_factory(tmp_path)
    try:
        async with factory():
            with pytest.raises(RuntimeError, match="already open in this task"):
                async with factory():
                    pytest.fail("a second unit of work opened in the same task")
        async with factory() as uow:  # and the lock was given back
            assert await uow.users.get(1) is None
    finally:
        await engine.dispose()
