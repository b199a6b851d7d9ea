"""The support inbox: a student's free text that no flow expects is a message of their one
open conversation with the school, forwarded to the staff who answer it. An answer goes back
to the account the student last wrote from; closing ends the conversation, and the student's
next message opens a new one."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

STUDENT = ""  # the author of a student's message; staff messages name the account


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass
class Conversation:
    user_id: int = 0  # the student
    identity_id: int = 0  # the account they last wrote from: answers go there
    status: ConversationStatus = ConversationStatus.OPEN
    opened_at: datetime | None = None
    updated_at: datetime | None = None  # the last message either way
    last_student_at: datetime | None = None  # the student's last message
    closed_at: datetime | None = None
    closed_by: str = ""  # the staff account that closed it
    id: int = 0


@dataclass
class ConversationMessage:
    conversation_id: int = 0
    at: datetime | None = None
    author: str = STUDENT  # STUDENT, or the staff account that answered (``telegram:123``)
    text: str = ""
    id: int = 0

    @property
    def from_student(self) -> bool:
        return self.author == STUDENT
