"""Broadcasts: what staff may send to a segment, and what becomes of each recipient row.

The composer (``flows``) picks the recipients and calls ``create``; the sender claims rows
(``claim``), sends them and writes their outcomes back in batches (``record``). Pause, resume
and cancel are compare-and-sets on the broadcast's status; the sender looks at the status
before each message it sends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from core.broadcasts import (
    MAX_BUTTONS,
    MAX_TEXT,
    Broadcast,
    BroadcastButton,
    BroadcastStatus,
    ButtonKind,
    ButtonPress,
    Claimed,
    Outcome,
    Progress,
    Recipient,
    RecipientStatus,
    Segment,
    SegmentKind,
)
from core.errors import DomainError, NotFound
from core.ports import UnitOfWork
from core.services import users

MAX_ATTEMPTS = 3  # tries of one message that fails for a passing reason
STALE_AFTER = timedelta(seconds=60)  # a CLAIMED row older than this lost its sender
MAX_LABEL = 64  # characters of a button's label
LIVE = frozenset({BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING, BroadcastStatus.PAUSED})


class BroadcastInvalid(DomainError):
    """A broadcast that cannot be sent as composed; ``reason`` says why (a short code)."""

    code = "broadcast_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"broadcast invalid: {reason}", reason=reason)
        self.reason = reason


def _web_address(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("https", "http") and bool(parts.netloc) and " " not in value


def _check_buttons(buttons: Sequence[BroadcastButton]) -> None:
    if len(buttons) > MAX_BUTTONS:
        raise BroadcastInvalid("too_many_buttons")
    for button in buttons:
        if len(button.label) > MAX_LABEL:
            raise BroadcastInvalid("bad_button")
        if button.kind is ButtonKind.URL and (not button.label
                                              or not _web_address(button.value)):
            raise BroadcastInvalid("bad_url")
        if button.kind is ButtonKind.OFFER and not button.value:
            raise BroadcastInvalid("bad_button")


def validate(*, text: str, segment: Segment, now: datetime, at: datetime | None,
             picture_url: str | None, buttons: Sequence[BroadcastButton],
             marketing: bool) -> None:
    """Raise BroadcastInvalid for what ``create`` would refuse (the composer asks early)."""
    if not text.strip():
        raise BroadcastInvalid("empty")
    if len(text) > MAX_TEXT:
        raise BroadcastInvalid("too_long")
    _check_buttons(buttons)
    if picture_url is not None and not _web_address(picture_url):
        raise BroadcastInvalid("bad_url")
    if not marketing and segment.kind is not SegmentKind.HOLDERS:
        raise BroadcastInvalid("service_needs_holders")
    if at is not None and at < now:
        raise BroadcastInvalid("past")


async def create(
    uow: UnitOfWork, *, author: str, author_messenger: str, author_chat_id: str, text: str,
    segment: Segment, recipients: Iterable[Recipient], now: datetime,
    at: datetime | None = None, picture_url: str | None = None,
    buttons: Sequence[BroadcastButton] = (), marketing: bool = True,
) -> Broadcast:
    """Store a broadcast and one recipient row per distinct student: SCHEDULED when ``at``
    is later than ``now``, else SENDING at once."""
    validate(text=text, segment=segment, now=now, at=at, picture_url=picture_url,
             buttons=buttons, marketing=marketing)
    distinct = list({r.user_id: r for r in recipients}.values())
    if not distinct:
        raise BroadcastInvalid("no_recipients")
    later = at is not None and at > now
    broadcast = await uow.broadcasts.add(Broadcast(
        author=author, author_messenger=author_messenger, author_chat_id=author_chat_id,
        text=text, picture_url=picture_url,
        buttons=[{k: str(v) for k, v in asdict(b).items()} for b in buttons],
        segment=segment.encode(), marketing=marketing,
        status=BroadcastStatus.SCHEDULED if later else BroadcastStatus.SENDING,
        created_at=now, start_at=at if later else now, total=len(distinct)))
    await uow.broadcasts.add_recipients(broadcast.id, distinct)
    return broadcast


async def get(uow: UnitOfWork, broadcast_id: int) -> Broadcast | None:
    return await uow.broadcasts.get(broadcast_id)


async def _get(uow: UnitOfWork, broadcast_id: int) -> Broadcast:
    broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None:
        raise NotFound(f"no broadcast {broadcast_id}")
    return broadcast


async def pause(uow: UnitOfWork, broadcast_id: int, now: datetime) -> bool:
    """Stop sending (a scheduled one does not start) until ``resume``. False if it was not
    sending nor scheduled."""
    return await uow.broadcasts.transition(
        broadcast_id, frozenset({BroadcastStatus.SENDING, BroadcastStatus.SCHEDULED}),
        BroadcastStatus.PAUSED, now)


async def resume(uow: UnitOfWork, broadcast_id: int, now: datetime) -> bool:
    """Go on where it stopped (a scheduled one waits for its time again). False if it was
    not paused."""
    broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None or broadcast.status is not BroadcastStatus.PAUSED:
        return False
    later = broadcast.start_at is not None and broadcast.start_at > now
    return await uow.broadcasts.transition(
        broadcast_id, frozenset({BroadcastStatus.PAUSED}),
        BroadcastStatus.SCHEDULED if later else BroadcastStatus.SENDING, now)


async def cancel(uow: UnitOfWork, broadcast_id: int, now: datetime) -> bool:
    """Stop for good: rows still waiting become SKIPPED; messages in flight finish and are
    counted. False if it was over already."""
    if not await uow.broadcasts.transition(broadcast_id, LIVE, BroadcastStatus.CANCELLED, now):
        return False
    await uow.broadcasts.skip_pending(broadcast_id, "cancelled", now)
    return True


async def progress(uow: UnitOfWork, broadcast_id: int) -> Progress:
    broadcast = await _get(uow, broadcast_id)
    counts = await uow.broadcasts.counts(broadcast_id)
    return Progress(total=broadcast.total, sent=counts.get(RecipientStatus.SENT, 0),
                    failed=counts.get(RecipientStatus.FAILED, 0),
                    unreachable=counts.get(RecipientStatus.UNREACHABLE, 0),
                    skipped=counts.get(RecipientStatus.SKIPPED, 0))


async def due(uow: UnitOfWork, now: datetime, limit: int = 50) -> list[Broadcast]:
    """Scheduled broadcasts whose time came start sending; returns them."""
    started = []
    for broadcast in await uow.broadcasts.due(now, limit):
        if await uow.broadcasts.transition(broadcast.id,
                                           frozenset({BroadcastStatus.SCHEDULED}),
                                           BroadcastStatus.SENDING, now):
            broadcast.status = BroadcastStatus.SENDING
            started.append(broadcast)
    return started


async def sending(uow: UnitOfWork) -> list[Broadcast]:
    """The broadcasts being sent now, oldest first."""
    return await uow.broadcasts.with_status(BroadcastStatus.SENDING)


async def set_progress_message(uow: UnitOfWork, broadcast_id: int,
                               message_id: str | None) -> None:
    await uow.broadcasts.set_progress_message(broadcast_id, message_id)


async def record_press(uow: UnitOfWork, broadcast_id: int, button: int, user_id: int,
                       now: datetime) -> BroadcastButton | None:
    """A student pressed button ``button`` of the broadcast: counted once per student.
    None for a broadcast or a button that does not exist (a tampered press)."""
    broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None or not 0 <= button < len(broadcast.buttons):
        return None
    await uow.broadcasts.add_press(ButtonPress(broadcast_id, button, user_id, now))
    return broadcast.button_list()[button]


async def presses(uow: UnitOfWork, broadcast_id: int) -> list[int]:
    """How many students pressed each button, by its index."""
    broadcast = await _get(uow, broadcast_id)
    counted = await uow.broadcasts.presses(broadcast_id)
    return [counted.get(index, 0) for index in range(len(broadcast.buttons))]


# --- sending -----------------------------------------------------------------------------


async def claim(uow: UnitOfWork, broadcast: Broadcast, messenger: str, now: datetime,
                limit: int) -> list[Claimed]:
    """The next rows of ``broadcast`` to send through ``messenger``. Rows of students who
    turned marketing off since (for a marketing broadcast) are SKIPPED, and of accounts
    that cannot be reached any more UNREACHABLE, here, without sending."""
    claimed = await uow.broadcasts.claim(broadcast.id, messenger, now, now - STALE_AFTER,
                                         limit)
    kept, settled = [], []
    for c in claimed:
        if broadcast.marketing and not c.marketing:
            settled.append(skipped(c, "marketing off"))
        elif not c.reachable or not c.external_id:
            settled.append(Outcome(c.recipient.id, RecipientStatus.UNREACHABLE,
                                   c.recipient.attempts, "unreachable"))
        else:
            kept.append(c)
    await uow.broadcasts.record(settled, now)
    return kept


def sent(c: Claimed) -> Outcome:
    return Outcome(c.recipient.id, RecipientStatus.SENT, c.recipient.attempts)


def skipped(c: Claimed, reason: str) -> Outcome:
    return Outcome(c.recipient.id, RecipientStatus.SKIPPED, c.recipient.attempts, reason)


def blocked(c: Claimed, error: str) -> Outcome:
    """The student blocked the bot: the row is UNREACHABLE (and so is the account, once
    ``record`` writes it)."""
    return Outcome(c.recipient.id, RecipientStatus.UNREACHABLE, c.recipient.attempts, error)


def later(c: Claimed, reason: str) -> Outcome:
    """Back to PENDING without using an attempt (a rate limit, a pause, a stopping sender)."""
    return Outcome(c.recipient.id, RecipientStatus.PENDING, c.recipient.attempts - 1, reason)


def failed(c: Claimed, error: str) -> Outcome:
    """A passing failure: PENDING again until ``MAX_ATTEMPTS`` tries, then FAILED."""
    status = (RecipientStatus.FAILED if c.recipient.attempts >= MAX_ATTEMPTS
              else RecipientStatus.PENDING)
    return Outcome(c.recipient.id, status, c.recipient.attempts, error)


async def record(uow: UnitOfWork, outcomes: Sequence[Outcome], blocked_identities: Sequence[int],
                 now: datetime) -> None:
    """Write a batch of outcomes; accounts that blocked the bot become unreachable (the
    outbox stops trying them too, until the student writes again)."""
    await uow.broadcasts.record(outcomes, now)
    for identity_id in sorted(set(blocked_identities)):
        await users.mark_unreachable(uow, identity_id)


async def finish_if_done(uow: UnitOfWork, broadcast_id: int, now: datetime) -> bool:
    """A sending broadcast none of whose rows waits or is in flight is DONE. True if this
    call finished it."""
    counts = await uow.broadcasts.counts(broadcast_id)
    if counts.get(RecipientStatus.PENDING, 0) or counts.get(RecipientStatus.CLAIMED, 0):
        return False
    return await uow.broadcasts.transition(broadcast_id, frozenset({BroadcastStatus.SENDING}),
                                           BroadcastStatus.DONE, now)
