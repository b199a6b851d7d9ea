"""A broadcast's audience checked against the school, and its recipients read page by page."""

from __future__ import annotations

import pytest

from core.broadcasts import Segment
from core.services import segments
from core.services.segments import SegmentInvalid


def _audience(school, clock, text, **kwargs):
    return segments.audience(school, Segment.decode(text), clock.now(),
                             messengers=("telegram", "vk"), languages=("en", "ru"), **kwargs)


@pytest.mark.parametrize("text", ["everyone", "holders:offer:python-life",
                                  "holders:product:club", "ended:30", "never_bought", "unpaid",
                                  "messenger:vk", "language:ru", "tag:vip"])
def test_the_segments_a_school_has(school, clock, text):
    assert _audience(school, clock, text).segment.encode() == text


@pytest.mark.parametrize("text, reason", [
    ("holders:offer:nope", "unknown_offer"), ("holders:product:nope", "unknown_product"),
    ("holders:course:python", "bad_holders"), ("ended:0", "bad_days"),
    ("ended:3651", "bad_days"), ("ended:²", "bad_days"), ("messenger:viber", "unknown_messenger"),
    ("language:de", "unknown_language"), ("tag:VIP", "bad_tag"), ("tag:a b", "bad_tag")])
def test_segments_it_has_not(school, clock, text, reason):
    with pytest.raises(SegmentInvalid) as refused:
        _audience(school, clock, text)
    assert refused.value.reason == reason


def test_a_service_announcement_goes_to_holders_only(school, clock):
    assert not _audience(school, clock, "holders:product:club", marketing=False).marketing
    with pytest.raises(SegmentInvalid) as refused:
        _audience(school, clock, "everyone", marketing=False)
    assert refused.value.reason == "service_needs_holders"


def test_the_schools_own_language_takes_students_of_no_known_language(school, clock):
    assert _audience(school, clock, "language:en").languages == ("en", "")
    assert _audience(school, clock, "language:ru").languages == ("ru",)


async def test_recipients_come_page_by_page(uow_factory, school, clock, shop):
    made = [await shop.student(f"s{n}") for n in range(5)]
    async with uow_factory() as uow:
        pages = [page async for page in segments.recipients(
            uow, _audience(school, clock, "everyone"), page=2)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [r.user_id for page in pages for r in page] == [u.id for u in made]
