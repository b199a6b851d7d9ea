"""Reading the school file: YAML -> per-item pydantic models -> cross-checks -> ``School``.

Every problem found anywhere is collected; nothing is built unless there are none. Each item
of each section is validated on its own, so one broken offer does not hide the problems of
the others, and references to an item that exists but is broken are not reported twice.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import SchoolFileError
from core.school import School
from core.school_file.automation_checks import AutomationChecks
from core.school_file.automation_items import AutomationItem
from core.school_file.crossref import Checks, Entry, build_school, vat_codes_without_receipts
from core.school_file.fields import (
    Context,
    KnownMessengers,
    Loc,
    Problems,
    as_text,
    describe,
    parse_currency,
    parse_language,
    parse_timezone,
)
from core.school_file.models import (
    CourseItem,
    GroupItem,
    OfferItem,
    ProductItem,
    PromoItem,
    SchoolSection,
)
from core.school_file.yaml_reader import read_yaml

SECTIONS = ("school", "texts", "courses", "groups", "products", "offers", "promo_codes",
            "automations")
MAX_FILE_BYTES = 5_000_000

M = TypeVar("M", bound=BaseModel)
_SECTION_ITEM = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")


# ---- entry points ----------------------------------------------------------------------------


def load_school(path: str | Path, messengers: KnownMessengers | None = None) -> School:
    """Read and check the school file at ``path``; raise ``SchoolFileError`` with every problem.
    ``messengers``: those the platform has, with whether their user ids are numbers."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SchoolFileError(
                [f"{path}: the file is {size} bytes; a school file is at most {MAX_FILE_BYTES}"]
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SchoolFileError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise SchoolFileError([f"{path}: is a directory, not a school file"]) from None
    except OSError as exc:
        raise SchoolFileError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    return parse_school(raw, str(path), messengers)


def parse_school(text: str | bytes, source: str = "<school>",
                 messengers: KnownMessengers | None = None) -> School:
    """Check the school file's text; raise ``SchoolFileError`` with every problem found.

    ``source`` names the file in problems about the whole file (empty, not a mapping ...).
    """
    try:
        if isinstance(text, bytes):
            text = _decode(text, source)
        if not isinstance(text, str):
            raise SchoolFileError([f"{source}: expected the text of a school file"])
        return _parse(text, source, messengers)
    except SchoolFileError:
        raise
    except Exception as exc:  # a bug of ours must still not look like a traceback to the user
        raise SchoolFileError(
            [f"{source}: unexpected error while reading the school file: {exc!r}"]
        ) from exc


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchoolFileError(
            [
                f"{source}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}); "
                "save the file as UTF-8"
            ]
        ) from None


# ---- problems ----------------------------------------------------------------------------------


def path_of(loc: Loc) -> str:
    """``("offers", 2, "price")`` -> ``offers[2].price``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def problem(loc: Loc, message: str) -> str:
    path = path_of(loc)
    return f"{path}: {message}" if path else message


_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (name: value)",
    "model_type": "a mapping (name: value)",
    "model_attributes_type": "a mapping (name: value)",
}


def _friendly(error: Mapping[str, object]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    assert isinstance(ctx, dict)
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, but {describe(error.get('input'))}"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"needs at least {minimum} items"
    if kind == "int_parsing_size":
        return "is too large"
    message = str(error.get("msg", "is not valid"))
    return message[:1].lower() + message[1:]


def translate(exc: ValidationError, prefix: Loc) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = prefix + tuple(error["loc"])
        found = (error.get("ctx") or {}).get("error")
        if isinstance(found, Problems):
            lines.extend(problem(loc + sub, message) for sub, message in found.items)
        else:
            lines.append(problem(loc, _friendly(error)))
    return lines


# ---- sections ----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, document: dict[str, object], problems: list[str],
                 messengers: KnownMessengers | None = None) -> None:
        self.document = document
        self.problems = problems
        self.context = _context(document.get("school"), messengers)
        self.broken: set[str] = set()

    def validate(self, model: type[M], data: object, loc: Loc) -> M | None:
        try:
            return model.model_validate(data, context=self.context)
        except ValidationError as exc:
            self.problems.extend(translate(exc, loc))
            return None

    def section(self, name: str, model: type[M], upper: bool = False) -> list[Entry[M]]:
        data = self.document.get(name)
        if data is None:
            return []
        if not isinstance(data, list):
            self.problems.append(f"{name}: must be a list, but {describe(data)}")
            self.broken.add(name)
            return []
        entries = []
        for index, raw in enumerate(data):
            code = _raw_code(raw)
            if code is not None and upper:
                code = code.upper()
            entries.append(Entry(index, code, self.validate(model, raw, (name, index))))
        self.duplicates(name, entries)
        return entries

    def duplicates(self, name: str, entries: list[Entry[M]]) -> None:
        first: dict[str, int] = {}
        for entry in entries:
            if entry.code is None:
                continue
            if entry.code in first:
                self.problems.append(
                    f"{name}[{entry.index}].code: duplicate code {entry.code!r}, "
                    f"already used by {name}[{first[entry.code]}]"
                )
            else:
                first[entry.code] = entry.index

    def texts(self) -> dict[str, MappingProxyType[str, str]]:
        data = self.document.get("texts")
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.problems.append(
                f"texts: must be a mapping of language: {{key: text}}, but {describe(data)}"
            )
            return {}
        result = {}
        for language, entries in data.items():
            try:
                parse_language(language)
            except ValueError as exc:
                self.problems.append(f"texts.{language}: {exc}")
                continue
            if entries is None:
                continue
            if not isinstance(entries, dict):
                self.problems.append(
                    f"texts.{language}: must be a mapping of key: text, but {describe(entries)}"
                )
                continue
            own = {}
            for key, value in entries.items():
                try:
                    own[key] = as_text(value)
                except ValueError as exc:
                    self.problems.append(f"texts.{language}.{key}: {exc}")
            result[language] = MappingProxyType(own)
        return result


def _file_order(line: str) -> tuple[int, int]:
    """Sort problems roughly as they appear in the file: section, then item."""
    match = _SECTION_ITEM.match(line.partition(":")[0])
    if not match or match.group(1) not in SECTIONS:
        return (-1, 0)  # YAML problems and unknown sections first
    return (SECTIONS.index(match.group(1)), int(match.group(2) or -1))


def _context(school: object, messengers: KnownMessengers | None) -> Context:
    """The school's language, zone and currency for the other sections, where they are valid."""
    if not isinstance(school, dict):
        return Context(messengers=messengers)

    def attempt(parse, key: str):  # type: ignore[no-untyped-def]
        try:
            return parse(school.get(key))
        except ValueError:
            return None

    return Context(
        default_language=attempt(parse_language, "default_language"),
        timezone=attempt(parse_timezone, "timezone"),
        currency=attempt(parse_currency, "currency"),
        messengers=messengers,
    )


def _raw_code(raw: object) -> str | None:
    if not isinstance(raw, dict):
        return None
    code = raw.get("code")
    if isinstance(code, bool) or not isinstance(code, str | int | Decimal):
        return None
    return str(code).strip() or None


# ---- the whole file ----------------------------------------------------------------------------


def _parse(text: str, source: str, messengers: KnownMessengers | None) -> School:
    document, problems = read_yaml(text)
    if document is None and problems:
        raise SchoolFileError(problems)
    if document is None or document == "":
        raise SchoolFileError([f"{source}: the file is empty; it needs at least a school: section"])
    if not isinstance(document, dict):
        raise SchoolFileError(
            [
                f"{source}: the top level must be a mapping with sections such as school:, "
                f"courses: and offers:, but {describe(document)}"
            ]
        )
    for key in document:
        if key not in SECTIONS:
            problems.append(f"{key}: unknown section (known: {', '.join(SECTIONS)})")

    reader = _Reader(document, problems, messengers)
    if "school" not in document:
        problems.append("school: required")
        school = None
    else:
        school = reader.validate(SchoolSection, document["school"], ("school",))
    texts = reader.texts()
    courses = reader.section("courses", CourseItem)
    groups = reader.section("groups", GroupItem)
    products = reader.section("products", ProductItem)
    offers = reader.section("offers", OfferItem)
    promos = reader.section("promo_codes", PromoItem, upper=True)
    automations = reader.section("automations", AutomationItem)

    checks = Checks(
        reader.context, courses, groups, products, offers, promos, frozenset(reader.broken)
    )
    problems.extend(checks.run())
    automation_checks = AutomationChecks(checks, automations, texts, frozenset(reader.broken))
    problems.extend(automation_checks.run())
    if school is not None:
        problems.extend(vat_codes_without_receipts(school, offers))
    problems.sort(key=_file_order)
    if problems or school is None:
        raise SchoolFileError(problems or ["school: required"])
    return dataclasses.replace(build_school(school, texts, checks),
                               automations=MappingProxyType(automation_checks.built))
