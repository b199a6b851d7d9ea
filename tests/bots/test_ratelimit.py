"""The overall pace of a messenger's sends (``Pacer``), on a clock the test moves."""

from __future__ import annotations

import pytest

from bots.ratelimit import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_sends_are_spread_and_a_window_holds_the_limit():
    clock = Clock()
    pacer = Pacer(4, clock, window=1.0)  # 4 a second, never closer than 0.125 s
    for expected in (100.0, 100.125, 100.25, 100.375):
        assert pacer.next_moment() == expected
        clock.now = expected
        pacer.done(pacer.take())
    assert pacer.next_moment() == 101.0  # the fifth: a second after the first


def test_a_send_counts_from_its_answer_so_a_late_arrival_cannot_crowd_a_window():
    clock = Clock()
    pacer = Pacer(2, clock, window=1.0)
    first = pacer.take()
    clock.now = 100.25
    pacer.done(pacer.take())
    clock.now = 100.4  # the first was held up on its way: answered only now
    pacer.done(first)
    assert pacer.next_moment() == pytest.approx(101.4)


def test_a_slow_answer_counts_at_most_hold_seconds_after_the_send():
    clock = Clock()
    pacer = Pacer(1, clock, window=1.0, hold=0.05)
    sent = pacer.take()
    clock.now = 103.0
    pacer.done(sent)
    assert pacer.next_moment() == 103.0  # from 100.05 + 1: long past


def test_a_send_that_did_not_wait_makes_the_next_ones_wait():
    clock = Clock()
    pacer = Pacer(2, clock, window=1.0)
    pacer.take()  # a reply
    pacer.take()  # another
    assert pacer.next_moment() == 101.0


async def test_waiting_when_the_moment_has_come_takes_the_slot_at_once():
    clock = Clock()
    pacer = Pacer(3, clock)
    await pacer.wait()
    assert pacer.next_moment() > clock.now


def test_a_pace_needs_a_rate():
    with pytest.raises(ValueError, match="at least one send"):
        Pacer(0)
