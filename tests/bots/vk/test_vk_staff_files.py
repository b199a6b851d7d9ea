"""On VK, which sends no pictures or files here, ``/stats`` is the figures alone and
``/export`` a signed link that downloads the CSV (the real vk_api against the fake VK API)."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from stats_scene import seed
from vk_harness import VkHarness

from core.staff import Role, StaffRef

OWNER = 700


@pytest.fixture
def school(school):
    return dataclasses.replace(school, staff=(StaffRef("vk", str(OWNER), Role.OWNER),))


@pytest.fixture
async def vk(fake_vk, uow_factory, school, clock):
    async with VkHarness(fake_vk, uow_factory, school, clock) as harness:
        yield harness
    assert fake_vk.violations == []


async def test_stats_is_text_and_export_a_link(vk, school, clock):
    await seed(vk.uow_factory, school, clock)
    owner = vk.fake.user(OWNER, "Olga", "Owner", "en")

    await vk.says(owner, "/stats 7")
    assert vk.fake.last_message(OWNER)["text"].startswith("📊 Last 7 days")
    assert "attachment" not in vk.fake.calls_to("messages.send")[-1].params
    await vk.presses(owner, "30 days")
    assert vk.fake.last_message(OWNER)["text"].startswith("📊 Last 30 days")

    await vk.says(owner, "/export payments")
    link = vk.link(OWNER, "Download")
    async with vk.http.get(vk.url(link)) as response:
        assert response.status == 200
        body = await response.read()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["currency"] for r in rows] == ["EUR", "EUR", "EUR", "EUR", "XTR"]
