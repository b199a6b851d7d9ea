"""An imported student, as they see the bot: what they had is under "My courses", the lessons
still to open arrive on their schedule, and nothing was sent at the import."""

from __future__ import annotations

from datetime import timedelta

from factories import START

from core.services import importing
from core.services.importing import ImportReport, ImportRow


async def test_an_imported_student_finds_their_access_and_gets_the_next_lesson_on_time(
    harness, clock
):
    rows = [ImportRow(line=2, name="Anna", accounts=(("console", "1001"),),
                      item="python-30", starts_at=START - timedelta(days=2),
                      ends_at=START + timedelta(days=20)),
            ImportRow(line=3, accounts=(("console", "1001"),), item="drawing-course")]
    async with harness.uow_factory() as uow:
        report = ImportReport()
        await importing.import_rows(uow, harness.platform.school(), rows, "import:x.csv",
                                    clock.now(), report)
        await uow.commit()
    assert report.problems == []
    assert await harness.deliver() == 0  # no "paid", no lesson, no group invite

    chat = harness.chat("1001", "Anna")
    await chat.send("/my")
    assert {"Python 30 days — until Mar 22, 2026", "Drawing — forever"} <= set(chat.last.labels)
    await chat.click("Python 30 days")
    opened = chat.last
    assert "Python: Notes" in opened.text  # open already: counted as received before
    assert any("Intro" in label for label in opened.labels)
    assert "Next lesson: “Loops” on Mar 3, 2026 10:00." in opened.text

    clock.advance(timedelta(days=1, hours=1))
    await harness.sweep()
    assert chat.last.text.startswith("📖 A new lesson of “Python” is open: Loops")
