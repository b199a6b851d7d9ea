"""What a student reads: the demo school's and the built-in wording in English, Russian and
French — no word said twice, help that names the buttons as they are, a free order that
does not speak of payment, Stars shown as stars, a paid group that is not silently missing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from factories import START, make_school
from harness import Harness

from core.clock import FakeClock
from core.school_file import load_school

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ["en", "ru", "fr"]
QUOTED = re.compile(r"“([^”]+)”|«\s*([^»]+?)\s*»")


def _demo_school():
    return load_school(ROOT / "school.example.yaml")


@pytest.fixture
async def demo(uow_factory):
    """The demo school (school.example.yaml), as the sandbox runs it."""
    async with Harness(uow_factory, _demo_school(), FakeClock(START)) as h:
        yield h


@pytest.fixture
async def stars(uow_factory, school, clock):
    async with Harness(uow_factory, school, clock, invoices=frozenset({"XTR"})) as h:
        yield h


async def _buy(harness, chat, offer: str) -> None:
    await chat.start(offer)
    await chat.click("💳")
    await harness.pay(await chat.click("💳"))
    await harness.deliver()


def _bare(label: str) -> str:
    """A button's label without its leading emoji."""
    return label.split(" ", 1)[1] if not label[0].isalnum() else label


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_lifetime_purchase_says_forever_once(demo, language):
    chat = demo.chat(language=language)
    await _buy(demo, chat, "python-lifetime")
    await chat.click("🎓")
    [line] = [label for label in chat.last.labels if "Python" in label]
    forever = {"en": "forever", "ru": "навсегда", "fr": "à vie"}[language]
    assert line.count(forever) == 1, line


async def test_a_lifetime_title_without_the_word_still_says_forever(harness):
    chat = harness.chat()
    await _buy(harness, chat, "secret")  # "Secret drawing", bought for good
    await chat.click("My courses")
    assert "Secret drawing — forever" in chat.last.labels


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("make_school", [_demo_school, make_school], ids=["demo", "built-in"])
async def test_help_names_the_buttons_as_they_are_and_the_support_contact_once(
        make_school, language, uow_factory):
    school = make_school()
    async with Harness(uow_factory, school, FakeClock(START)) as harness:
        chat = harness.chat(language=language)
        await chat.start()
        menu = {_bare(label) for label in chat.last.labels}
        await chat.send("/help")
    help_text = chat.last.text
    support = school.support
    assert help_text.count(support) == 1, help_text
    named = [a or b for a, b in QUOTED.findall(help_text)]
    assert named, help_text
    assert set(named) <= menu, f"{named} are not all among {menu}"


async def test_a_schools_own_help_that_names_the_contact_does_not_get_it_twice(
        uow_factory, clock):
    school = make_school(texts={"en": {"help": "Stuck? Ask @help, we answer within a day."}})
    async with Harness(uow_factory, school, clock) as harness:
        chat = harness.chat()
        await chat.send("/help")
    assert chat.last.text == "Stuck? Ask @help, we answer within a day."


@pytest.mark.parametrize(("language", "said", "unsaid"), [
    ("en", "without payment", "Payment received"),
    ("ru", "без оплаты", "Оплата получена"),
    ("fr", "sans paiement", "Paiement reçu"),
])
async def test_a_free_order_says_it_was_activated_without_payment(demo, language, said, unsaid):
    chat = demo.chat(language=language)
    await chat.start("python-lifetime")
    await chat.click("🎟")
    await chat.send("FREEPASS")
    assert {"en": "free instead of", "ru": "бесплатно вместо", "fr": "gratuit au lieu de"}[
        language] in chat.last.text
    free = [label for label in chat.last.labels if "🎁" in label]
    assert len(free) == 1 and not any("💳" in label for label in chat.last.labels)
    await chat.click("🎁")
    await demo.deliver()
    texts = [m.text for m in chat.messages]
    assert not any(unsaid in text for text in texts)
    # (the demo school's welcome automation follows it)
    [paid] = [m for m in chat.messages if said in m.text]
    assert "▶️" in " ".join(paid.labels)  # the first lesson, open now


async def test_a_free_order_in_a_chat_that_takes_stars_has_one_button_and_no_zero_price(stars):
    chat = stars.chat()
    await chat.start("python-life")
    await chat.click("promo code")
    await chat.send("FREE")
    labels = chat.last.labels
    assert not any(re.search(r"\b0 (⭐|XTR|EUR)", label) for label in labels), labels
    assert [label for label in labels if "Buy" in label or "free" in label] == ["🎁 Get it free"]
    await chat.click("Get it free")
    assert chat.last.screen.invoice is None
    await stars.deliver()
    assert "Access activated without payment" in chat.last.text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_price_in_stars_shows_the_star(demo, language):
    chat = demo.chat(language=language)
    await chat.start()
    await chat.click("📚")
    assert any(label.endswith("· 500 ⭐") for label in chat.last.labels), chat.last.labels
    await chat.start("club-monthly-stars")
    assert "500 ⭐" in chat.last.text and "XTR" not in chat.last.text
    assert not any("XTR" in label for label in chat.last.labels)


@pytest.mark.parametrize(("language", "group", "where"), [
    ("en", "Pixel Club", "Telegram"),
    ("ru", "Клуб Pixel", "Telegram"),
    ("fr", "Club Pixel", "Telegram"),
])
async def test_a_bundles_paid_group_shows_where_no_messenger_can_let_the_student_in(
        demo, language, group, where):
    """The sandbox and the console have no Telegram: nobody can make an invite link, but the
    student still sees that the group is theirs and where it is joined."""
    chat = demo.chat(language=language)
    await _buy(demo, chat, "drawing-club-30d")
    confirmation = chat.last.text
    assert group in confirmation.split("\n", 1)[1] and where in confirmation
    await chat.click("🎓")
    await chat.click("+")
    assert group in chat.last.text.split("\n", 1)[1] and where in chat.last.text
