"""A formatted screen (a broadcast's text as its author wrote it) on each messenger: HTML on
Telegram, plain text on VK and Viber."""

from __future__ import annotations

from bots.telegram import render as telegram
from bots.viber import render as viber
from bots.vk import render as vk
from flows.ui import Button, Screen

FORMATTED = Screen("<b>Big</b> sale &amp; <i>more</i>", ((Button("Go", url="http://10.0.0.1"),),),
                   html=True)


def test_telegram_sends_it_as_html_and_escapes_what_it_adds():
    text, _ = telegram.message(FORMATTED)
    assert telegram.parse_mode(FORMATTED) == "HTML"
    # A link Telegram would refuse as a button goes in the text, escaped like the rest.
    assert text == "<b>Big</b> sale &amp; <i>more</i>\n\nGo: http://10.0.0.1"
    plain = Screen("a <b> c")
    assert telegram.parse_mode(plain) is None and telegram.message(plain)[0] == "a <b> c"


def test_vk_and_viber_show_the_words_without_the_tags():
    [(text, _)] = vk.messages(Screen(FORMATTED.text, html=True, picture="https://x.y/p.png"))
    assert text == "Big sale & more\n\nhttps://x.y/p.png"
    assert viber.message(Screen(FORMATTED.text, html=True))[0] == "Big sale & more"
    assert viber.message(Screen("a <b> c"))[0] == "a <b> c"  # an unformatted screen as it is
