"""Who may be in a paid group, on every storage backend."""

from __future__ import annotations

from datetime import timedelta

from factories import START, make_school

from core.models import MemberStatus
from core.services import access, checkout, groups, payments, users
from core.services.payments import PaymentNotice


async def _student_with_club(uow_factory, school, now, external_id="42"):
    async with uow_factory() as uow:
        user, _ = await users.resolve(uow, now, "telegram", external_id, "Anna", "en")
        order = (await checkout.place_order(uow, school, now, user, "python-30")).order
        await payments.confirm(uow, school, PaymentNotice(
            "test", f"p{external_id}", order.token, order.amount, order.currency), now)
        await uow.commit()
    return user


async def test_membership_follows_access(db_uow_factory):
    school, now = make_school(), START
    club = school.groups["club"]
    await _student_with_club(db_uow_factory, school, now)
    async with db_uow_factory() as uow:
        buyer = await groups.joined(uow, school, club, "42", "Anna", "member", None, False, now)
        stranger = await groups.joined(uow, school, club, "66", "Eve", "member", None, False,
                                       now)
        await uow.commit()
    assert (buyer.remove, stranger.remove) == (False, True)

    later = now + timedelta(days=31)
    async with db_uow_factory() as uow:
        [purchase] = await uow.purchases.due_expiry(later, 10)
        assert await access.expire(uow, purchase, later)
        due = await groups.due_removals(uow, school, later)
        assert sorted(m.external_id for m in due) == ["42", "66"]
        for member in due:
            await groups.removed(uow, member, later)
        await uow.commit()
    async with db_uow_factory() as uow:
        member = await uow.memberships.get(club.chat_id, "42")
        assert member.status is MemberStatus.REMOVED and member.check_at is None
        assert await groups.due_removals(uow, school, later) == []


async def test_a_failed_removal_is_due_again_later(db_uow_factory):
    school, now = make_school(), START
    club = school.groups["club"]
    async with db_uow_factory() as uow:
        await groups.joined(uow, school, club, "66", "Eve", "member", None, False, now)
        [member] = await groups.due_removals(uow, school, now)
        await groups.removal_failed(uow, member, now)
        await uow.commit()
    async with db_uow_factory() as uow:
        assert await groups.due_removals(uow, school, now + timedelta(seconds=30)) == []
        [again] = await groups.due_removals(uow, school, now + timedelta(minutes=3))
        assert again.attempts == 1


async def test_members_from_before_the_bot_wait_for_enforcement(db_uow_factory):
    school, now = make_school(), START
    club = school.groups["club"]
    await _student_with_club(db_uow_factory, school, now, "42")
    async with db_uow_factory() as uow:
        assert await groups.import_members(uow, club, ["42", "43", "44", "43"], now) == 3
        assert await groups.import_members(uow, club, ["43"], now) == 0
        assert await groups.due_removals(uow, school, now) == []  # nothing enforced yet
        report = await groups.without_access(uow, school, club, now)
        assert sorted(m.external_id for m in report) == ["43", "44"]
        assert await groups.enforce(uow, club, now) == 3
        due = await groups.due_removals(uow, school, now)
        assert sorted(m.external_id for m in due) == ["43", "44"]
        await uow.commit()


async def test_a_personal_link_is_kept_and_replaced(db_uow_factory):
    school, now = make_school(), START
    user = await _student_with_club(db_uow_factory, school, now)
    async with db_uow_factory() as uow:
        purchase = await groups.link_for(uow, school, user.id, "club", now)
        assert groups.link_expiry(purchase, now) == now + groups.LINK_LIFETIME
        assert await groups.record_link(uow, purchase, "club", "https://t.me/+a",
                                        now + timedelta(days=7), now) == []
        [older] = await groups.record_link(uow, purchase, "club", "https://t.me/+b",
                                           now + timedelta(days=7), now)
        assert older.url == "https://t.me/+a"
        [open_link] = await uow.invite_links.open_for(purchase.id, "club")
        assert open_link.url == "https://t.me/+b"
        await uow.commit()


async def test_members_seen_without_rights_are_looked_at_once_the_rights_are_back(
        db_uow_factory):
    school, now = make_school(), START
    club = school.groups["club"]
    await _student_with_club(db_uow_factory, school, now)
    async with db_uow_factory() as uow:
        await groups.import_members(uow, club, ["10"], now, source="seen")  # before the bot
        await groups.joined(uow, school, club, "77", "Gone", "member", None, False, now)
        [gone] = await groups.due_removals(uow, school, now)
        await groups.removed(uow, gone, now)
        for account, name in (("42", "Anna"), ("66", "Eve"), ("77", "Gone")):
            assert await groups.seen_without_rights(uow, club, account, name, now)
        assert not await groups.seen_without_rights(uow, club, "10", "Early", now)
        await uow.commit()

    async with db_uow_factory() as uow:
        seen, strangers = await groups.rights_back(uow, school, club, now)
        await uow.commit()
    assert sorted(m.external_id for m in seen) == ["42", "66", "77"]
    assert sorted((m.external_id, m.name) for m in strangers) == [("66", "Eve"), ("77", "Gone")]
    async with db_uow_factory() as uow:
        assert (await uow.memberships.get(club.chat_id, "10")).enforced is False
        assert (await uow.memberships.get(club.chat_id, "66")).enforced is True
        assert await groups.rights_back(uow, school, club, now) == ([], [])
        # not removed by the caller (a crash, say): the sweep takes them later
        assert await groups.due_removals(uow, school, now) == []
        later = await groups.due_removals(uow, school, now + groups.MAX_RETRY)
        assert sorted(m.external_id for m in later) == ["66", "77"]


# --- what a status change means, and who is spared ---------------------------------------------


def test_a_status_change_is_classified():
    until = START + timedelta(days=30)
    assert groups.change("left", "member", None) is groups.Change.JOINED
    assert groups.change("", "administrator", None) is groups.Change.JOINED
    assert groups.change("member", "member", until) is groups.Change.RENEWED
    assert groups.change("member", "kicked", None) is groups.Change.LEFT
    assert groups.change("member", "seen", None) is groups.Change.SEEN
    assert groups.change("member", "restricted", None) is groups.Change.NONE


def test_only_members_still_in_and_not_the_chats_administrators_must_go():
    assert [s for s in ("member", "restricted", "left", "kicked", "administrator", "creator")
            if groups.must_go(s)] == ["member", "restricted"]


async def test_a_member_gone_already_is_recorded_as_left_and_an_administrator_stays(
        db_uow_factory):
    school, now = make_school(), START
    club = school.groups["club"]
    async with db_uow_factory() as uow:
        for who in ("66", "77"):
            await groups.joined(uow, school, club, who, "", "member", None, False, now)
        for member in await groups.due_removals(uow, school, now):
            status = {"66": "left", "77": "administrator"}[member.external_id]
            await groups.spared(uow, club, member, status, now)
        await uow.commit()
    async with db_uow_factory() as uow:
        gone, staff = [await uow.memberships.get(club.chat_id, who) for who in ("66", "77")]
        assert gone.status is MemberStatus.LEFT and staff.status is MemberStatus.MEMBER
        assert await groups.due_removals(uow, school, now) == []


async def test_a_removed_student_is_told_only_when_asked(db_uow_factory):
    school, now = make_school(), START
    club = school.groups["club"]
    student = await _student_with_club(db_uow_factory, school, now)
    async with db_uow_factory() as uow:
        await groups.joined(uow, school, club, "42", "Anna", "member", None, False, now)
        await groups.joined(uow, school, club, "66", "Eve", "member", None, False, now)
        await uow.commit()
    async with db_uow_factory() as uow:
        anna = await uow.memberships.get(club.chat_id, "42")
        eve = await uow.memberships.get(club.chat_id, "66")
        await groups.removed(uow, anna, now, notify=True)
        await groups.removed(uow, eve, now, notify=True)  # not a student: nobody to tell
        await uow.commit()
    async with db_uow_factory() as uow:
        told = [(m.kind, m.data) for m in await uow.outbox.for_user(student.id)
                if m.kind == "group_removed"]
    assert told == [("group_removed", {"group": "club"})]


def test_the_bot_acts_only_as_an_administrator_with_every_right():
    assert not groups.lacks_rights("administrator", ())
    assert groups.lacks_rights("administrator", ("can_restrict_members",))
    assert groups.lacks_rights("member", ())
