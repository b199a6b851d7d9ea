"""A staff member in the sandbox: the stats chart is shown in the page (a data URL in the
message), and an export, which a browser page cannot be sent as a file, comes as a signed
link under the sandbox's own prefix that downloads the CSV."""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
from urllib.parse import urlsplit

import pytest
from harness import sandbox_server

from core.staff import Role, StaffRef
from flows.chart import HEIGHT, WIDTH


@pytest.fixture
async def sandbox(tmp_path, school):
    school = dataclasses.replace(school, staff=(StaffRef("sandbox", "s1", Role.OWNER),))
    async with sandbox_server(tmp_path, school) as (http, _):
        yield http


async def _say(http, text):
    async with http.post("/sandbox/send", json={"student": "s1", "text": text}) as response:
        assert response.status == 200, await response.text()
    async with http.get("/sandbox/history", params={"student": "s1"}) as response:
        return (await response.json())[-1]


async def test_the_chart_is_shown_in_the_page(sandbox):
    shown = await _say(sandbox, "/stats 7")

    assert shown["text"].startswith("📊 Last 7 days")
    prefix = "data:image/png;base64,"
    assert shown["photo"].startswith(prefix) and shown["photo_name"] == "stats-7d.png"
    png = base64.b64decode(shown["photo"][len(prefix):])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (
        WIDTH, HEIGHT)


async def test_an_export_is_a_link_under_the_sandbox(sandbox):
    shown = await _say(sandbox, "/export students")

    [[button]] = shown["rows"]
    path = urlsplit(button["url"]).path
    assert path.startswith("/sandbox/exports/students.")
    async with sandbox.get(path) as response:
        assert response.status == 200
        body = await response.read()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {r["messengers"] for r in rows} >= {"sandbox:s1"}
