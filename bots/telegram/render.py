"""Screens as Telegram messages: text plus an inline keyboard, or an invoice."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from urllib.parse import urlsplit

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice

from flows.formatting import escape
from flows.ui import Button, Screen

MAX_TEXT = 4096
MAX_CAPTION = 1024  # a photo's or document's caption
def _public(url: str) -> bool:
    """Telegram refuses link buttons to addresses that are not public web (or tg:) links;
    such links go in the text."""
    parts = urlsplit(url)
    if parts.scheme == "tg":
        return True
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or "." not in host:
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True  # a domain name


def _button(button: Button) -> InlineKeyboardButton:
    if button.action is not None:
        return InlineKeyboardButton(text=button.text, callback_data=button.action)
    return InlineKeyboardButton(text=button.text, url=button.url)


# A school shows a few hundred distinct screens: building their keyboards (pydantic models)
# once each, not at every press. aiogram only reads them.
@functools.lru_cache(maxsize=4096)
def message(screen: Screen) -> tuple[str, InlineKeyboardMarkup | None]:
    text = screen.text
    rows = []
    for row in screen.rows:
        keep = []
        for button in row:
            if button.url is not None and not _public(button.url):
                line = f"\n\n{button.text}: {button.url}"
                text += escape(line) if screen.html else line
            else:
                keep.append(_button(button))
        if keep:
            rows.append(keep)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return text, InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def parse_mode(screen: Screen) -> str | None:
    """Formatted screens are sent as HTML; the others as they are (``<`` shows as ``<``)."""
    return "HTML" if screen.html else None


def invoice_keyboard(screen: Screen) -> InlineKeyboardMarkup:
    """Telegram's pay button first (it must be), then the screen's other buttons; the link
    to the checkout page the invoice replaces is left out."""
    assert screen.invoice is not None
    rows = [[InlineKeyboardButton(text=screen.invoice.label, pay=True)]]
    for row in screen.rows:
        keep = [_button(b) for b in row if not b.pays and (b.url is None or _public(b.url))]
        if keep:
            rows.append(keep)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def prices(screen: Screen) -> list[LabeledPrice]:
    assert screen.invoice is not None
    return [LabeledPrice(label=screen.invoice.title, amount=screen.invoice.amount)]


def with_link_to_pay(screen: Screen, link: str) -> Screen:
    """The screen with Telegram's invoice link as its first button, in place of the
    checkout page's."""
    assert screen.invoice is not None
    rows = tuple(row for row in (tuple(b for b in r if not b.pays) for r in screen.rows) if row)
    pay = (Button(screen.invoice.label, url=link),)
    return dataclasses.replace(screen, rows=(pay, *rows), invoice=None)
