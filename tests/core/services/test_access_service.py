"""Purchases: what a paid order grants, renewals and extensions, expiry and revoking."""

from __future__ import annotations

from datetime import timedelta

from factories import START

from core.models import PurchaseStatus
from core.services import access

DAYS_30 = timedelta(days=30)


async def expire(shop, purchase) -> bool:
    async with shop.uow_factory() as uow:
        done = await access.expire(uow, purchase, shop.clock.now())
        await uow.commit()
    return done


async def revoke(shop, purchase_id: int, reason: str = "refunded") -> bool:
    async with shop.uow_factory() as uow:
        done = await access.revoke(uow, purchase_id, shop.clock.now(), reason)
        await uow.commit()
    return done


# --- grant -------------------------------------------------------------------------------------


async def test_lifetime_purchase_never_ends(shop):
    anna = await shop.student()

    purchase = await shop.buy(anna, "python-life")

    assert (purchase.starts_at, purchase.ends_at) == (START, None)
    assert (purchase.status, purchase.access) == (PurchaseStatus.ACTIVE, "lifetime")
    assert purchase.products == ("python-course",)


async def test_period_purchase_ends_after_its_period(shop):
    purchase = await shop.buy(await shop.student(), "python-30")

    assert (purchase.starts_at, purchase.ends_at) == (START, START + DAYS_30)
    assert purchase.products == ("python-course", "club")


async def test_subscription_month_follows_the_calendar(shop, clock):
    clock.set(START.replace(month=1, day=31))

    purchase = await shop.buy(await shop.student(), "club-month")

    assert purchase.ends_at == START.replace(month=2, day=28)


async def test_grant_reports_the_lessons_open_now(shop):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")

    [message] = await shop.outbox(anna.id, "order_paid")
    assert message.data == {
        "order": purchase.order_id,
        "purchase": purchase.id,
        "extended": False,
        "lessons": [["python", "intro"], ["python", "notes"]],
    }
    assert await shop.delivered(anna.id) == {"intro", "notes"}
    assert purchase.next_lesson_at == START + timedelta(days=1)


async def test_renewal_while_active_adds_to_the_current_end(shop, clock):
    anna = await shop.student()
    club = await shop.buy(anna, "club-month")
    clock.advance(timedelta(days=10))

    renewed = await shop.buy(anna, "club-extend")

    assert renewed.id == club.id
    assert renewed.ends_at == club.ends_at + DAYS_30  # not now + 30 days
    assert renewed.status is PurchaseStatus.ACTIVE
    assert len(await shop.purchases(anna.id)) == 1
    assert [m.data["extended"] for m in await shop.outbox(anna.id, "order_paid")] == [False, True]


async def test_renewal_after_lapse_restarts_from_now(shop, clock):
    anna = await shop.student()
    club = await shop.buy(anna, "club-month")
    clock.set(club.ends_at)
    assert await expire(shop, club)
    clock.advance(timedelta(days=5))

    renewed = await shop.buy(anna, "club-extend")

    assert renewed.id == club.id
    assert renewed.ends_at == clock.now() + DAYS_30
    assert (renewed.status, renewed.ended_at, renewed.end_reason) == (
        PurchaseStatus.ACTIVE, None, None
    )


async def test_renewal_after_the_end_but_before_the_expiry_sweep_restarts_from_now(shop, clock):
    anna = await shop.student()
    club = await shop.buy(anna, "club-month")
    clock.set(club.ends_at + timedelta(hours=1))

    renewed = await shop.buy(anna, "club-extend")

    assert renewed.ends_at == clock.now() + DAYS_30


async def test_period_offer_bought_again_extends_the_running_purchase(shop, clock):
    anna = await shop.student()
    first = await shop.buy(anna, "python-30")
    clock.advance(timedelta(days=20))

    again = await shop.buy(anna, "python-30")

    assert again.id == first.id
    assert again.ends_at == START + 2 * DAYS_30
    assert len(await shop.purchases(anna.id)) == 1


async def test_period_offer_bought_after_it_lapsed_is_a_new_purchase(shop, clock):
    anna = await shop.student()
    first = await shop.buy(anna, "python-30")
    clock.set(first.ends_at)
    assert await expire(shop, first)
    clock.advance(timedelta(days=1))

    again = await shop.buy(anna, "python-30")

    assert again.id != first.id
    assert (again.starts_at, again.ends_at) == (clock.now(), clock.now() + DAYS_30)
    assert (await shop.purchase(first.id)).status is PurchaseStatus.EXPIRED


async def test_lessons_are_not_delivered_twice_by_a_second_purchase(shop):
    anna = await shop.student()
    await shop.buy(anna, "python-30")

    await shop.buy(anna, "python-life")

    lessons = [m.data["lessons"] for m in await shop.outbox(anna.id, "order_paid")]
    assert lessons == [[["python", "intro"], ["python", "notes"]], []]


async def test_renewal_of_one_product_does_not_extend_the_rest_of_a_bundle(shop, clock):
    anna = await shop.student()
    bundle = await shop.buy(anna, "python-30")  # python-course + club
    clock.advance(timedelta(days=10))

    await shop.buy(anna, "club-extend")

    assert (await shop.purchase(bundle.id)).ends_at == START + DAYS_30


# --- expire ------------------------------------------------------------------------------------


async def test_expire_before_the_end_does_nothing(shop, clock):
    purchase = await shop.buy(await shop.student(), "python-30")
    clock.set(purchase.ends_at - timedelta(seconds=1))

    assert await expire(shop, purchase) is False

    assert (await shop.purchase(purchase.id)).status is PurchaseStatus.ACTIVE


async def test_expire_at_the_end_ends_access(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-30")
    clock.set(purchase.ends_at)

    assert await expire(shop, purchase) is True

    stored = await shop.purchase(purchase.id)
    assert (stored.status, stored.ended_at, stored.end_reason, stored.next_lesson_at) == (
        PurchaseStatus.EXPIRED, clock.now(), "expired", None
    )
    [message] = await shop.outbox(anna.id, "access_ended")
    assert message.data == {"purchase": purchase.id, "reason": "expired"}


async def test_expire_twice_changes_nothing_the_second_time(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-30")
    clock.set(purchase.ends_at)
    await expire(shop, purchase)
    clock.advance(timedelta(hours=1))

    assert await expire(shop, purchase) is False

    assert (await shop.purchase(purchase.id)).ended_at == purchase.ends_at
    assert len(await shop.outbox(anna.id, "access_ended")) == 1


async def test_expire_never_ends_a_lifetime_purchase(shop, clock):
    purchase = await shop.buy(await shop.student(), "python-life")
    clock.advance(timedelta(days=3650))

    assert await expire(shop, purchase) is False

    assert (await shop.purchase(purchase.id)).status is PurchaseStatus.ACTIVE


async def test_expire_of_a_stale_copy_after_renewal_does_nothing(shop, clock):
    anna = await shop.student()
    club = await shop.buy(anna, "club-month")
    clock.advance(timedelta(days=10))
    await shop.buy(anna, "club-extend")
    clock.set(club.ends_at)

    assert await expire(shop, club) is False  # ``club`` still carries the old end

    assert (await shop.purchase(club.id)).status is PurchaseStatus.ACTIVE


async def test_each_lapse_after_a_renewal_is_reported(shop, clock):
    anna = await shop.student()
    club = await shop.buy(anna, "club-month")
    clock.set(club.ends_at)
    await expire(shop, club)
    renewed = await shop.buy(anna, "club-extend")
    clock.set(renewed.ends_at)

    assert await expire(shop, renewed) is True

    assert len(await shop.outbox(anna.id, "access_ended")) == 2


# --- revoke ------------------------------------------------------------------------------------


async def test_revoke_ends_access_with_its_reason(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")

    assert await revoke(shop, purchase.id, "refunded") is True

    stored = await shop.purchase(purchase.id)
    assert (stored.status, stored.ended_at, stored.end_reason, stored.next_lesson_at) == (
        PurchaseStatus.REVOKED, clock.now(), "refunded", None
    )
    [message] = await shop.outbox(anna.id, "access_ended")
    assert message.data == {"purchase": purchase.id, "reason": "refunded"}


async def test_revoke_twice_changes_nothing_the_second_time(shop, clock):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    await revoke(shop, purchase.id, "refunded")
    clock.advance(timedelta(hours=1))

    assert await revoke(shop, purchase.id, "abuse") is False

    stored = await shop.purchase(purchase.id)
    assert (stored.end_reason, stored.ended_at) == ("refunded", clock.now() - timedelta(hours=1))
    assert len(await shop.outbox(anna.id, "access_ended")) == 1


async def test_revoke_of_an_unknown_purchase_is_false(shop):
    assert await revoke(shop, 999) is False


async def test_revoked_lifetime_offer_can_be_bought_again(shop):
    anna = await shop.student()
    purchase = await shop.buy(anna, "python-life")
    await revoke(shop, purchase.id)

    again = await shop.buy(anna, "python-life")

    assert again.id != purchase.id and again.status is PurchaseStatus.ACTIVE
