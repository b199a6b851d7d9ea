"""Chat with the school in a terminal: the console messenger, printed and typed.

Type a message (``/start``, a promo code), or a button's number to press it. Link buttons
print their address (the checkout page is served by the same process)."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TextIO

from bots.console import ConsoleMessenger
from flows.ui import MessageRef, Peer, Screen

STUDENT_ID = "terminal-student"


def _stdin_lines() -> asyncio.Queue[str]:
    """Lines typed on stdin, read by a daemon thread so a pending read never holds up exit;
    an empty string means end of input."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, "")

    threading.Thread(target=read, name="terminal-stdin", daemon=True).start()
    return queue


class TerminalMessenger(ConsoleMessenger):
    NAME = "console"  # staff chatting here are ``console:terminal-student``

    def __init__(self, out: TextIO = sys.stdout) -> None:
        super().__init__(self.NAME, attachments=frozenset())  # a terminal shows no files
        self.out = out

    def _print(self, screen: Screen, edited: bool) -> None:
        head = "✎ (edited)" if edited else "──"
        lines = [f"\n{head} bot ──", screen.text]
        for number, button in enumerate(screen.buttons, 1):
            target = f"  → {button.url}" if button.url else ""
            lines.append(f"  [{number}] {button.text}{target}")
        print("\n".join(lines), file=self.out, flush=True)

    async def send(
        self, peer: Peer, screen: Screen, bulk: bool = False, key: str | None = None
    ) -> MessageRef:
        ref = await super().send(peer, screen, bulk)
        self._print(screen, edited=False)
        return ref

    async def edit(self, ref: MessageRef, screen: Screen, bulk: bool = False) -> MessageRef:
        result = await super().edit(ref, screen)
        self._print(screen, edited=True)
        return result

    async def converse(self, language: str = "en") -> None:
        """Read the student's lines from stdin until end of input."""
        chat = self.chat(STUDENT_ID, "Terminal student", language)
        print("Type /start to begin, a number to press a button, Ctrl-D to quit.",
              file=self.out, flush=True)
        lines = _stdin_lines()
        while True:
            line = await lines.get()
            if not line:
                return
            text = line.strip()
            if not text:
                continue
            buttons = chat.messages[-1].screen.buttons if chat.messages else []
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                button = buttons[int(text) - 1]
                if button.url:
                    print(f"Open {button.url} in your browser.", file=self.out, flush=True)
                    continue
                await chat.press(button.action or "", chat.messages[-1])
            else:
                await chat.send(text)
