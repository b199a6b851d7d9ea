"""OrderedLane: jobs overlap, up to its width, and each key's run in the order given."""

from __future__ import annotations

import asyncio

import pytest

from flows.lanes import OrderedLane


async def test_jobs_overlap_up_to_the_width_and_each_key_keeps_its_order():
    running, most, done = [0], [0], []

    def job(key: str, n: int):
        async def run() -> None:
            running[0] += 1
            most[0] = max(most[0], running[0])
            await asyncio.sleep(0.001 * (5 - n))  # later ones would finish first if let
            done.append((key, n))
            running[0] -= 1
        return run

    async with OrderedLane(4) as lane:
        for n in range(5):
            for key in "abcdefgh":
                await lane.put(key, job(key, n))
    assert most[0] == 4
    for key in "abcdefgh":
        assert [n for k, n in done if k == key] == [0, 1, 2, 3, 4]
    assert len(done) == 40


async def test_a_failing_job_takes_the_lane_down():
    async def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(ExceptionGroup):
        async with OrderedLane(2) as lane:
            await lane.put("a", boom)
            await asyncio.sleep(0.01)
            await lane.put("b", boom)


def test_a_lane_has_a_width():
    with pytest.raises(ValueError, match="at least one"):
        OrderedLane(0)
