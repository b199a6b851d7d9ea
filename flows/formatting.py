"""Formatted text: the HTML subset Telegram reads (``<b>``, ``<i>``, ``<u>``, ``<s>``,
``<a href>``, ``<code>``, ``<pre>``, ``<blockquote>``, ``<tg-spoiler>``). A screen marked
``html`` is shown formatted where the messenger formats and as plain text elsewhere."""

from __future__ import annotations

import html
import re

_LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.S | re.I)
_TAG = re.compile(r"<[^>]*>")


def escape(text: str) -> str:
    """Plain text as formatted text that shows it as it is."""
    return html.escape(text, quote=False)


def plain(formatted: str) -> str:
    """What formatted text reads as without its formatting; a link keeps its address."""

    def link(match: re.Match[str]) -> str:
        address, label = html.unescape(match.group(1)), match.group(2)
        shown = plain(label)
        return shown if shown == address else f"{shown} ({address})"

    return html.unescape(_TAG.sub("", _LINK.sub(link, formatted)))
