"""Dependencies point one way: bots -> flows -> core <- storage, payments -> core,
web -> bots, payments. Only run.py imports everything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = {"aiogram", "vk_api", "aiohttp", "sqlalchemy", "aiosqlite", "asyncpg", "apscheduler",
           "redis", "alembic"}
FORBIDDEN = {
    "core": OUTSIDE | {"flows", "bots", "storage", "payments", "web", "run", "observability",
                       "prometheus_client"},
    "flows": OUTSIDE | {"bots", "storage", "payments", "web", "run"},
    "storage": {"flows", "bots", "payments", "web", "run", "aiogram", "vk_api", "aiohttp"},
    "payments": {"flows", "bots", "storage", "web", "run", "sqlalchemy"},
    "bots": {"storage", "payments", "web", "run", "sqlalchemy"},
    "web": {"storage", "run", "sqlalchemy"},
    "observability": OUTSIDE | {"core", "flows", "bots", "storage", "payments", "web", "run"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package):
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in imports_of(path)
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert offences == []


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


def test_the_walk_sees_real_imports():
    assert {"aiohttp", "core.ports"} <= imports_of(ROOT / "web" / "gateway_routes.py")
