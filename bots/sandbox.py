"""The sandbox messenger: pretend students (and a pretend staff member) chatting in a browser.

It is the console messenger (the same transcripts a test reads) plus a live feed: every
message, edit and button answer is published to the browser pages watching, which the web
layer streams as server-sent events. No flow knows it is in a browser."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from dataclasses import dataclass
from typing import Any

from bots.console import ConsoleMessage, ConsoleMessenger
from flows.ui import Incoming, MessageRef, Peer, Screen

NAME = "sandbox"
FEED_LIMIT = 1000  # events a slow page may fall behind before it is dropped


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    language: str


def message_json(chat_id: str, message: ConsoleMessage) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "from": "bot",
        "student": chat_id,
        "id": message.id,
        "text": message.text,
        "rows": [
            [{"text": b.text, "action": b.action, "url": b.url} for b in row]
            for row in message.screen.rows
        ],
    }
    picture = message.attachment
    if picture is not None and picture.kind == "photo":  # a chart: tens of kilobytes
        shown["photo"] = "data:image/png;base64," + base64.b64encode(picture.data).decode()
        shown["photo_name"] = picture.filename
    return shown


def said_json(chat_id: str, text: str) -> dict[str, Any]:
    return {"from": "student", "student": chat_id, "text": text}


class SandboxMessenger(ConsoleMessenger):
    def __init__(self) -> None:
        # Pictures are shown in the page; a document is downloaded through its link instead.
        super().__init__(NAME, attachments=frozenset({"photo"}))
        self.students: dict[str, Student] = {}
        self._student_ids = itertools.count(1)
        self._watchers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._typed: dict[str, list[tuple[int, str]]] = {}  # student -> (position, text)

    def add_student(self, name: str, language: str, student_id: str | None = None) -> Student:
        """A pretend person: ``s1``, ``s2``... unless ``student_id`` names them (the staff
        the sandbox adds, whose accounts the school names: ``sandbox:olga``)."""
        student = Student(student_id or f"s{next(self._student_ids)}", name, language)
        self.students[student.id] = student
        self.chat(student.id, student.name, student.language)
        return student

    def history(self, student_id: str) -> list[dict[str, Any]]:
        """The bot's messages as they are now, with what the student typed in between."""
        entries: list[dict[str, Any]] = []
        typed = iter(self._typed.get(student_id, []))
        pending = next(typed, None)
        for position, message in enumerate(self.chat(student_id).messages):
            while pending is not None and pending[0] <= position:
                entries.append(said_json(student_id, pending[1]))
                pending = next(typed, None)
            entries.append(message_json(student_id, message))
        while pending is not None:
            entries.append(said_json(student_id, pending[1]))
            pending = next(typed, None)
        return entries

    def watch(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A feed of events; ``None`` in it means the server is stopping."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(FEED_LIMIT)
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._watchers.discard(queue)

    def close_feeds(self) -> None:
        for queue in list(self._watchers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._watchers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._watchers.discard(queue)

    def _find(self, chat_id: str, message_id: str) -> ConsoleMessage | None:
        return next((m for m in self.chat(chat_id).messages if m.id == message_id), None)

    async def send(
        self, peer: Peer, screen: Screen, bulk: bool = False, key: str | None = None
    ) -> MessageRef:
        ref = await super().send(peer, screen, bulk)
        message = self._find(peer.chat_id, ref.message_id)
        assert message is not None
        self._publish({"type": "message", **message_json(peer.chat_id, message)})
        return ref

    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        result = await super().edit(ref, screen)
        message = self._find(ref.peer.chat_id, result.message_id)
        if message is not None and result == ref:
            self._publish({"type": "edit", **message_json(ref.peer.chat_id, message)})
        return result

    async def ack(self, incoming: Incoming, toast: str | None = None) -> None:
        await super().ack(incoming, toast)
        if toast:
            self._publish({"type": "toast", "student": incoming.peer.chat_id, "text": toast})

    async def type_text(self, student_id: str, text: str) -> None:
        chat = self.chat(student_id)
        self._typed.setdefault(student_id, []).append((len(chat.messages), text))
        self._publish({"type": "said", **said_json(student_id, text)})
        await chat.send(text)

    async def press(self, student_id: str, message_id: str, action: str) -> None:
        chat = self.chat(student_id)
        message = self._find(student_id, message_id)
        await chat.press(action, message)
