"""Formatted text: plain text kept as it is, and what formatted text reads as elsewhere."""

from __future__ import annotations

from flows.formatting import escape, plain


def test_plain_text_survives_a_round_trip():
    for text in ("Tom & Jerry <3", "a < b > c", "5 &amp; 6", "«Привет» — \"hi\" 'there'"):
        assert plain(escape(text)) == text


def test_formatting_is_dropped_and_links_keep_their_address():
    assert plain("<b>Big</b> <i>sale</i> &amp; <tg-spoiler>more</tg-spoiler>") == "Big sale & more"
    assert plain('<a href="https://example.com/?a=1&amp;b=2">our <b>site</b></a>') == (
        "our site (https://example.com/?a=1&b=2)")
    assert plain('<a href="https://example.com">https://example.com</a>') == (
        "https://example.com")
    assert plain("<pre>line 1\nline 2</pre>") == "line 1\nline 2"
