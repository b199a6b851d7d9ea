"""Every method of a cached repository says what it does to the row cache
(``storage.cache.CACHED``): a write method added without a declaration would leave the cache
showing rows the database no longer holds."""

from __future__ import annotations

import inspect

import pytest

from storage.cache import CACHED, CACHED_REPOSITORIES, ByHand
from storage.repositories import SqlPurchases
from storage.uow import REPOSITORIES


def _methods(repository: type) -> set[str]:
    return {name for name, member in inspect.getmembers(repository)
            if not name.startswith("_") and inspect.iscoroutinefunction(member)}


def undeclared(repositories: dict[str, type], declared: dict[str, dict]) -> list[str]:
    """``repository.method`` of each cached repository's method that is not declared."""
    return sorted(f"{name}.{method}" for name in declared
                  for method in _methods(repositories[name]) - set(declared[name]))


def test_every_method_of_a_cached_repository_is_declared():
    assert undeclared(REPOSITORIES, CACHED) == []


def test_a_new_write_method_left_undeclared_is_caught():
    class Purchases(SqlPurchases):
        async def cancel_all(self, user_id: int) -> None:
            """A write the cache would not know about."""

    repositories = REPOSITORIES | {"purchases": Purchases}
    assert undeclared(repositories, CACHED) == ["purchases.cancel_all"]


def test_declarations_name_only_methods_that_exist():
    for name, rules in CACHED.items():
        assert set(rules) <= _methods(REPOSITORIES[name]), name


def test_methods_written_by_hand_are_written():
    for name, rules in CACHED.items():
        for method, rule in rules.items():
            if isinstance(rule, ByHand):
                assert method in vars(CACHED_REPOSITORIES[name]), f"{name}.{method}"


def test_keys_are_built_from_the_arguments_the_method_takes():
    for name, rules in CACHED.items():
        for method, rule in rules.items():
            key = getattr(rule, "key", None)
            if key is None:
                continue
            taken = inspect.signature(getattr(REPOSITORIES[name], method)).parameters
            assert len(inspect.signature(key).parameters) == len(taken) - 1, f"{name}.{method}"


async def test_an_undeclared_method_is_not_forwarded(uow_factory):
    async with uow_factory() as uow:
        with pytest.raises(AttributeError, match="not declared"):
            await uow.purchases.cancel_all(1)
