"""``/metrics``: a purchase driven through the console and the test checkout page, then
in-chat payments, a 429 and the sweeps, each seen by scraping the platform over HTTP."""

from __future__ import annotations

from harness import Harness
from prometheus_client.parser import text_string_to_metric_families

from app.lifecycle import Sweeper
from flows.channel import RetryAfter


async def scrape(harness) -> dict[tuple[str, tuple], float]:
    """Every sample: (name, sorted labels) -> value."""
    async with harness.http.get(harness.server.make_url("/metrics")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def updates(metrics, kind: str) -> float:
    key = ("school_update_seconds_count", (("kind", kind), ("messenger", "console")))
    return metrics.get(key, 0)


async def test_a_purchase_moves_the_counters(harness):
    before = await scrape(harness)
    assert updates(before, "action") == 0
    assert before[("school_outbox_backlog", ())] == 0

    chat = harness.chat()
    await chat.start()
    await chat.click("Courses")
    await chat.click("Python forever")
    await chat.click("Buy for 49 EUR")
    link = await chat.click("Pay 49 EUR")
    forms = await harness.checkout_forms(link)
    status, _ = await harness.submit(forms["pay"], signature="forged")
    assert status == 403
    status, html = await harness.submit(forms["pay"])
    assert status == 200 and 'data-status="paid"' in html

    paid = await scrape(harness)
    assert updates(paid, "action") == 3  # "Pay" is a link: no update
    assert updates(paid, "started") + updates(paid, "text") == 1
    assert paid[("school_payments_total", (("gateway", "test"), ("result", "granted")))] == 1
    assert paid[("school_payments_total", (("gateway", "test"), ("result", "refused")))] == 1
    assert paid[("school_outbox_backlog", ())] == 1  # the confirmation, not sent yet
    le = "+Inf"
    assert paid[("school_update_seconds_bucket",
                 (("kind", "action"), ("le", le), ("messenger", "console")))] == 3
    assert paid[("school_update_seconds_sum",
                 (("kind", "action"), ("messenger", "console")))] > 0

    await harness.deliver()
    sent = await scrape(harness)
    assert sent[("school_outbox_backlog", ())] == 0
    assert sent[("school_outbox_sent_total", (("messenger", "console"),))] == 1
    assert "Payment received!" in chat.last.text


async def test_a_429_is_counted_and_the_message_waits(harness, monkeypatch):
    chat = harness.chat()
    await chat.start("python-life")
    await chat.click("Buy")
    await harness.pay(await chat.click("Pay"))

    async def rate_limited(*args, **kwargs):
        raise RetryAfter(30)

    monkeypatch.setattr(harness.console, "send", rate_limited)
    await harness.deliver()
    metrics = await scrape(harness)
    assert metrics[("school_rate_limited_total", (("messenger", "console"),))] == 1
    assert ("school_outbox_sent_total", (("messenger", "console"),)) not in metrics
    assert metrics[("school_outbox_backlog", ())] == 0  # waiting for its retry time


async def test_in_chat_payments_are_counted_once_per_charge(uow_factory, school, clock):
    async with Harness(uow_factory, school, clock, invoices=frozenset({"XTR"})) as stars:
        chat = stars.chat()
        await chat.start("python-life")
        await chat.click("Buy for 250 ⭐")
        invoice = chat.last.screen.invoice
        for _ in range(2):  # Telegram may deliver the same successful_payment again
            await chat.pay_in_chat(invoice.payload, "XTR", 250, "charge-1")
        metrics = await scrape(stars)
    payments = {labels: value for (name, labels), value in metrics.items()
                if name == "school_payments_total"}
    assert payments == {(("gateway", "telegram"), ("result", "granted")): 1,
                        (("gateway", "telegram"), ("result", "duplicate")): 1}
    assert updates(metrics, "payment") == 2


async def test_sweeps_report_their_durations_and_the_lease(harness):
    sweeper = Sweeper(harness.platform)  # SQLite or memory: one process, always the holder
    await sweeper._sweep("orders")
    await sweeper._sweep("lessons")
    metrics = await scrape(harness)
    assert metrics[("school_sweep_seconds_count", (("sweep", "orders"),))] == 1
    assert metrics[("school_sweep_seconds_count", (("sweep", "lessons"),))] == 1
    assert metrics[("school_scheduler_lease", ())] == 1


async def test_each_platform_counts_only_its_own(uow_factory, school, clock, harness):
    chat = harness.chat()
    await chat.start()
    async with Harness(uow_factory, school, clock) as other:
        assert updates(await scrape(other), "started") + updates(
            await scrape(other), "text") == 0
    assert updates(await scrape(harness), "started") + updates(
        await scrape(harness), "text") == 1
