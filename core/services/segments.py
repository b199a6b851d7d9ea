"""The students a broadcast goes to: a segment checked against the school, its recipients
read a page at a time, and how many it reaches on each messenger.

Students who turned marketing messages off are never in a marketing broadcast's audience; a
service announcement (not marketing) goes to holders of a product or an offer only, and
reaches them whatever their choice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta

from core.broadcasts import Recipient, Segment, SegmentKind
from core.errors import DomainError
from core.ports import Audience, Reach, UnitOfWork
from core.school import School
from core.services import tags

PAGE = 1000  # recipients read at a time
MAX_DAYS = 3650  # "access ended within N days"
SESSION = timedelta(hours=24)  # a messenger's free window after the student last wrote


class SegmentInvalid(DomainError):
    """A segment the school cannot have: ``reason`` says why (``unknown_offer``,
    ``unknown_product``, ``bad_days``, ``unknown_messenger``, ``bad_tag``,
    ``service_needs_holders`` ...)."""

    code = "segment_invalid"

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason, **params)
        self.reason = reason


def audience(school: School, segment: Segment, now: datetime, *, marketing: bool = True,
             messengers: Iterable[str] = (), languages: Iterable[str] = ()) -> Audience:
    """The audience of ``segment`` at ``now``, checked: ``messengers`` the school runs on,
    ``languages`` a student may be spoken to in. SegmentInvalid for anything else."""
    kind, value = segment.kind, segment.value
    if not marketing and kind is not SegmentKind.HOLDERS:
        raise SegmentInvalid("service_needs_holders")
    if kind is SegmentKind.HOLDERS:
        what, _, code = value.partition(":")
        if what == "offer" and school.offer(code) is None:
            raise SegmentInvalid("unknown_offer", code=code)
        if what == "product" and code not in school.products:
            raise SegmentInvalid("unknown_product", code=code)
        if what not in ("offer", "product"):
            raise SegmentInvalid("bad_holders", value=value)
    elif kind is SegmentKind.ENDED and not (value.isascii() and value.isdigit()
                                            and 0 < int(value) <= MAX_DAYS):
        raise SegmentInvalid("bad_days", days=value, most=MAX_DAYS)
    elif kind is SegmentKind.MESSENGER and value not in set(messengers):
        raise SegmentInvalid("unknown_messenger", messenger=value)
    elif kind is SegmentKind.LANGUAGE and value not in set(languages):
        raise SegmentInvalid("unknown_language", language=value)
    elif kind is SegmentKind.TAG and tags.normalize(value) != value:
        raise SegmentInvalid("bad_tag", tag=value)
    spoken: tuple[str, ...] = ()
    if kind is SegmentKind.LANGUAGE:
        # A student whose language is not known yet reads the school's own.
        spoken = (value, "") if value == school.default_language else (value,)
    return Audience(segment, now, marketing, spoken)


async def recipients(uow: UnitOfWork, audience: Audience,
                     page: int = PAGE) -> AsyncIterator[list[Recipient]]:
    """The audience's recipients, a page at a time, by student id."""
    after = 0
    while True:
        found = await uow.segments.recipients(audience, after, page)
        if not found:
            return
        yield found
        after = found[-1].user_id


async def reach(uow: UnitOfWork, audience: Audience) -> dict[str, Reach]:
    """Recipients per messenger, and those who have not written within ``SESSION``."""
    return await uow.segments.reach(audience, audience.now - SESSION)
