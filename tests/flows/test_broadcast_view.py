"""The author's progress message says what is left, and how long, only once it is known."""

import pytest
from automation_scene import school_of

from core.broadcasts import Broadcast, BroadcastStatus, Progress
from flows.broadcast_view import progress_screen
from flows.texts import Texts

SENDING = Broadcast(id=7, status=BroadcastStatus.SENDING)


def _text(progress: Progress, seconds_left: float | None, language: str = "en") -> str:
    return progress_screen(SENDING, progress, Texts(school_of(), language), seconds_left).text


def test_before_the_first_messages_the_time_left_is_not_guessed():
    assert _text(Progress(total=300), None).splitlines()[-1] == (
        "Remaining 300; the time left shows after the first messages")


def test_while_sending_the_time_left_is_shown():
    assert _text(Progress(total=300, sent=60), 8.2).splitlines()[-1] == (
        "Remaining 240, about 8 s left")


def test_when_nothing_is_left_no_line_says_so():
    text = _text(Progress(total=3, sent=2, unreachable=1), 0.0)
    assert text.splitlines()[-1] == "Sent 2 of 3 · failed 0 · unreachable 1 · skipped 0"


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_every_language_fills_every_placeholder(language):
    for left in (None, 75.0):
        text = _text(Progress(total=300, sent=60), left, language)
        assert "{" not in text and "240" in text
