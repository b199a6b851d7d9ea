"""``/automations`` as staff use it in the chat (the console messenger, the whole platform, the
fake clock): the list, an automation's screen with where its runs wait, pause and resume
(stored: a new process sees them), starting one by hand for a student, the dry run that
changes nothing, the refusals and tampered buttons, each with its audit line; and the
student card's runs."""

from __future__ import annotations

from datetime import timedelta

from automation_scene import FUNNEL, school_of
from harness import Harness

from core.automations.records import RunStatus
from core.services import tags
from core.staff import AuditResult

GIFT = {"code": "gift", "title": {"en": "A gift"}, "trigger": {"manual": True},
        "steps": [{"grant": "taster"}, {"tag": "gifted"}, {"wait": "P1D"},
                  {"send": {"text": "Day two"}}]}
# Everything a run could change or send, before its first wait: a dry run must do none of it.
BUSY = {"code": "busy", "trigger": {"manual": True},
        "steps": [{"send": {"text": "Hello {name}"}},
                  {"grant": "python-30"},
                  {"tag": "busy"},
                  {"set": {"source": "busy"}},
                  {"webhook": {"url": "https://school.example/hook"}},
                  {"notify_staff": "busy: {name}"},
                  {"if": {"has_access": "python"}, "then": [{"untag": "busy"}],
                   "else": [{"wait": "PT2H"}]},
                  {"ask": {"text": "Email?", "expect": "email", "save_as": "email",
                           "timeout": "P1D"}}]}


def harness(uow_factory, clock, *automations) -> Harness:  # type: ignore[no-untyped-def]
    return Harness(uow_factory, school_of(*automations), clock)


async def _buy(h: Harness, chat, offer: str = "python-life") -> None:  # type: ignore[no-untyped-def]
    await chat.start(offer)
    await chat.click("Buy")
    await h.pay(await chat.click("Pay"))
    await h.sweep()  # the payment's events start runs; their screens are delivered


async def _audit(h: Harness, actor: str) -> list[tuple[str, AuditResult, str]]:
    async with h.uow_factory() as uow:
        entries = await uow.audit.latest(100, actor=actor)
    return [(e.action, e.result, e.detail) for e in reversed(entries)]


async def _runs(h: Harness, code: str) -> list[tuple[int, RunStatus, str]]:
    async with h.uow_factory() as uow:
        found = []
        for user_id in (1, 2, 3, 4, 5):
            found += [(r.user_id, r.status, r.position)
                      for r in await uow.automation_runs.for_user(user_id)
                      if r.automation == code]
    return sorted(found)


async def _tag(h: Harness, user_id: int, tag: str) -> None:
    async with h.uow_factory() as uow:
        await tags.add(uow, user_id, tag, "console:admin", h.clock.now())
        await uow.commit()


async def test_the_list_says_what_starts_each_and_counts_its_runs(uow_factory, clock):
    async with harness(uow_factory, clock, FUNNEL, GIFT) as h:
        await _buy(h, h.chat("1001", "Anna"))
        await _buy(h, h.chat("1002", "Bob"))
        admin = h.chat("admin", "Admin")
        await admin.send("/automations")
        assert admin.last.text == (
            "🤖 Automations (2):\n\n"
            "▶️ Funnel (funnel): any offer is paid. Runs: 0 active, 2 waiting\n"
            "▶️ A gift (gift): staff start it by hand. Runs: 0 active, 0 waiting")
        assert admin.last.labels == ["▶️ Funnel", "▶️ A gift"]
        assert [b.action for b in admin.last.screen.buttons] == ["am:funnel", "am:gift"]
        russian = h.chat("manager", "Max", language="ru")
        await russian.send("/automations")
        assert "▶️ Воронка (funnel): оплачено: любое предложение. Прохождения: идут 0, ждут 2" \
            in russian.last.text
        for staff in ("console:admin", "console:manager"):
            assert await _audit(h, staff) == [
                ("/automations", AuditResult.NOTHING, "listed 2 automations")]


async def test_an_automations_screen_says_where_its_runs_wait_and_when_the_next_is_due(
        uow_factory, clock):
    async with harness(uow_factory, clock, FUNNEL) as h:
        await _buy(h, h.chat("1001", "Anna"))
        clock.advance(timedelta(hours=1))
        await _buy(h, h.chat("1002", "Bob"))
        vera = h.chat("1003", "Vera")
        await vera.start()
        await _tag(h, 3, "vip")
        await _buy(h, vera)  # a VIP: asked at once
        admin = h.chat("admin", "Admin")
        await admin.send("/automations")
        await admin.click("Funnel")
        screen = admin.last
        assert screen.text == (
            "🤖 Funnel (funnel)\n"
            "Starts when: any offer is paid\n"
            "▶️ Running\n"
            "Runs once per student\n"
            "Runs: 0 active, 3 waiting, 0 paused, 0 done, 0 cancelled\n\n"
            "Where the open runs are:\n"
            "• step 1.else.0 — wait 1 day: 2 waiting, next due Mar 3, 2026 10:00\n"
            "• step 2 — question: Yes (unanswered after 2 days: timeout): 1 waiting, "
            "next due Mar 4, 2026 11:00")
        assert screen.labels == ["⏸ Pause", "🧪 Dry run for a student",
                                 "🚀 Start for a student", "🔄 Refresh", "⬅️ All automations"]
        assert len(admin.messages) == 1  # the list became the screen (edited in place)
        await admin.send("/automations funnel")  # the same, typed
        assert admin.last.text == screen.text
        assert [a for a in await _audit(h, "console:admin") if a[0] != "/automations"] == [
            ("automations.open", AuditResult.NOTHING, "opened funnel")]


async def test_pause_stops_runs_where_they_are_and_resume_moves_them_on(uow_factory, clock):
    async with harness(uow_factory, clock, FUNNEL) as h:
        anna = h.chat("1001", "Anna")
        await _buy(h, anna)
        admin = h.chat("admin", "Admin")
        await admin.send("/automations funnel")
        await admin.click("Pause")
        assert admin.last.text.startswith(
            "⏸ Paused: 1 open runs stopped where they are. No new run starts until it is "
            "resumed.\n\n🤖 Funnel (funnel)\n")
        assert "⏸ Paused since Mar 2, 2026 10:00 by console:admin" in admin.last.text
        assert "• step 1.else.0 — wait 1 day: 1 paused" in admin.last.text
        assert admin.last.labels[0] == "▶️ Resume"
        assert await _runs(h, "funnel") == [(1, RunStatus.PAUSED, "1.else.0")]

        clock.advance(timedelta(days=3))  # its wait is over, but it stays
        await h.sweep()
        await _buy(h, h.chat("1002", "Bob"))  # no run starts while paused
        assert await _runs(h, "funnel") == [(1, RunStatus.PAUSED, "1.else.0")]
        assert anna.last.text != "More?"

        # Stored: a new process (another harness on the same database) sees it paused.
        async with harness(uow_factory, clock, FUNNEL) as again:
            olga = again.chat("admin", "Admin")
            await olga.send("/automations")
            assert "⏸ Funnel (funnel)" in olga.last.text
            await olga.send("/automations pause funnel")
            assert olga.last.text.startswith("It was paused already.")

        await admin.click("Resume")
        assert admin.last.text.startswith("▶️ Resumed: 1 runs go on from where they stopped")
        await h.deliver()
        assert anna.last.text == "More?"  # the wait was over: it moved on at once
        assert await _runs(h, "funnel") == [(1, RunStatus.WAITING, "2")]
        await admin.send("/automations resume funnel")
        assert admin.last.text.startswith("It was running already.")
        assert [a for a in await _audit(h, "console:admin") if a[0] != "/automations"
                or "listed" not in a[2]] == [
            ("/automations", AuditResult.NOTHING, "opened funnel"),
            ("automations.pause", AuditResult.DONE, "paused funnel: 1 open runs stopped"),
            ("/automations", AuditResult.NOTHING, "funnel was paused already"),
            ("automations.resume", AuditResult.DONE, "resumed funnel: 1 runs go on"),
            ("/automations", AuditResult.NOTHING, "funnel was running already")]


async def test_staff_start_one_for_a_student_given_as_on_find(uow_factory, clock):
    async with harness(uow_factory, clock, GIFT) as h:
        anna, bob = h.chat("1001", "Anna"), h.chat("1002", "Annabel")
        await anna.start()
        await bob.start()
        admin = h.chat("admin", "Admin")
        await admin.send("/automations gift")
        await admin.click("Start for a student")
        assert admin.last.text.startswith("Start “A gift” for which student?")
        await admin.send("nobody-like-this")
        assert admin.last.text.startswith("Nobody matches “nobody-like-this”")
        await admin.send("console:1001")  # still asked: the account
        assert admin.last.text.startswith(
            "🚀 “A gift” started for Anna (#1): run #1. Its first steps happen now.")
        await h.deliver()
        assert "First lesson" in anna.last.text  # granted, and told like any purchase
        assert await _runs(h, "gift") == [(1, RunStatus.WAITING, "2")]
        async with h.uow_factory() as uow:
            [order] = await uow.orders.for_user(1)
        assert (order.granted_by, order.free) == ("automation:gift", True)

        await admin.send("/automations start gift #1")  # once per student
        assert admin.last.text.startswith(
            "Anna has had a run of “A gift” already, and it runs once per student.")
        await admin.send("/automations start gift Ann")  # two match: pick, dry run, start
        assert admin.last.text == "2 students match “Ann”. Pick one (a dry run first; you " \
                                  "start it from there):"
        assert admin.last.labels == ["#1 Anna", "#2 Annabel", "✖️ Cancel"]
        await admin.click("#2 Annabel")
        assert admin.last.text.startswith("🧪 Dry run of “A gift” for Annabel (#2)")
        await admin.click("Start for Annabel")
        assert admin.last.text.startswith("🚀 “A gift” started for Annabel (#2): run #2.")
        assert await _runs(h, "gift") == [(1, RunStatus.WAITING, "2"),
                                          (2, RunStatus.WAITING, "2")]
        clock.advance(timedelta(days=1))
        await h.sweep()
        assert bob.last.text == "Day two"
        starts = [a for a in await _audit(h, "console:admin") if a[0] == "automations.start"
                  or a[0] == "/automations" and "gift" in a[2]]
        assert starts == [
            ("/automations", AuditResult.NOTHING, "opened gift"),
            ("automations.start", AuditResult.NOTHING, "asked for the student to start gift for"),
            ("automations.start", AuditResult.NOTHING,
             "gift: no student matches 'nobody-like-this'"),
            ("automations.start", AuditResult.DONE, "started gift for #1: run #1"),
            ("/automations", AuditResult.NOTHING, "gift not started for #1: already"),
            ("/automations", AuditResult.NOTHING, "gift: 2 students match 'Ann'"),
            ("automations.start", AuditResult.DONE, "started gift for #2: run #2")]


async def _everything(h: Harness, user_id: int) -> dict[str, object]:
    """All that a run could have changed or sent for the student, and the school's runs."""
    async with h.uow_factory() as uow:
        return {
            "runs": await uow.automation_runs.for_user(user_id),
            "orders": await uow.orders.for_user(user_id),
            "purchases": await uow.purchases.for_user(user_id),
            "tags": [t.tag for t in await uow.tags.of_user(user_id)],
            "fields": await uow.student_fields.of_user(user_id),
            "outbox": [m.kind for m in await uow.outbox.for_user(user_id)],
            "staff_outbox": [m.kind for m in await uow.outbox.for_user(2)],
            "webhooks": [await uow.webhook_calls.for_run(run_id) for run_id in (1, 2, 3)],
            "states": await uow.automation_states.paused(),
        }


async def test_a_dry_run_shows_what_would_happen_now_and_changes_nothing(uow_factory, clock):
    async with harness(uow_factory, clock, BUSY, FUNNEL) as h:
        await h.chat("1001", "Anna").start()
        admin = h.chat("admin", "Admin")
        await admin.send("/start")
        before = await _everything(h, 1)
        await admin.send("/automations busy")
        await admin.click("Dry run")
        assert admin.last.text.startswith("Dry run of “busy” for which student?")
        await admin.send("#1")
        assert admin.last.text == (
            "🧪 Dry run of “busy” for Anna (#1), now. Nothing was sent or changed.\n"
            "It would start now, and these steps would happen:\n"
            "1. message “Hello {name}”\n"
            "2. grant Python 30 days\n"
            "3. add the tag “busy”\n"
            "4. set source\n"
            "5. call https://school.example/hook\n"
            "6. tell the staff\n"
            "7. if the student has access to Python → no\n"
            "8. wait 2 hours → until Mar 2, 2026 12:00\n"
            "Then the run waits.")
        assert admin.last.labels == ["🚀 Start for Anna", "⬅️ busy"]
        await h.sweep()
        assert await _everything(h, 1) == before

        await admin.send("/automations dry funnel #1")  # an offer_paid one, by hand
        assert "1. message “hi”\n2. if the student has the tag “vip” → no\n" \
               "3. wait 1 day → until Mar 3, 2026 10:00" in admin.last.text
        await _tag(h, 1, "vip")
        await admin.send("/automations dry funnel #1")
        assert admin.last.text.endswith(
            "2. if the student has the tag “vip” → yes\n3. add the tag “seen-vip”\n"
            "4. question: Yes (unanswered after 2 days: timeout)\nThen the run waits.")
        await admin.send("/automations pause funnel")
        await admin.send("/automations dry funnel #1")
        assert "It would not start now: the automation is paused." in admin.last.text
        assert admin.last.labels == ["⬅️ funnel"]  # nothing to start
        dry = [a for a in await _audit(h, "console:admin") if a[0] != "/automations"
               or a[2].startswith("dry")]
        assert dry == [
            ("automations.dry_run", AuditResult.NOTHING,
             "asked for the student to dry-run busy for"),
            ("automations.dry_run", AuditResult.NOTHING, "dry run of busy for #1: 8 steps"),
            ("/automations", AuditResult.NOTHING, "dry run of funnel for #1: 3 steps"),
            ("/automations", AuditResult.NOTHING, "dry run of funnel for #1: 4 steps"),
            ("/automations", AuditResult.NOTHING,
             "dry run of funnel for #1: 4 steps, would not start: paused")]


async def test_a_role_without_the_right_and_a_stranger_are_refused_and_audited(
        uow_factory, clock):
    async with harness(uow_factory, clock, FUNNEL) as h:
        helper = h.chat("helper", "Help")  # support: no Right.AUTOMATIONS
        await helper.send("/automations")
        assert helper.last.text.startswith("Your role (support) does not allow")
        await helper.press("amp:funnel", helper.last)
        assert helper.toasts[-1].startswith("Your role (support) does not allow")
        stranger = h.chat("666", "Mallory")
        await stranger.send("/automations pause funnel")
        assert "automations" not in stranger.last.text.lower()
        await stranger.press("amg:funnel:1")
        async with h.uow_factory() as uow:
            assert await uow.automation_states.paused() == set()
            assert await uow.automation_runs.for_user(1) == []
        assert await _audit(h, "console:helper") == [
            ("/automations", AuditResult.REFUSED,
             "role support lacks the right /automations"),
            ("automations.pause", AuditResult.REFUSED,
             "role support lacks the right automations.pause")]
        assert await _audit(h, "console:666") == [
            ("/automations", AuditResult.REFUSED, "not staff"),
            ("automations.start", AuditResult.REFUSED, "not staff")]
        manager = h.chat("manager", "Max")  # a manager has the right
        await manager.send("/automations")
        assert manager.last.text.startswith("🤖 Automations (1)")


async def test_tampered_buttons_change_nothing_and_are_audited(uow_factory, clock):
    async with harness(uow_factory, clock, FUNNEL) as h:
        await h.chat("1001", "Anna").start()
        admin = h.chat("admin", "Admin")
        await admin.send("/automations")
        listing = admin.last
        for tampered in ("amp:nope", "amp:", "amg:funnel:999", "amg:funnel:x",
                         "amx:nope:1", "amg:funnel", "am:FUNNEL"):
            await admin.press(tampered, listing)
            assert admin.last.text == "This button is out of date. Here is the menu.", tampered
        async with h.uow_factory() as uow:
            assert await uow.automation_states.paused() == set()
            assert await uow.automation_runs.for_user(1) == []
        refused = [(a, r) for a, r, d in await _audit(h, "console:admin")
                   if "stale or tampered" in d]
        assert refused == [("automations.pause", AuditResult.NOTHING)] * 2 + [
            ("automations.start", AuditResult.NOTHING)] * 2 + [
            ("automations.dry_run", AuditResult.NOTHING),
            ("automations.start", AuditResult.NOTHING),
            ("automations.open", AuditResult.NOTHING)]
        await admin.send("/automations nope")
        assert admin.last.text.startswith("There is no automation “nope” in the school file.")
        await admin.send("/automations pause")
        assert admin.last.text.startswith("Automations:\n/automations — the list")


async def test_the_student_card_shows_their_runs_and_where_each_is(uow_factory, clock):
    async with harness(uow_factory, clock, FUNNEL, GIFT) as h:
        anna = h.chat("1001", "Anna")
        await _buy(h, anna)
        admin = h.chat("admin", "Admin")
        await admin.send("/automations start gift #1")
        clock.advance(timedelta(days=1))
        await h.sweep()  # the funnel asks; the gift is over
        await admin.send("/find #1")
        section = admin.last.text.split("🤖 Automations:\n")[1].split("\n\n")[0]
        assert section.splitlines() == [
            "• Funnel: question: Yes (unanswered after 2 days: timeout) — waits for a button "
            "answer until Mar 5, 2026 10:00",
            "• A gift — done Mar 3, 2026"]
        assert "First lesson — granted by the automation “A gift” without payment, Mar 2, 2026" \
            in admin.last.text
        assert "First lesson — active since Mar 2, 2026, lifetime · granted by the automation " \
               "“A gift”" in admin.last.text
        await admin.send("/automations pause funnel")
        await admin.send("/find #1")
        assert "• Funnel: question: Yes (unanswered after 2 days: timeout) — paused, waits " \
               "for a button answer until Mar 5, 2026 10:00" in admin.last.text
        russian = h.chat("manager", "Max", language="ru")
        await russian.send("/find #1")
        assert "🤖 Автоматизации:\n• Воронка: вопрос: Yes (без ответа через 2 дня: таймаут) — " \
               "на паузе, ждёт ответа кнопкой до 05.03.2026 10:00" in russian.last.text


async def test_a_student_typed_for_an_automation_gone_from_the_file_ends_the_step(
        uow_factory, clock):
    async with harness(uow_factory, clock, GIFT) as h:
        await h.chat("1001", "Anna").start()
        admin = h.chat("admin", "Admin")
        await admin.send("/automations gift")
        await admin.click("Start for a student")
    async with harness(uow_factory, clock, FUNNEL) as edited:  # the file changed meanwhile
        admin = edited.chat("admin", "Admin")
        await admin.send("#1")
        assert admin.last.text.startswith("There is no automation “gift” in the school file.")
        async with edited.uow_factory() as uow:
            assert await uow.automation_runs.for_user(1) == []
            state = await uow.chat_states.get("console", "admin")
        assert state is not None and state.step == ""
        assert (await _audit(edited, "console:admin"))[-1] == (
            "automations.start", AuditResult.NOTHING, "no automation 'gift' any more")


async def test_the_card_shows_the_open_runs_first_and_counts_those_left_out(uow_factory, clock):
    ping = {"code": "ping", "title": {"en": "Ping"}, "repeatable": True,
            "trigger": {"manual": True}, "steps": [{"send": {"text": "ping"}}]}
    async with harness(uow_factory, clock, ping, GIFT) as h:
        await h.chat("1001", "Anna").start()
        admin = h.chat("admin", "Admin")
        for _ in range(6):
            await admin.send("/automations start ping #1")
            clock.advance(timedelta(minutes=1))
        await admin.send("/automations start gift #1")  # waits a day: open
        await admin.send("/find #1")
        section = admin.last.text.split("🤖 Automations:\n")[1].split("\n\n")[0]
    assert section.splitlines() == [
        "• A gift: wait 1 day — waits until Mar 3, 2026 10:06",
        *["• Ping — done Mar 2, 2026"] * 4,
        "… and 2 more runs"]
