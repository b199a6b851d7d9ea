"""The staff's look-ups (``students``) and notes (``notes``) on every backend: names in any
alphabet ignoring case, LIKE's wildcards taken literally, usernames ignoring case, merged
students left out, and notes following a student whose accounts are linked."""

from __future__ import annotations

from storage_helpers import T0

from core.models import Identity, User
from core.staff import StaffNote


async def _student(uow, name, messenger="telegram", external_id="1", identity_name="",
                   username=None):
    user = await uow.users.add(User(created_at=T0, name=name))
    await uow.users.add_identity(Identity(user_id=user.id, messenger=messenger,
                                          external_id=external_id, name=identity_name,
                                          username=username))
    return user


async def test_names_match_a_part_in_any_alphabet_ignoring_case(uow_factory):
    async with uow_factory() as uow:
        anna = await _student(uow, "Анна Ёлкина", external_id="1")
        boris = await _student(uow, "Boris", external_id="2", identity_name="Élodie Ström")
        await _student(uow, "100% Real_Name", external_id="3")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.students.named("ёлк", 10) == ([anna], 1)
        assert await uow.students.named("АННА", 10) == ([anna], 1)
        assert await uow.students.named("élodie", 10) == ([boris], 1)  # the messenger's name
        assert await uow.students.named("STRÖM", 10) == ([boris], 1)
        assert (await uow.students.named("0%", 10))[1] == 1
        assert (await uow.students.named("%", 10))[1] == 1  # a literal percent sign
        assert (await uow.students.named("l_n", 10))[1] == 1
        assert (await uow.students.named("r_a", 10))[1] == 0  # "_" is no wildcard
        found, total = await uow.students.named("e", 1)  # counts all, returns the limit
        assert (found, total) == ([boris], 2)


async def test_merged_students_are_not_found(uow_factory):
    async with uow_factory() as uow:
        kept = await _student(uow, "Anna", external_id="1")
        gone = await _student(uow, "Anna", messenger="vk", external_id="1")
        await uow.notes.add(StaffNote(user_id=gone.id, author="console:admin", text="vip",
                                      created_at=T0))
        await uow.users.merge(gone.id, kept.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.students.named("anna", 10) == ([kept], 1)
        found = await uow.students.with_external_id("1")
        assert [(i.messenger, i.user_id) for i in found] == [("telegram", kept.id),
                                                              ("vk", kept.id)]
        [note] = await uow.notes.for_user(kept.id, 10)
        assert note.text == "vip" and await uow.notes.count(gone.id) == 0


async def test_usernames_match_ignoring_case(uow_factory):
    async with uow_factory() as uow:
        anna = await _student(uow, "Anna", username="Anna_K")
        await _student(uow, "Nobody", external_id="2")
        await uow.commit()
    async with uow_factory() as uow:
        [identity] = await uow.students.with_username("anna_k")
        assert identity.user_id == anna.id and identity.username == "Anna_K"
        assert await uow.students.with_username("anna") == []


async def test_notes_newest_first_with_their_author(uow_factory):
    async with uow_factory() as uow:
        user = await _student(uow, "Anna")
        for number in range(5):
            await uow.notes.add(StaffNote(user_id=user.id, author=f"console:{number}",
                                          text=f"note {number}", created_at=T0))
        await uow.commit()
    async with uow_factory() as uow:
        latest = await uow.notes.for_user(user.id, 2)
        assert [(n.author, n.text) for n in latest] == [("console:4", "note 4"),
                                                        ("console:3", "note 3")]
        assert await uow.notes.count(user.id) == 5


async def test_contacts_are_searched_where_the_schema_keeps_them(uow_factory):
    async with uow_factory() as uow:
        found = await uow.students.with_contact("anna@example.com")
    assert found == ([] if hasattr(User(), "receipt_contact") else None)
