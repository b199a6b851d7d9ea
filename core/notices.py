"""What the platform tells a student (or an admin) on its own: one record per kind of outbox
message. A notice is stored as its ``KIND`` and its fields as JSON (``data``), rendered at
send time by ``flows.notifications`` (keyed by the record's type), in the reader's language."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

N = TypeVar("N", bound="Notice")


@dataclass(frozen=True)
class Notice:
    KIND: ClassVar[str]

    def data(self) -> dict[str, Any]:
        """The JSON stored with the message."""
        return {field.name: _to_json(getattr(self, field.name))
                for field in dataclasses.fields(self)}

    @classmethod
    def from_data(cls: type[N], data: dict[str, Any]) -> N:
        """Back from the stored JSON; fields a message recorded by an older version lacks
        take their defaults."""
        values = {}
        for field in dataclasses.fields(cls):
            if field.name in data:
                values[field.name] = _from_json(field.type, data[field.name])
        return cls(**values)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    return value


def _from_json(annotation: Any, value: Any) -> Any:
    kind = str(annotation)
    if value is not None and "datetime" in kind:
        return datetime.fromisoformat(value)
    if "tuple" in kind:
        return tuple(tuple(item) if isinstance(item, list) else item for item in value)
    return value


@dataclass(frozen=True)
class OrderPaid(Notice):
    KIND = "order_paid"
    order: int
    purchase: int
    extended: bool = False
    lessons: tuple[tuple[str, str], ...] = ()  # (course, lesson) open at once


@dataclass(frozen=True)
class LessonOpened(Notice):
    KIND = "lesson_opened"
    course: str
    lesson: str
    purchase: int


@dataclass(frozen=True)
class AccessEnded(Notice):
    KIND = "access_ended"
    purchase: int
    reason: str  # expired | renewal_failed | refund | revoked ...


@dataclass(frozen=True)
class PaymentFailed(Notice):
    KIND = "payment_failed"
    order: int


@dataclass(frozen=True)
class PaymentPartial(Notice):
    KIND = "payment_partial"
    order: int
    received: int  # in minor units of ``currency``, all the order's payments so far
    currency: str


@dataclass(frozen=True)
class PaymentExtra(Notice):
    """Money that bought nothing more (to be refunded)."""

    KIND = "payment_extra"
    order: int
    amount: int
    currency: str


@dataclass(frozen=True)
class GroupInvite(Notice):
    KIND = "group_invite"
    purchase: int
    group: str


@dataclass(frozen=True)
class GroupRemoved(Notice):
    KIND = "group_removed"
    group: str


@dataclass(frozen=True)
class Reminder(Notice):
    """Access ends (or ended) ``days`` from ``ends_at``: negative before, positive after."""

    KIND = "reminder"
    purchase: int
    days: int
    ends_at: datetime


@dataclass(frozen=True)
class RenewalNotice(Notice):
    """An automatic renewal is coming: what will be charged, and when."""

    KIND = "renewal_notice"
    purchase: int
    days: int
    ends_at: datetime


@dataclass(frozen=True)
class RenewalFailed(Notice):
    KIND = "renewal_failed"
    purchase: int
    order: int
    reason: str | None = None
    retry_at: datetime | None = None  # None: the last attempt


@dataclass(frozen=True)
class RenewalDoubled(Notice):
    """The automatic charge landed after a renewal by hand: both count."""

    KIND = "renewal_doubled"
    purchase: int
    order: int


@dataclass(frozen=True)
class RefundDue(Notice):
    """To an admin: money that granted nothing, to be returned."""

    KIND = "refund_due"
    order: int
    gateway: str
    payment: str  # the gateway's payment id


@dataclass(frozen=True)
class InboxQuestion(Notice):
    """To a staff member: a student's message in the support inbox."""

    KIND = "inbox_question"
    conversation: int
    message: int


@dataclass(frozen=True)
class InboxAnswer(Notice):
    """To the student: the school's answer in their conversation."""

    KIND = "inbox_answer"
    conversation: int
    message: int


@dataclass(frozen=True)
class InboxAnswered(Notice):
    """To the other staff: a colleague answered the conversation."""

    KIND = "inbox_answered"
    conversation: int
    message: int


@dataclass(frozen=True)
class RefundReported(Notice):
    """To an admin: a card gateway reports it gave (a part of) a payment back, and what that
    changed here (``core.services.payments.Returned`` value)."""

    KIND = "refund_reported"
    order: int
    gateway: str
    payment: str  # the gateway's payment id
    outcome: str
    returned: int  # minor units this report added
    refunded: int  # of the payment, given back by now in all
@dataclass(frozen=True)
class DailyDigest(Notice):
    """To a staff member: the school's figures of one local day (``day``: ISO date)."""

    KIND = "daily_digest"
    account: str  # the staff account it was asked for: ``telegram:123``
    day: str


@dataclass(frozen=True)
class AccessExtended(Notice):
    """The school's staff added ``days`` to the purchase: it now ends at ``ends_at``."""

    KIND = "access_extended"
    purchase: int
    days: int
    ends_at: datetime


@dataclass(frozen=True)
class LessonLinks(Notice):
    """The lessons open now of a purchase, sent again (the school's staff asked)."""

    KIND = "lesson_links"
    purchase: int


@dataclass(frozen=True)
class AutomationScreen(Notice):
    """A screen an automation's ``send`` or ``ask`` step shows the student, as the step had it
    then: ``text`` per language (placeholders filled), an optional picture, and buttons
    (``{"offer": code, "label": ...}``, ``{"url": ..., "label": ...}``,
    ``{"answer": value, "label": ..., "ask": n}``, ``{"my_courses": true, "label": ...}``;
    a label is per language, or None for the button's usual wording)."""

    KIND = "automation_screen"
    run: int
    automation: str
    text: dict[str, str]
    picture: str | None = None
    buttons: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class AutomationStaff(Notice):
    """To a staff member who answers students (``Right.INBOX``): an automation's
    ``notify_staff`` text about a student, or ``problem``: a step that could not do what it
    says (an extension with nothing to extend)."""

    KIND = "automation_staff"
    student: int
    automation: str
    run: int
    text: dict[str, str] | None = None
    problem: str = ""


KINDS: dict[str, type[Notice]] = {
    kind.KIND: kind
    for kind in (OrderPaid, LessonOpened, AccessEnded, PaymentFailed, PaymentPartial,
                 PaymentExtra, GroupInvite, GroupRemoved, Reminder, RenewalNotice,
                 RenewalFailed, RenewalDoubled, RefundDue, RefundReported, InboxQuestion,
                 InboxAnswer, InboxAnswered, DailyDigest, AccessExtended, LessonLinks)
}
KINDS.update({kind.KIND: kind for kind in (AutomationScreen, AutomationStaff)})


def parse(kind: str, data: dict[str, Any]) -> Notice:
    """The notice a stored message holds; ValueError for a kind this version does not know."""
    record = KINDS.get(kind)
    if record is None:
        raise ValueError(f"unknown outbox message kind {kind!r}")
    return record.from_data(data)
