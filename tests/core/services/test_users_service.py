"""Students, their messenger identities and the deep links they arrive with."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.services import users
from core.services.users import DeepLink

# --- DeepLink ----------------------------------------------------------------------------------


def test_plain_payload_is_an_offer_code():
    assert DeepLink.parse("python-life") == DeepLink(offer="python-life")


def test_every_segment_is_read():
    link = DeepLink.parse("o-python-life__src-ig__med-stories__cmp-spring__ref-abc23456")
    assert link == DeepLink(
        offer="python-life",
        utm_source="ig",
        utm_medium="stories",
        utm_campaign="spring",
        referrer="abc23456",
    )


@pytest.mark.parametrize(
    "link",
    [
        DeepLink(),
        DeepLink(offer="python-life"),
        DeepLink(utm_source="ig"),
        DeepLink(referrer="abc23456"),
        DeepLink(offer="python-30", utm_source="ig", utm_medium="reels", utm_campaign="may-sale"),
        DeepLink("club-month", "vk", "post", "spring-2026", "kmnpqrst"),
    ],
)
def test_payload_round_trips(link):
    assert DeepLink.parse(link.payload()) == link


def test_payload_writes_segments_in_a_fixed_order():
    link = DeepLink(offer="python-life", referrer="abc", utm_campaign="spring")
    assert link.payload() == "o-python-life__cmp-spring__ref-abc"


@pytest.mark.parametrize("payload", [None, "", "   ", "____"])
def test_empty_payloads_carry_nothing(payload):
    assert DeepLink.parse(payload) == DeepLink()


def test_empty_segments_are_skipped():
    assert DeepLink.parse("__o-python-life____src-ig__") == DeepLink(
        offer="python-life", utm_source="ig"
    )


def test_the_first_segment_of_a_kind_wins():
    assert DeepLink.parse("o-python-life__o-club-month__src-a__src-b") == DeepLink(
        offer="python-life", utm_source="a"
    )


def test_an_unprefixed_segment_after_others_is_the_offer():
    assert DeepLink.parse("ref-abc__python-30") == DeepLink(offer="python-30", referrer="abc")


def test_a_value_may_contain_dashes():
    assert DeepLink.parse("src-my-blog__o-python-life").utm_source == "my-blog"


def test_surrounding_whitespace_is_ignored():
    assert DeepLink.parse("  python-life \n") == DeepLink(offer="python-life")


def test_values_too_long_for_a_code_are_dropped():
    link = DeepLink.parse("o-" + "x" * 100 + "__src-" + "y" * 64)
    assert link.offer is None
    assert link.utm_source == "y" * 64


def test_payload_past_256_characters_is_ignored():
    head = "o-" + "x" * 60 + "__" + "y" * 188  # 252 characters
    link = DeepLink.parse(head + "__src-late")
    assert link.offer == "x" * 60
    assert link.utm_source is None


def test_junk_payload_does_not_raise_and_sets_no_tags():
    link = DeepLink.parse("<script>alert(1)</script>")
    assert (link.utm_source, link.utm_medium, link.utm_campaign, link.referrer) == (None,) * 4


def test_payload_refuses_a_value_that_could_not_round_trip():
    with pytest.raises(ValueError, match="single '_'"):
        DeepLink(offer="python-life", utm_campaign="spring__sale").payload()
    with pytest.raises(ValueError, match="letters, digits"):
        DeepLink(offer="python life").payload()


def test_payload_refuses_more_than_telegrams_64_characters():
    with pytest.raises(ValueError, match="limit is 64"):
        DeepLink(offer="o" * 30, utm_source="s" * 30, referrer="r" * 10).payload()


# --- resolve -----------------------------------------------------------------------------------


async def test_first_contact_creates_user_and_identity(uow_factory, clock):
    async with uow_factory() as uow:
        user, identity = await users.resolve(uow, clock.now(), "telegram", "42", "Anna", "ru")
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.users.get(user.id)
        stored_identity = await uow.users.identity("telegram", "42")
    assert stored is not None and stored_identity is not None
    assert (stored.name, stored.language, stored.created_at) == ("Anna", "ru", clock.now())
    assert len(stored.referral_code) == 8
    assert stored_identity.id == identity.id
    assert stored_identity.user_id == user.id
    assert (stored_identity.name, stored_identity.reachable) == ("Anna", True)
    assert stored_identity.last_seen_at == clock.now()


async def test_second_contact_finds_the_same_user(uow_factory, clock):
    async with uow_factory() as uow:
        first, first_identity = await users.resolve(uow, clock.now(), "telegram", "42", "Anna")
        await uow.commit()
    async with uow_factory() as uow:
        again, again_identity = await users.resolve(uow, clock.now(), "telegram", "42", "Anna")
        await uow.commit()

    assert (again.id, again_identity.id) == (first.id, first_identity.id)
    async with uow_factory() as uow:
        assert await uow.users.get(first.id + 1) is None
        assert len(await uow.users.identities(first.id)) == 1


async def test_later_contact_updates_language_and_last_seen(uow_factory, clock):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, clock.now(), "telegram", "42", "Anna", "en")
        await uow.commit()
    clock.advance(timedelta(days=3))
    async with uow_factory() as uow:
        await users.resolve(uow, clock.now(), "telegram", "42", "Anna", "de")
        await uow.commit()
    await uow_factory.flush()  # "last seen" is written behind, a few seconds later

    async with uow_factory() as uow:
        assert (await uow.users.get(user.id)).language == "de"
        assert (await uow.users.identity("telegram", "42")).last_seen_at == clock.now()


@pytest.mark.parametrize("language", [None, ""])
async def test_unknown_language_keeps_the_one_we_had(uow_factory, clock, language):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, clock.now(), "telegram", "42", "Anna", "ru")
        await uow.commit()
    async with uow_factory() as uow:
        again, _ = await users.resolve(uow, clock.now(), "telegram", "42", "Anna", language)
        await uow.commit()

    assert again.language == "ru"
    async with uow_factory() as uow:
        assert (await uow.users.get(user.id)).language == "ru"


async def test_new_messenger_name_renames_the_identity_not_the_user(uow_factory, clock):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, clock.now(), "telegram", "42", "Anna")
        await uow.commit()
    async with uow_factory() as uow:
        await users.resolve(uow, clock.now(), "telegram", "42", "Anna K.")
        await uow.commit()

    async with uow_factory() as uow:
        assert (await uow.users.get(user.id)).name == "Anna"
        assert (await uow.users.identity("telegram", "42")).name == "Anna K."


async def test_writing_again_makes_an_unreachable_identity_reachable(uow_factory, clock):
    async with uow_factory() as uow:
        _, identity = await users.resolve(uow, clock.now(), "telegram", "42", "Anna")
        await users.mark_unreachable(uow, identity.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.users.identity_by_id(identity.id)).reachable is False

    async with uow_factory() as uow:
        _, again = await users.resolve(uow, clock.now(), "telegram", "42")
        await uow.commit()

    assert again.reachable is True
    async with uow_factory() as uow:
        assert (await uow.users.identity_by_id(identity.id)).reachable is True


async def test_same_id_in_another_messenger_is_another_user(uow_factory, clock):
    async with uow_factory() as uow:
        in_telegram, _ = await users.resolve(uow, clock.now(), "telegram", "42")
        in_vk, _ = await users.resolve(uow, clock.now(), "vk", "42")
        await uow.commit()
    assert in_telegram.id != in_vk.id
    assert in_telegram.referral_code != in_vk.referral_code


# --- record_deep_link --------------------------------------------------------------------------


async def _student(uow_factory, clock, external_id: str):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, clock.now(), "telegram", external_id)
        await uow.commit()
    return user


async def _record(uow_factory, user, link: DeepLink):
    async with uow_factory() as uow:
        await users.record_deep_link(uow, user, link)
        await uow.commit()
    async with uow_factory() as uow:
        return await uow.users.get(user.id)


async def test_first_link_records_offer_tags_and_referrer(uow_factory, clock):
    friend = await _student(uow_factory, clock, "1")
    anna = await _student(uow_factory, clock, "2")

    stored = await _record(
        uow_factory, anna, DeepLink("python-life", "ig", "stories", "spring", friend.referral_code)
    )

    assert stored.start_offer == "python-life"
    assert (stored.utm_source, stored.utm_medium, stored.utm_campaign) == (
        "ig", "stories", "spring"
    )
    assert stored.referred_by == friend.referral_code


async def test_first_touch_wins(uow_factory, clock):
    first = await _student(uow_factory, clock, "1")
    second = await _student(uow_factory, clock, "2")
    anna = await _student(uow_factory, clock, "3")
    anna = await _record(
        uow_factory, anna, DeepLink("python-life", "ig", "stories", "spring", first.referral_code)
    )

    stored = await _record(
        uow_factory, anna, DeepLink("club-month", "vk", "post", "autumn", second.referral_code)
    )

    assert stored.start_offer == "python-life"
    assert (stored.utm_source, stored.utm_medium, stored.utm_campaign) == (
        "ig", "stories", "spring"
    )
    assert stored.referred_by == first.referral_code


async def test_tags_come_as_a_set_from_the_first_tagged_link(uow_factory, clock):
    anna = await _student(uow_factory, clock, "1")
    anna = await _record(uow_factory, anna, DeepLink(utm_source="ig"))

    stored = await _record(uow_factory, anna, DeepLink(utm_medium="post", utm_campaign="autumn"))

    assert (stored.utm_source, stored.utm_medium, stored.utm_campaign) == ("ig", None, None)


async def test_untagged_first_visit_leaves_room_for_a_later_link(uow_factory, clock):
    anna = await _student(uow_factory, clock, "1")
    anna = await _record(uow_factory, anna, DeepLink())

    stored = await _record(uow_factory, anna, DeepLink(offer="python-30", utm_source="ig"))

    assert (stored.start_offer, stored.utm_source) == ("python-30", "ig")


async def test_self_referral_is_ignored(uow_factory, clock):
    anna = await _student(uow_factory, clock, "1")

    stored = await _record(uow_factory, anna, DeepLink(referrer=anna.referral_code))

    assert stored.referred_by is None


async def test_unknown_referrer_is_ignored(uow_factory, clock):
    anna = await _student(uow_factory, clock, "1")

    stored = await _record(uow_factory, anna, DeepLink(referrer="nobody99"))

    assert stored.referred_by is None


async def test_ignored_referrer_leaves_room_for_a_real_one(uow_factory, clock):
    friend = await _student(uow_factory, clock, "1")
    anna = await _student(uow_factory, clock, "2")
    anna = await _record(uow_factory, anna, DeepLink(referrer="nobody99"))

    stored = await _record(uow_factory, anna, DeepLink(referrer=friend.referral_code))

    assert stored.referred_by == friend.referral_code


async def test_last_seen_is_kept_without_rewriting_the_identity(db_uow_factory, clock):
    async with db_uow_factory() as uow:
        _, first = await users.resolve(uow, clock.now(), "telegram", "42", "Anna")
        await uow.commit()
    clock.advance(timedelta(minutes=2))
    async with db_uow_factory() as uow:
        _, identity = await users.resolve(uow, clock.now(), "telegram", "42", "Anna")
        await uow.rollback()  # last seen is not part of the turn: it stays
    assert identity.last_seen_at == clock.now()
    flush = getattr(db_uow_factory, "flush", None)
    if flush is not None:
        await flush()  # SQL: written behind, a few seconds later
    async with db_uow_factory() as uow:
        stored = await uow.users.identity("telegram", "42")
    assert (stored.id, stored.last_seen_at) == (first.id, clock.now())
