"""The student's language comes from the messenger and falls back to the school's default."""

from __future__ import annotations


async def test_russian_student_gets_russian_and_the_schools_own_welcome(harness):
    chat = harness.chat(language="ru-RU")
    await chat.start()
    assert chat.last.text == "Привет из Test School!"
    assert chat.last.labels == ["📚 Курсы", "🎓 Мои курсы", "❓ Помощь", "🔕 Не присылать акции"]
    await chat.click("Курсы")
    assert "Питон навсегда · 49 EUR" in chat.last.labels


async def test_french_student_gets_french_with_french_number_format(harness):
    chat = harness.chat(language="fr")
    await chat.start("python-30")
    assert "Prix : 19,90 EUR" in chat.last.text
    assert "Accès : 30 jours" in chat.last.text


async def test_unknown_language_falls_back_to_the_school_default(harness):
    chat = harness.chat(language="de")
    await chat.start()
    assert chat.last.text.startswith("Welcome to Test School")


async def test_missing_language_falls_back_to_the_school_default(harness):
    chat = harness.chat(language=None)
    await chat.start()
    assert chat.last.text.startswith("Welcome to Test School")


async def test_checkout_page_speaks_the_students_language(harness):
    chat = harness.chat(language="ru")
    await chat.start("python-life")
    await chat.click("Купить")
    status, html = await harness.open_checkout(await chat.click("Оплатить"))
    assert status == 200
    assert "Оплатить 49 EUR" in html and "Питон навсегда" in html
