"""Dependencies point one way (docs/DESIGN.md): bots -> flows -> core <- storage,
payments -> core (its ports and models only), web -> bots, payments (and core's ports); only
app/ (and run.py, the entry point calling it) imports everything. Core names no messenger."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"core", "flows", "bots", "storage", "payments", "web", "observability", "app", "run"}
OUTSIDE = {"aiogram", "vk_api", "aiohttp", "sqlalchemy", "aiosqlite", "asyncpg", "apscheduler",
           "redis", "alembic", "prometheus_client"}
MESSENGERS = {"telegram", "vk", "viber"}

# What each package may import of the project (besides itself); prefixes of dotted names.
ALLOWED = {
    "core": set(),
    "flows": {"core", "observability"},
    "bots": {"flows"},
    "storage": {"core"},
    "payments": {"core.ports", "core.models"},
    "web": {"core.ports", "core.models", "bots", "payments", "observability"},
    "observability": set(),
}
# Outside libraries a package must not import.
FORBIDDEN_LIBRARIES = {
    "core": OUTSIDE,
    "flows": OUTSIDE,
    "bots": {"sqlalchemy", "aiosqlite", "asyncpg", "alembic", "apscheduler"},
    "storage": {"aiogram", "vk_api", "aiohttp"},
    "payments": {"sqlalchemy", "aiosqlite", "asyncpg", "alembic", "aiogram", "vk_api"},
    "web": {"sqlalchemy", "aiosqlite", "asyncpg", "alembic"},
    "observability": OUTSIDE - {"prometheus_client"},
}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function (``from core import
    jobs`` imports core.jobs; ``from core.models import Payment``, core.models)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = {f"{node.module}.{alias.name}" for alias in node.names}
            found = {name for name in modules if _is_module(name)}
            names |= found if found == modules else found | {node.module}
    return names


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _allowed(package: str, name: str) -> bool:
    top = name.split(".")[0]
    if top not in PROJECT or top == package:
        return top not in FORBIDDEN_LIBRARIES[package]
    return any(name == prefix or name.startswith(prefix + ".") for prefix in ALLOWED[package])


def offences_in(package: str) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in sorted(imports_of(path))
        if not _allowed(package, name)
    ]


# Left for now, each an import that breaks the rule and is to go: the sandbox page moves its
# own clock and reads the school (it is the sandbox messenger's page more than web's), and
# Deps names the School it hands to the health and index pages.
KNOWN = {
    "web": {
        "web/deps.py imports core.school",
        "web/sandbox.py imports core.clock",
        "web/sandbox.py imports core.periods",
        "web/sandbox.py imports core.school",
    },
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_allows(package):
    offences = set(offences_in(package))
    assert offences - KNOWN.get(package, set()) == set()


@pytest.mark.parametrize("package", sorted(KNOWN))
def test_the_known_offences_are_still_there(package):
    """Once one is fixed, take it off KNOWN, so it cannot come back."""
    assert KNOWN[package] <= set(offences_in(package))


GATEWAY_NEUTRAL = {"payments.registry"}  # the list, no gateway


def _gateway_imports_in_web() -> set[str]:
    return {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules("web")
        for name in imports_of(path)
        if name.startswith("payments.") and name not in GATEWAY_NEUTRAL
    }


def test_web_knows_no_concrete_gateway():
    assert _gateway_imports_in_web() == set()


def test_messenger_adapters_never_import_each_other():
    adapters = [p.name for p in (ROOT / "bots").iterdir() if p.is_dir() and p.name != "__pycache__"]
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for adapter in adapters
        for path in _modules(f"bots/{adapter}")
        for name in imports_of(path)
        if name.startswith("bots.") and name.split(".")[1] in set(adapters) - {adapter}
    ]
    assert offences == []


def messenger_names_in(path: Path) -> list[str]:
    """String constants in code that are a messenger's name (docstrings are prose, not code)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} names {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and id(node) not in docstrings
        and isinstance(node.value, str) and node.value.lower() in MESSENGERS
    ]


# Left for now: paid groups are Telegram's, said once in ``groups.MESSENGER`` (the school
# file's groups could carry their messenger once the registry passes it in, and the purchase
# expiry that looks at groups would need the school).
KNOWN_NAMES = {
    "core/services/groups.py",
}


def test_core_names_no_messenger():
    offences = [
        offence
        for path in _modules("core")
        if str(path.relative_to(ROOT)) not in KNOWN_NAMES
        for offence in messenger_names_in(path)
    ]
    assert offences == []


def test_the_walk_sees_real_imports():
    assert {"aiohttp", "core.ports"} <= imports_of(ROOT / "web" / "gateway_routes.py")
    assert "core.jobs" in imports_of(ROOT / "tests" / "core" / "services" / "test_core_jobs.py")


def test_the_walk_sees_a_messenger_named_in_code(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    module = tmp_path / "sample.py"
    module.write_text('"""Sends to Telegram."""\nHOST = "telegram"\n', encoding="utf-8")
    assert messenger_names_in(module) == ["sample.py:2 names 'telegram'"]
