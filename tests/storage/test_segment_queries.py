"""A broadcast's segments on every backend: who each holds, the account each student is
written to, the opt-out, merged and unreachable students left out, counts per messenger,
and a large segment read a page at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from storage_helpers import T0, add_order

from core.broadcasts import Segment, SegmentKind
from core.models import Identity, OrderStatus, Purchase, PurchaseStatus, Tag, User
from core.ports import Audience, Reach

NOW = T0 + timedelta(days=100)


async def _student(uow, name: str, *accounts: tuple[str, str], language: str = "en",
                   marketing: bool = True, preferred: str | None = None,
                   seen: timedelta | None = timedelta(hours=1)) -> User:
    user = await uow.users.add(User(created_at=T0, name=name, language=language,
                                    marketing=marketing, preferred_messenger=preferred))
    for messenger, external_id in accounts or (("telegram", name),):
        await uow.users.add_identity(Identity(
            user_id=user.id, messenger=messenger, external_id=external_id,
            last_seen_at=NOW - seen if seen is not None else None))
    return user


async def _bought(uow, user: User, offer: str, products: tuple[str, ...], *,
                  ends: timedelta | None = timedelta(days=10), status=PurchaseStatus.ACTIVE,
                  ended: timedelta | None = None) -> Purchase:
    order = await add_order(uow, user.id, f"tok-{user.id}-{offer}-{ends}", offer_code=offer,
                            status=OrderStatus.PAID, paid_at=T0)
    return await uow.purchases.add(Purchase(
        user_id=user.id, order_id=order.id, offer_code=offer, products=products, starts_at=T0,
        ends_at=NOW + ends if ends is not None else None, status=status,
        ended_at=NOW + ended if ended is not None else None))


async def _names(uow, segment: Segment, marketing: bool = True, **fields) -> list[str]:
    found = await uow.segments.recipients(Audience(segment, NOW, marketing, **fields), 0, 100)
    return [(await uow.users.get(r.user_id)).name for r in found]


@pytest.fixture
async def school_of_students(uow_factory):
    """ann holds python now; bob's python ended 5 days ago; cem's ended 5 days ago but he
    renewed it as the bundle; dan placed an order and never paid; eve never ordered; fay
    opted out of marketing and holds python; gus speaks ru on VK with a tag."""
    async with uow_factory() as uow:
        ann = await _student(uow, "ann")
        await _bought(uow, ann, "python", ("python",))
        bob = await _student(uow, "bob")
        await _bought(uow, bob, "python", ("python",), ends=timedelta(days=-5),
                      status=PurchaseStatus.EXPIRED, ended=timedelta(days=-5))
        cem = await _student(uow, "cem")
        await _bought(uow, cem, "python", ("python",), ends=timedelta(days=-5),
                      status=PurchaseStatus.EXPIRED, ended=timedelta(days=-5))
        await _bought(uow, cem, "bundle", ("python", "sql"))
        dan = await _student(uow, "dan")
        await add_order(uow, dan.id, "tok-dan", status=OrderStatus.CANCELLED)
        await _student(uow, "eve")
        fay = await _student(uow, "fay", marketing=False)
        await _bought(uow, fay, "python", ("python",), ends=None)
        gus = await _student(uow, "gus", ("vk", "77"), language="ru")
        await uow.tags.add(Tag(gus.id, "vip", T0, "console:1"))
        await uow.commit()
    return uow_factory


async def test_every_segment_holds_whom_it_says(school_of_students):
    async with school_of_students() as uow:
        assert await _names(uow, Segment(SegmentKind.EVERYONE)) == [
            "ann", "bob", "cem", "dan", "eve", "gus"]
        assert await _names(uow, Segment(SegmentKind.HOLDERS, "offer:python")) == ["ann"]
        assert await _names(uow, Segment(SegmentKind.HOLDERS, "product:python")) == [
            "ann", "cem"]
        assert await _names(uow, Segment(SegmentKind.HOLDERS, "product:sql")) == ["cem"]
        assert await _names(uow, Segment(SegmentKind.ENDED, "7")) == ["bob"]  # cem renewed
        assert await _names(uow, Segment(SegmentKind.ENDED, "3")) == []
        assert await _names(uow, Segment(SegmentKind.NEVER_BOUGHT)) == ["dan", "eve", "gus"]
        assert await _names(uow, Segment(SegmentKind.UNPAID)) == ["dan"]
        assert await _names(uow, Segment(SegmentKind.MESSENGER, "vk")) == ["gus"]
        assert await _names(uow, Segment(SegmentKind.LANGUAGE, "ru")) == ["gus"]
        assert await _names(uow, Segment(SegmentKind.LANGUAGE, "en"),
                            languages=("en", "")) == ["ann", "bob", "cem", "dan", "eve"]
        assert await _names(uow, Segment(SegmentKind.TAG, "vip")) == ["gus"]
        assert await _names(uow, Segment(SegmentKind.TAG, "v%")) == []


async def test_a_service_announcement_reaches_holders_who_opted_out(school_of_students):
    async with school_of_students() as uow:
        holders = Segment(SegmentKind.HOLDERS, "product:python")
        assert await _names(uow, holders, marketing=False) == ["ann", "cem", "fay"]
        assert "fay" not in await _names(uow, holders)


async def test_a_purchase_still_active_in_the_table_but_past_its_end_has_ended(uow_factory):
    async with uow_factory() as uow:
        late = await _student(uow, "late")  # the expiry sweep has not come yet
        await _bought(uow, late, "python", ("python",), ends=timedelta(days=-1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await _names(uow, Segment(SegmentKind.HOLDERS, "offer:python")) == []
        assert await _names(uow, Segment(SegmentKind.ENDED, "2")) == ["late"]


async def test_the_account_written_to(uow_factory):
    async with uow_factory() as uow:
        both = await _student(uow, "both", ("telegram", "1"), ("vk", "1"))
        vk = await uow.users.identity("vk", "1")
        vk_first = await _student(uow, "vk_first", ("telegram", "2"), ("vk", "2"),
                                  preferred="vk")
        blocked_pref = await _student(uow, "blocked_pref", ("telegram", "3"), ("vk", "3"),
                                      preferred="vk")
        for identity in await uow.users.identities(blocked_pref.id):
            if identity.messenger == "vk":
                identity.reachable = False
                await uow.users.update_identity(identity)
        gone = await _student(uow, "gone", ("viber", "4"))
        [identity] = await uow.users.identities(gone.id)
        identity.reachable = False
        await uow.users.update_identity(identity)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.segments.recipients(Audience(Segment(SegmentKind.EVERYONE), NOW),
                                              0, 10)
        by_user = {r.user_id: r.messenger for r in found}
        # Seen at the same moment: the newest account; the preferred one when it is set and
        # reachable; a student with no reachable account is nobody's recipient.
        assert by_user == {both.id: "vk", vk_first.id: "vk", blocked_pref.id: "telegram"}
        assert {r.identity_id for r in found if r.user_id == both.id} == {vk.id}
        only_tg = await uow.segments.recipients(
            Audience(Segment(SegmentKind.MESSENGER, "telegram"), NOW), 0, 10)
        assert {r.messenger for r in only_tg} == {"telegram"} and len(only_tg) == 3


async def test_merged_students_are_left_out(uow_factory):
    async with uow_factory() as uow:
        kept = await _student(uow, "kept", ("telegram", "1"))
        gone = await _student(uow, "gone", ("vk", "1"))
        await uow.users.merge(gone.id, kept.id)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.segments.recipients(Audience(Segment(SegmentKind.EVERYONE), NOW),
                                              0, 10)
        assert [r.user_id for r in found] == [kept.id]
        assert (await uow.segments.reach(Audience(Segment(SegmentKind.EVERYONE), NOW),
                                         NOW)) == {"vk": Reach(1, 1)}  # one, on the newest


async def test_counts_per_messenger_and_those_outside_a_session(uow_factory):
    async with uow_factory() as uow:
        await _student(uow, "a", ("telegram", "1"), seen=timedelta(hours=2))
        await _student(uow, "b", ("viber", "b"), seen=timedelta(hours=2))
        await _student(uow, "c", ("viber", "c"), seen=timedelta(days=3))
        await _student(uow, "d", ("viber", "d"), seen=None)
        await _student(uow, "e", ("viber", "e"), marketing=False)
        await uow.commit()
    async with uow_factory() as uow:
        reach = await uow.segments.reach(Audience(Segment(SegmentKind.EVERYONE), NOW),
                                         NOW - timedelta(hours=24))
        assert reach == {"telegram": Reach(1, 0), "viber": Reach(3, 2)}


async def test_tags_in_use_most_common_first(school_of_students):
    async with school_of_students() as uow:
        for user_id in (1, 2):
            await uow.tags.add(Tag(user_id, "webinar", T0, "console:1"))
        assert await uow.segments.tags(10) == [("webinar", 2), ("vip", 1)]
        assert await uow.segments.tags(1) == [("webinar", 2)]


async def test_a_large_segment_is_read_a_page_at_a_time(uow_factory):
    async with uow_factory() as uow:
        for number in range(250):
            await _student(uow, f"s{number}", ("telegram", str(number)))
        await uow.commit()
    async with uow_factory() as uow:
        everyone = Audience(Segment(SegmentKind.EVERYONE), NOW)
        after, pages, seen = 0, 0, []
        while page := await uow.segments.recipients(everyone, after, 100):
            assert len(page) <= 100
            seen += [r.user_id for r in page]
            after, pages = page[-1].user_id, pages + 1
        assert pages == 3 and seen == sorted(set(seen)) and len(seen) == 250
