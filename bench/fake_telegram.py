"""A lean fake of the Telegram Bot API for the broadcast benchmark, in a process of its own:
it enforces Telegram's limits on messages (``--rate`` a second overall and one a second per
chat, each over a sliding second of arrivals) and answers 429 with ``retry_after`` beyond
them, as Telegram does. It keeps, per chat, the times of the messages it accepted, and
answers ``GET /stats`` with what it saw.

    python bench/fake_telegram.py --port 8081 [--rate 30] [--author 1]

(The test suite's ``tests/bots/telegram/fake_bot_api.py`` checks every call against the Bot
API spec; at 100,000 messages that costs more than the platform under test, so this one
only counts.)"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import heapq
import os
import time

from aiohttp import web

SENDS = frozenset({"sendMessage", "sendPhoto", "editMessageText"})
BOT = {"id": 42, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
# The bot is an admin of every group it is asked about (the school's paid groups).
ADMIN = {"status": "administrator", "user": BOT, "can_be_edited": False, "is_anonymous": False,
         "can_manage_chat": True, "can_delete_messages": True, "can_manage_video_chats": False,
         "can_restrict_members": True, "can_promote_members": False, "can_change_info": False,
         "can_invite_users": True, "can_pin_messages": True, "can_post_stories": False,
         "can_edit_stories": False, "can_delete_stories": False,
         "can_send_welcome_messages": False}
RETRY_AFTER = 1
IDLE = 1.0  # seconds without a student's message: nothing was being sent


class Fake:
    def __init__(self, rate: int, author: int) -> None:
        self.rate = rate
        self.author = author
        self.recent: collections.deque[float] = collections.deque()  # accepted, last second
        self.chat_last: dict[int, float] = {}
        self.got: dict[int, int] = {}  # chat -> messages accepted (students only)
        self.first: float | None = None
        self.steady: float | None = None  # when the first window's messages were all in
        self.accepted = 0
        self.last: float | None = None
        self.idle: list[float] = []  # past the first window, each stretch of IDLE or more
        # Left out of the pace, as the first window is: each idle stretch and the window after
        # it (its messages may come at once, nothing having been sent in the second before).
        self.unpaced_time = 0.0
        self.unpaced = 0  # messages
        self._window: tuple[float, int] | None = None  # (its idle start, messages left)
        # the last ``rate`` messages accepted, the shortest span of so many, the 5 shortest
        # gaps between two (negated, a heap of the largest of them on top)
        self.arrivals: collections.deque[float] = collections.deque(maxlen=rate)
        self.tightest: float | None = None
        self.gaps: list[float] = []
        self.limited = 0  # 429s answered
        self.broken: collections.Counter[str] = collections.Counter()  # which limits
        self.author_texts: list[str] = []
        self.message_id = 0

    def limit(self, chat_id: int, now: float) -> str | None:
        """Which limit would a message to ``chat_id`` now break? (If none, it counts.)"""
        while self.recent and self.recent[0] <= now - 1.0:
            self.recent.popleft()
        if len(self.recent) >= self.rate:
            return "overall"
        if now - self.chat_last.get(chat_id, -9.0) < 1.0:
            return "chat"
        self.recent.append(now)
        self.chat_last[chat_id] = now
        self.note(now)
        return None

    def note(self, now: float) -> None:
        """Keep the shortest span of ``rate`` accepted messages and the shortest gaps."""
        arrivals = self.arrivals
        if arrivals:
            heapq.heappush(self.gaps, -(now - arrivals[-1]))
            if len(self.gaps) > 5:
                heapq.heappop(self.gaps)
        arrivals.append(now)
        if len(arrivals) == self.rate:
            span = now - arrivals[0]
            self.tightest = span if self.tightest is None else min(self.tightest, span)

    async def call(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        now = time.monotonic()
        params = dict(await request.post()) if request.can_read_body else {}
        if method == "getMe":
            return _ok(BOT | {"can_join_groups": True, "can_read_all_group_messages": False,
                              "supports_inline_queries": False})
        if method == "getChatMember":
            return _ok(ADMIN)
        if method == "getUpdates":
            await asyncio.sleep(min(float(params.get("timeout", 0) or 0), 1.0))
            return _ok([])
        if method not in SENDS:
            return _ok(True)
        chat_id = int(str(params.get("chat_id", "0")))
        if broken := self.limit(chat_id, now):
            self.limited += 1
            self.broken[f"{broken} ({method})"] += 1
            return web.json_response({
                "ok": False, "error_code": 429,
                "description": f"Too Many Requests: retry after {RETRY_AFTER}",
                "parameters": {"retry_after": RETRY_AFTER}}, status=429)
        self.message_id += 1
        if chat_id == self.author:
            self.author_texts.append(str(params.get("text", "")))
        else:
            self.got[chat_id] = self.got.get(chat_id, 0) + 1
            self.first = self.first if self.first is not None else now
            if self.steady is not None and self.last is not None and now - self.last >= IDLE:
                self.idle.append(now - self.last)
                self._window = (self.last, self.rate)
            self.last = now
            if self._window is not None:
                start, left = self._window
                self.unpaced += 1
                self._window = (start, left - 1) if left > 1 else None
                if self._window is None:
                    self.unpaced_time += now - start
            self.accepted += 1
            if self.accepted == self.rate + 1:
                self.steady = now  # past the first window, which may come as a burst
        return _ok({"message_id": self.message_id, "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": str(params.get("text", ""))})

    async def stats(self, request: web.Request) -> web.Response:
        counts = collections.Counter(self.got.values())
        return web.json_response({
            "chats": len(self.got), "accepted": sum(self.got.values()),
            "repeated": sum(n - 1 for n in self.got.values() if n > 1),
            "per_chat": {str(k): v for k, v in counts.items()},
            "first": self.first, "steady": self.steady, "last": self.last, "now": time.monotonic(),
            "idle": self.idle, "unpaced": self.unpaced,
            "unpaced_time": self.unpaced_time + (  # a window under way: up to its last
                self.last - self._window[0] if self._window and self.last else 0.0),
            "tightest": self.tightest,
            "gaps": sorted(round(-g * 1000, 1) for g in self.gaps),
            "limited": self.limited, "broken": dict(self.broken), "author": self.author_texts[-3:],
            "author_messages": len(self.author_texts)})


def _ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=int, default=30)
    parser.add_argument("--author", type=int, default=1)
    args = parser.parse_args()
    # Telegram's servers are not starved of CPU by the platform under test: the fake runs
    # ahead of other processes where it may, so that it stamps arrivals when they arrive.
    with contextlib.suppress(OSError):
        os.nice(-15)
    fake = Fake(args.rate, args.author)
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/stats", fake.stats)
    app.router.add_post("/bot{token}/{method}", fake.call)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
