"""The command menu a messenger shows, per language."""

from __future__ import annotations

from flows.texts import CATALOGS

COMMANDS = ("start", "courses", "my", "help")


def command_menu() -> dict[str, list[tuple[str, str]]]:
    """language -> [(command, description)], from the bot's own wording."""
    return {
        language: [(command, catalog.TEXTS[f"cmd_{command}"]) for command in COMMANDS]
        for language, catalog in CATALOGS.items()
    }
