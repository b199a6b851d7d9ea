"""What automations keep in storage. Plain mutable dataclasses like ``core.models``'s; ids
are assigned by storage. Every datetime is aware UTC."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# How an automation signs what it does (audit lines, ``Order.granted_by``): ``automation:<code>``.
ACTOR = "automation:"


class RunStatus(enum.StrEnum):
    ACTIVE = "active"  # the step at ``position`` runs when ``wait_until`` comes (now, mostly)
    WAITING = "waiting"  # at a wait or a question, until ``wait_until`` (or an answer)
    DONE = "done"
    CANCELLED = "cancelled"  # ended early: merged into another student, failed, removed
    PAUSED = "paused"  # its automation is paused; ``paused_from`` is what it goes back to


LIVE = frozenset({RunStatus.ACTIVE, RunStatus.WAITING})  # a sweep may move these on
OPEN = LIVE | {RunStatus.PAUSED}  # not over


class Waiting(enum.StrEnum):
    ANSWER = "answer"  # a button of the question
    TEXT = "text"  # a typed answer
    NONE = "none"  # time only (or not waiting)


@dataclass
class Run:
    """One student's way through one automation. ``position`` is the path of the step it is
    at (``model.path_text``); ``data`` keeps what started it (``event``), the answers by
    step path (``answers``), how many questions it asked (``asks``: the number travels in the
    answer buttons, so a button of an older question answers nothing) and notes on steps
    that could do nothing (``notes``)."""

    automation: str = ""
    user_id: int = 0
    status: RunStatus = RunStatus.ACTIVE
    position: str = "0"
    wait_until: datetime | None = None
    waiting_for: Waiting = Waiting.NONE
    data: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    # "" for an automation that runs once per student (unique with automation and student);
    # for a repeatable one, what started it ("order:42"), so one event starts one run.
    repeat_key: str = ""
    paused_from: RunStatus | None = None
    error: str | None = None  # why it was cancelled, when it failed
    id: int = 0


@dataclass
class AutomationEvent:
    """Something happened that may start automations, recorded in the transaction that did
    it (``events.emit``) and turned into runs by the next pass (``jobs``)."""

    kind: str = ""  # a ``model.TriggerKind`` value
    user_id: int = 0
    subject: str = ""  # the offer, group, tag or course code
    subjects: tuple[str, ...] = ()  # the products, for access events
    key: str = ""  # what happened, once: ``order:42``
    detail: dict[str, Any] = field(default_factory=dict)  # order, purchase, lesson ...
    created_at: datetime | None = None
    id: int = 0


@dataclass
class AutomationState:
    """What staff and the scans change about one automation at runtime."""

    code: str = ""
    paused: bool = False
    changed_by: str = ""  # ``telegram:123`` of whoever paused or resumed it
    changed_at: datetime | None = None
    # ORDER_UNPAID: the last order looked at (orders are taken in id order, once each).
    cursor: int | None = None


class CallStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # refused for good, or too many attempts


@dataclass
class WebhookCall:
    """A ``webhook`` step's call to the school's own systems: recorded with the step, sent
    after the commit, retried with a growing wait until it is answered with 2xx."""

    run_id: int = 0
    user_id: int = 0
    automation: str = ""
    url: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str = ""  # ``webhook:<run>:<step>``: one call per run and step
    status: CallStatus = CallStatus.PENDING
    attempts: int = 0
    due_at: datetime | None = None
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    id: int = 0


@dataclass
class StudentField:
    """A value kept on a student (``set``, an answer's ``save_as``), read by ``if: field``."""

    user_id: int = 0
    key: str = ""
    value: str = ""
    updated_at: datetime | None = None
    id: int = 0
