"""The command menus a messenger shows: every student's, per language, and a staff member's
own (the students' commands, then what their role may do)."""

from __future__ import annotations

from core.school import School
from core.staff import Role
from flows.channel import MenuCommands
from flows.staff import commands_for
from flows.texts import CATALOGS, Texts

COMMANDS = ("start", "courses", "my", "help")


def command_menu() -> dict[str, MenuCommands]:
    """language -> [(command, description)], from the bot's own wording."""
    return {
        language: [(command, catalog.TEXTS[f"cmd_{command}"]) for command in COMMANDS]
        for language, catalog in CATALOGS.items()
    }


def staff_menu(school: School, role: Role) -> MenuCommands:
    """A staff member's menu in the school's default language (the school's own wording
    where its file gives one): the students' commands, then the role's staff commands."""
    t = Texts(school, school.default_language)
    menu = [(command, t(f"cmd_{command}")) for command in COMMANDS]
    menu += [(c.name, t(f"staffcmd_{c.name}")) for c in commands_for(role)
             if c.name not in COMMANDS]
    return menu
