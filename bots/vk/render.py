"""Screens as VK messages: text plus an inline keyboard of callback and open_link buttons.

VK's inline keyboard holds at most 10 buttons in at most 6 rows of at most 5. Rows longer than
5 wrap; a screen with more than 10 buttons is split over several messages (the text on the
first, a short continuation text on the others): longer lists page; and a message with more
than 6 rows puts neighbouring short rows side by side. Action buttons become callback buttons
whose payload is ``{"a": "<action id>"}``; link buttons become open_link buttons (a link VK
cannot open as a button, say ``tg:``, goes into the text instead)."""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from urllib.parse import urlsplit

from flows.formatting import plain
from flows.ui import Button, Screen

MAX_TEXT = 4096
MAX_LABEL = 40
ROW_BUTTONS = 5
MAX_ROWS = 6
MAX_BUTTONS = 10
CONTINUED = "…"  # the text of the messages that carry the rest of a long list of buttons
NO_KEYBOARD = json.dumps({"inline": True, "buttons": []}, separators=(",", ":"))

VkButton = dict[str, object]
Part = tuple[str, str | None]  # (text, keyboard JSON or None)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _openable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in url


def payload(action: str) -> str:
    return _dumps({"a": action})


def _button(button: Button) -> VkButton:
    label = _clip(button.text.strip() or "•", MAX_LABEL)
    if button.action is not None:
        return {"action": {"type": "callback", "label": label, "payload": payload(button.action)}}
    return {"action": {"type": "open_link", "link": button.url, "label": label}}


def keyboard(rows: list[list[VkButton]]) -> str:
    return _dumps({"inline": True, "buttons": rows})


@functools.lru_cache(maxsize=4096)
def messages(screen: Screen) -> tuple[Part, ...]:
    """The messages that show ``screen``: one, or more when it has over 10 buttons. A
    picture goes as its link under the text (VK attaches only pictures uploaded to it)."""
    shown = plain(screen.text) if screen.html else screen.text  # VK has no formatting
    text = shown if screen.picture is None else f"{shown}\n\n{screen.picture}"
    rows: list[list[VkButton]] = []
    for row in screen.rows:
        keep = []
        for button in row:
            if button.url is not None and not _openable(button.url):
                text += f"\n\n{button.text}: {button.url}"
            else:
                keep.append(_button(button))
        rows += [keep[i:i + ROW_BUTTONS] for i in range(0, len(keep), ROW_BUTTONS)]
    pages: list[list[list[VkButton]]] = []
    page: list[list[VkButton]] = []
    count = 0
    for row in rows:
        if page and count + len(row) > MAX_BUTTONS:
            pages.append(_six_rows(page))
            page, count = [], 0
        page.append(row)
        count += len(row)
    if page:
        pages.append(_six_rows(page))
    text = _clip(text, MAX_TEXT) if text.strip() else CONTINUED
    if not pages:
        return ((text, None),)
    return tuple((text if n == 0 else CONTINUED, keyboard(p)) for n, p in enumerate(pages))


def _six_rows(rows: list[list[VkButton]]) -> list[list[VkButton]]:
    """At most 10 buttons in more than 6 rows: the two neighbouring rows with the fewest
    buttons together go side by side, until 6 rows remain (always possible: 7 rows of at most
    10 buttons have two neighbours with at most 5)."""
    rows = [list(row) for row in rows]
    while len(rows) > MAX_ROWS:
        i = min(range(len(rows) - 1), key=lambda i: len(rows[i]) + len(rows[i + 1]))
        rows[i:i + 2] = [rows[i] + rows[i + 1]]
    return rows


def random_id(key: str | None, part: int = 1) -> int:
    """VK's ``random_id``: VK drops a message whose random_id it saw in the same dialog within
    the last hour. Derived from ``key`` (the same for every attempt to send the same message:
    a retry is never shown twice); part 2, 3... of a split screen use ``key:2``, ``key:3``...
    Random when there is no key. Never 0 (0 turns VK's check off)."""
    if key is None:
        return secrets.randbelow(2**31 - 1) + 1
    if part > 1:
        key = f"{key}:{part}"
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF or 1
