"""A student's promotions switch, and the audience that follows it."""

from __future__ import annotations

from datetime import timedelta

from core.broadcasts import Segment
from core.ports import Reach
from core.services import segments
from core.services.marketing import set_marketing


def _everyone(school, clock):
    return segments.audience(school, Segment.decode("everyone"), clock.now())


async def test_promotions_off_then_on_once_each_and_the_audience_follows(uow_factory, school,
                                                                         clock, shop):
    anna = await shop.student("Anna")
    async with uow_factory() as uow:
        assert await set_marketing(uow, anna.id, False, clock.now())
        assert not await set_marketing(uow, anna.id, False, clock.now())  # off already
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.users.get(anna.id)).marketing is False
        assert await segments.reach(uow, _everyone(school, clock)) == {}
        assert await set_marketing(uow, anna.id, True, clock.now())
        assert not await set_marketing(uow, 999999, True, clock.now())  # no such student
        await uow.commit()
    async with uow_factory() as uow:
        clock.advance(timedelta(hours=25))
        found = await segments.reach(uow, _everyone(school, clock))
        assert found == {"telegram": Reach(1, 1)}
