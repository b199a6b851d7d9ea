"""The Bot API spec (``shared/telegram-bot-api.json``), indexed once at import, and the checks
the fake Bot API makes of every call against it.

Where the spec lives: ``$TELEGRAM_BOT_API_SPEC``, else ``telegram-bot-api.json`` beside this
file, else ``../shared/telegram-bot-api.json`` next to the repository (as on CI).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent


def _spec_candidates() -> list[Path]:
    env = os.environ.get("TELEGRAM_BOT_API_SPEC")
    found = [Path(env)] if env else []
    found.append(_HERE / "telegram-bot-api.json")
    found.append(_HERE.parents[2].parent / "shared" / "telegram-bot-api.json")
    return found


def _load_spec_json() -> dict[str, Any]:
    for path in _spec_candidates():
        if path.is_file():
            with path.open(encoding="utf-8") as f:
                return json.load(f)
    tried = ", ".join(str(p) for p in _spec_candidates())
    raise FileNotFoundError(
        f"Bot API spec not found (tried {tried}); set TELEGRAM_BOT_API_SPEC to its path"
    )


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a method; ``kind`` says how a form value is decoded."""

    name: str
    types: tuple[str, ...]
    required: bool
    kind: str  # int | str | bool | float | chat (Integer or String) | file | json


@dataclass(frozen=True, slots=True)
class MethodSpec:
    name: str
    params: dict[str, Param]
    required: tuple[str, ...]
    returns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TypeSpec:
    name: str
    fields: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    subtypes: tuple[str, ...]
    # ("type", "chat") for BotCommandScopeChat: the field and value telling the subtype apart
    discriminator: tuple[str, str] | None


# Parameters the docs dropped but the real server still accepts (aiogram still offers them).
LEGACY_PARAMS = {
    "reply_parameters": {
        "reply_to_message_id": ("Integer",),
        "allow_sending_without_reply": ("Boolean",),
    },
    "link_preview_options": {"disable_web_page_preview": ("Boolean",)},
}

_PRIMITIVE = {"Integer", "String", "Boolean", "Float", "True", "InputFile"}
_DISCRIMINATOR_FIELDS = ("type", "status", "source")
_DISCRIMINATOR_RE = re.compile(r'(?:must be|always) "?([a-z_]+)"?')


def _param_kind(types: tuple[str, ...]) -> str:
    if types == ("Integer",):
        return "int"
    if types == ("String",):
        return "str"
    if types in (("Boolean",), ("True",)):
        return "bool"
    if types == ("Float",):
        return "float"
    if types == ("Integer", "String"):
        return "chat"
    if "InputFile" in types:
        return "file"
    return "json"


class BotApiSpec:
    """Methods and types of the Bot API, indexed for cheap checks."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.version: str = raw.get("version", "?")
        self.methods: dict[str, MethodSpec] = {}
        for name, m in raw["methods"].items():
            params = {}
            for f in m.get("fields", []):
                types = tuple(f["types"])
                params[f["name"]] = Param(f["name"], types, bool(f["required"]), _param_kind(types))
            for successor, legacy in LEGACY_PARAMS.items():
                if successor in params:
                    for old, types in legacy.items():
                        params[old] = Param(old, types, False, _param_kind(types))
            required = tuple(p.name for p in params.values() if p.required)
            self.methods[name] = MethodSpec(name, params, required, tuple(m.get("returns", ())))
        # Method names are case-insensitive in the Bot API.
        self.by_lower: dict[str, str] = {name.lower(): name for name in self.methods}
        self.types: dict[str, TypeSpec] = {}
        for name, t in raw["types"].items():
            fields = {f["name"]: tuple(f["types"]) for f in t.get("fields", [])}
            required = tuple(f["name"] for f in t.get("fields", []) if f["required"])
            self.types[name] = TypeSpec(
                name, fields, required, tuple(t.get("subtypes", ())), self._discriminator(t)
            )
        self.update_types: tuple[str, ...] = tuple(
            f for f in self.types["Update"].fields if f != "update_id"
        )

    @staticmethod
    def _discriminator(t: Mapping[str, Any]) -> tuple[str, str] | None:
        for f in t.get("fields", []):
            if f["name"] in _DISCRIMINATOR_FIELDS:
                match = _DISCRIMINATOR_RE.search(f.get("description", ""))
                if match:
                    return f["name"], match.group(1)
        return None

    # ---------------------------------------------------------------- checking values

    def check(self, type_expr: str, value: Any, path: str) -> str | None:
        """An error text when ``value`` (decoded JSON) is not a ``type_expr``; None when it is."""
        if type_expr.startswith("Array of "):
            if not isinstance(value, list):
                return f'field "{path}" must be of type Array'
            inner = type_expr[9:]
            for i, item in enumerate(value):
                error = self.check(inner, item, f"{path}[{i}]")
                if error:
                    return error
            return None
        if type_expr in _PRIMITIVE:
            return _check_primitive(type_expr, value, path)
        spec = self.types.get(type_expr)
        if spec is None:
            return None
        if spec.subtypes:
            return self.check_union(spec.subtypes, value, path)
        if not spec.fields:
            return None
        if not isinstance(value, dict):
            return f'field "{path}" must be of type Object'
        if spec.discriminator:
            key, expected = spec.discriminator
            if value.get(key) != expected:
                return f'field "{path}.{key}" must be "{expected}" for {spec.name}'
        for key in value:
            if key not in spec.fields:
                return f'field "{path}.{key}" is not a field of {spec.name}'
        for key in spec.required:
            if key not in value:
                return f'field "{path}.{key}" is required in {spec.name}'
        for key, item in value.items():
            error = self.check_union(spec.fields[key], item, f"{path}.{key}")
            if error:
                return error
        return None

    def check_union(self, types: Iterable[str], value: Any, path: str) -> str | None:
        types = tuple(types)
        if len(types) == 1:
            return self.check(types[0], value, path)
        # Pick the member the value says it is (by discriminator or by its required fields).
        if isinstance(value, dict):
            tags = [self.types[t].discriminator if t in self.types else None for t in types]
            for t, tag in zip(types, tags, strict=True):
                if tag and value.get(tag[0]) == tag[1]:
                    return self.check(t, value, path)
            if all(tags) and len({tag[0] for tag in tags}) == 1:  # type: ignore[index]
                key = tags[0][0]  # type: ignore[index]
                allowed = ", ".join(f'"{tag[1]}"' for tag in tags)  # type: ignore[index]
                return f'field "{path}.{key}" must be one of {allowed}'
            for t in types:
                spec = self.types.get(t)
                if spec and spec.required and all(k in value for k in spec.required):
                    return self.check(t, value, path)
        first_error = None
        for t in types:
            error = self.check(t, value, path)
            if error is None:
                return None
            first_error = first_error or error
        return first_error

    # ---------------------------------------------------------------- building objects

    def default_object(self, type_name: str, **values: Any) -> dict[str, Any]:
        """An object of ``type_name`` with every required field filled (False, 0, "" or a
        default object), then ``values`` laid over it."""
        spec = self.types[type_name]
        obj: dict[str, Any] = {}
        for key in spec.required:
            if key in values:
                continue
            types = spec.fields[key]
            if spec.discriminator and key == spec.discriminator[0]:
                obj[key] = spec.discriminator[1]
            else:
                obj[key] = self._default_value(types[0])
        obj.update(values)
        return obj

    def _default_value(self, type_expr: str) -> Any:
        if type_expr.startswith("Array of "):
            return []
        return {
            "Integer": 0,
            "Float": 0.0,
            "String": "",
            "Boolean": False,
            "True": True,
        }.get(type_expr) if type_expr in _PRIMITIVE else self.default_object(type_expr)


def _check_primitive(type_name: str, value: Any, path: str) -> str | None:
    ok = True
    if type_name == "Integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _INT_RE.fullmatch(value) is not None
        )
    elif type_name == "Float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif type_name == "String" or type_name == "InputFile":
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
    elif type_name == "Boolean":
        ok = isinstance(value, bool)
    elif type_name == "True":
        ok = value is True
    return None if ok else f'field "{path}" must be of type {type_name}'


_INT_RE = re.compile(r"[+-]?\d{1,19}")
_TRUE = {"true", "1", "True", "TRUE"}
_FALSE = {"false", "0", "False", "FALSE"}


def _decode_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise ValueError


def _decode_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in _TRUE or value == 1:
        return True
    if value in _FALSE or value == 0:
        return False
    raise ValueError


def _decode_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    return float(value)


def _decode_chat(value: Any) -> int | str:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value) if _INT_RE.fullmatch(value.strip()) else value
    raise ValueError


def _decode_json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


def _decode_str(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError


_DECODERS = {
    "int": _decode_int,
    "bool": _decode_bool,
    "float": _decode_float,
    "chat": _decode_chat,
    "json": _decode_json,
    "str": _decode_str,
    "file": lambda v: v,
}
_KIND_NAMES = {"int": "Integer", "bool": "Boolean", "float": "Float", "chat": "Integer or String",
               "str": "String"}


def decode_params(
    spec: BotApiSpec, method: MethodSpec, raw: Mapping[str, Any], *, validate: bool
) -> tuple[dict[str, Any], list[str]]:
    """Decode form values (strings, JSON for objects and arrays) by the spec's types.

    Returns the decoded parameters (undecodable values are kept as sent) and, when
    ``validate``, the list of violations found (descriptions without "Bad Request: ")."""
    params: dict[str, Any] = {}
    errors: list[str] = []
    fields = method.params
    for name, value in raw.items():
        p = fields.get(name)
        if p is None:
            params[name] = value
            if validate:
                errors.append(f'unknown parameter "{name}" for method {method.name}')
            continue
        try:
            decoded = _DECODERS[p.kind](value)
        except (ValueError, TypeError):
            params[name] = value
            if p.kind == "json":
                errors.append(f"can't parse {name} JSON object")
            elif validate:
                errors.append(f'parameter "{name}" must be of type {_KIND_NAMES[p.kind]}')
            continue
        params[name] = decoded
        if validate and p.kind == "json":
            error = spec.check_union(p.types, decoded, name)
            if error:
                errors.append(f"can't parse {name}: {error}")
    if validate:
        for name in method.required:
            if name not in params:
                errors.append(f'parameter "{name}" is required')
    return params, errors


SPEC = BotApiSpec(_load_spec_json())
