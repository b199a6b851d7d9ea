"""YAML for the school file: safe, exact and with a line number for every problem.

Differences from ``yaml.safe_load``, all to spare the school's staff surprises:

- Decimals stay exact: ``49.90`` becomes ``Decimal("49.90")``, never a float.
- Only ``true``/``false`` are booleans (YAML 1.2): ``no`` is Norwegian, ``yes`` stays text
  (the fields that want a boolean still accept yes/no).
- Dates and times stay text: the loader reads them in the school's time zone.
- Mapping keys are always the text written in the file (``404:`` is ``"404"``).
- A key written twice in one mapping is a problem, not a silent overwrite.
- Aliases that would expand into a huge (or endless) document are refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_NODES = 500_000  # after expanding aliases; a big real school is a few thousand

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[int, int, str]] = []  # line, column, problem

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[str, object]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(
                None, None, f"expected a mapping, but found {node.id}", node.start_mark
            )
        seen: dict[str, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            first = seen.setdefault(key_node.value, key_node.start_mark)
            if first is not key_node.start_mark:
                mark = key_node.start_mark
                self.duplicate_keys.append(
                    (
                        mark.line,
                        mark.column,
                        f"{where(mark)}: duplicate key {key_node.value!r} "
                        f"(first at line {first.line + 1})",
                    )
                )
        self.flatten_mapping(node)  # merge keys (<<: *defaults)
        mapping: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(
                    None,
                    None,
                    "a key must be a plain name, not a list or a mapping",
                    key_node.start_mark,
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_float(self, node: ScalarNode) -> object:  # type: ignore[override]
        text = str(self.construct_scalar(node)).replace("_", "")
        lowered = text.lower()
        if ":" in text or "inf" in lowered or "nan" in lowered:
            return super().construct_yaml_float(node)
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ConstructorError(
                None, None, f"{node.value!r} is not a valid number", node.start_mark
            ) from None


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
_Loader.add_constructor("tag:yaml.org,2002:map", yaml.SafeLoader.construct_yaml_map)


def _guarded(construct):  # type: ignore[no-untyped-def]
    """PyYAML's scalar constructors can fail with plain Python errors on odd input
    (``!!timestamp x``, ``0b_``): turn those into a YAML problem at the value."""

    def guarded(loader: _Loader, node: ScalarNode) -> object:
        try:
            return construct(loader, node)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, ArithmeticError):
            raise ConstructorError(
                None,
                None,
                f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                node.start_mark,
            ) from None

    return guarded


for _tag in ("null", "bool", "int", "float", "binary", "timestamp", "str"):
    _full = f"tag:yaml.org,2002:{_tag}"
    _Loader.add_constructor(_full, _guarded(_Loader.yaml_constructors[_full]))


def where(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _position(text: str, index: int) -> str:
    before = text[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return f"line {line}, column {column}"


def _expanded_size(root: Node) -> int | None:
    """How many nodes the document has once aliases are expanded; None if it is endless."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise _Endless
        visiting.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        visiting.discard(key)
        sizes[key] = total = min(total, MAX_NODES + 1)
        return total

    try:
        return size(root)
    except _Endless:
        return None


class _Endless(Exception):
    """An alias that refers to itself."""


def read_yaml(text: str) -> tuple[object, list[str]]:
    """The document's data and the problems found; data is None if it could not be read."""
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, []
        size = _expanded_size(node)
        if size is None:
            return None, [f"{where(node.start_mark)}: an alias refers to itself (endless data)"]
        if size > MAX_NODES:
            return None, [
                f"{where(node.start_mark)}: the aliases expand into more than "
                f"{MAX_NODES} values; write the data out instead"
            ]
        data = loader.construct_document(node)
        return data, [problem for *_, problem in sorted(loader.duplicate_keys)]
    except yaml.MarkedYAMLError as exc:
        return None, [_marked_problem(exc)]
    except yaml.reader.ReaderError as exc:
        reason = str(exc).splitlines()[0]
        return None, [f"{_position(text, exc.position)}: {reason}"]
    except yaml.YAMLError as exc:
        return None, [f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"]
    except RecursionError:
        return None, ["the file is nested too deeply to be a school file"]
    finally:
        if loader is not None:
            loader.dispose()


def _same(one: yaml.Mark, other: yaml.Mark | None) -> bool:
    return other is not None and (one.line, one.column) == (other.line, other.column)


def _marked_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    prefix = f"{where(mark)}: " if mark else ""
    if exc.context and exc.problem and exc.context_mark and not _same(exc.context_mark, mark):
        problem += f" ({exc.context} at {where(exc.context_mark)})"
    elif exc.context and exc.problem:
        problem += f" ({exc.context})"
    return prefix + problem
