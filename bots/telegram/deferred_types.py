"""Importing aiogram without building all of its pydantic models at once.

aiogram declares its ~400 Telegram types with pydantic's ``defer_build``, then builds every one
of them at import anyway: ``aiogram/types/__init__.py`` ends with ``model_rebuild`` for each, to
resolve the forward references its modules import only for type checkers; and its ~170 methods
are built as they are declared. That takes seconds and over 100 MB, and a bot uses a few dozen
of the types and a dozen methods. Here the import leaves every aiogram model unbuilt and
records the namespace the types' rebuild was given; pydantic then builds a model on first use,
and its ``model_rebuild`` is given that same namespace, so the model is the one aiogram would
have built (a test compares all of them)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

try:  # pydantic's internals: a release without them gets aiogram's own eager import
    from pydantic._internal import _mock_val_ser, _model_construction

    DEFERRABLE = callable(getattr(_model_construction, "complete_model_class", None)) and \
        callable(getattr(_mock_val_ser, "set_model_mocks", None))
except ImportError:
    DEFERRABLE = False


def import_aiogram() -> None:
    """Import aiogram with its types' builds deferred; nothing to do once it is imported."""
    if "aiogram" in sys.modules:
        return
    if not DEFERRABLE:
        import aiogram.types  # noqa: F401  (slower, but the same models)

        return
    pending: dict[type[BaseModel], Mapping[str, Any]] = {}
    rebuild = BaseModel.__dict__["model_rebuild"]

    def record(cls: type[BaseModel], *, force: bool = False, raise_errors: bool = True,
               _parent_namespace_depth: int = 2,
               _types_namespace: Mapping[str, Any] | None = None) -> bool | None:
        deferred = cls.model_config.get("defer_build") and cls.__module__.startswith("aiogram.")
        if deferred and _types_namespace is not None and not force:
            pending[cls] = _types_namespace
            return None
        return rebuild.__func__(cls, force=force, raise_errors=raise_errors,
                                _parent_namespace_depth=_parent_namespace_depth + 1,
                                _types_namespace=_types_namespace)

    complete = _model_construction.complete_model_class
    unbuilt: list[type[BaseModel]] = []

    def complete_later(cls: type[BaseModel], *args: Any, **kwargs: Any) -> bool:
        # The methods are built as they are declared (they do not defer): they wait too.
        if cls.__module__.startswith("aiogram."):
            _mock_val_ser.set_model_mocks(cls)
            unbuilt.append(cls)
            return False
        return complete(cls, *args, **kwargs)

    BaseModel.model_rebuild = classmethod(record)  # type: ignore[method-assign, assignment]
    _model_construction.complete_model_class = complete_later
    try:
        import aiogram.types
        from aiogram.methods.base import Response, TelegramMethod
        from aiogram.types.base import TelegramObject
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
        _model_construction.complete_model_class = complete
    # An aiogram that no longer rebuilds its types at import: their package's names will do.
    namespace = dict(next(iter(pending.values()))) if pending else vars(aiogram.types)

    def build(cls: type[BaseModel], *, force: bool = False, raise_errors: bool = True,
              _parent_namespace_depth: int = 2,
              _types_namespace: Mapping[str, Any] | None = None) -> bool | None:
        # Pydantic's first-use build would look the names up in its caller's frame instead.
        return rebuild.__func__(cls, force=force, raise_errors=raise_errors,
                                _types_namespace=namespace if _types_namespace is None
                                else _types_namespace)

    # The methods refer to the types too, and so does Response[...], parametrized with a type
    # at the first call returning one.
    for model in {TelegramObject, TelegramMethod, Response, *unbuilt}:
        model.model_rebuild = classmethod(build)  # type: ignore[method-assign, assignment]
    Response.__pydantic_parent_namespace__ = namespace
