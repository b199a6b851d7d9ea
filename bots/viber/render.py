"""Screens as Viber messages: text plus a rich keyboard of reply and open-url buttons.

Viber cannot edit a message, so every screen is a new message. A button press comes back as
a text message carrying the button's ActionBody: action ids travel with the ACTION prefix, so
a student typing text is never taken for a button."""

from __future__ import annotations

import re
from typing import Any

from flows.formatting import plain
from flows.ui import Button, Screen

ACTION = "act:"  # ActionBody of an action button
MAX_TEXT = 7000
MAX_BUTTON_TEXT = 250
COLUMNS = 6  # a keyboard row is 6 columns wide
MAX_PER_ROW = 3  # wider rows leave labels unreadable on a phone


def opened_link(text: str) -> bool:
    """Viber may echo an open-url button's press as a message holding just its URL."""
    return re.fullmatch(r"https?://\S+", text) is not None


def action_of(text: str) -> str | None:
    """The action id a pressed button sent back, or None for typed text."""
    return text[len(ACTION):] if text.startswith(ACTION) else None


def _button(button: Button, columns: int) -> dict[str, Any]:
    if button.action is not None:
        kind, body = "reply", ACTION + button.action
    else:
        kind, body = "open-url", button.url or ""
    return {
        "Columns": columns, "Rows": 1, "ActionType": kind, "ActionBody": body,
        "Text": button.text[:MAX_BUTTON_TEXT], "TextSize": "regular", "Silent": True,
    }


def keyboard(screen: Screen) -> dict[str, Any] | None:
    buttons: list[dict[str, Any]] = []
    for row in screen.rows:
        for start in range(0, len(row), MAX_PER_ROW):
            part = row[start:start + MAX_PER_ROW]
            buttons += [_button(b, COLUMNS // len(part)) for b in part]
    if not buttons:
        return None
    return {"Type": "keyboard", "DefaultHeight": False, "InputFieldState": "regular",
            "Buttons": buttons}


def message(screen: Screen) -> tuple[str, dict[str, Any] | None]:
    text = plain(screen.text) if screen.html else screen.text  # shown as typed, unformatted
    text = text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
    return text or "…", keyboard(screen)
