"""The one reader of untrusted JSON bodies: what it refuses, and that it never recurses."""

from __future__ import annotations

import pytest

from bots.json_body import MAX_DEPTH, BadBody, parse_json, parse_json_object


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_an_event_as_deep_as_the_limit_is_read():
    assert parse_json(nested(MAX_DEPTH))
    assert parse_json_object(b'{"a": {"b": [1, {"c": "d"}]}}') == {"a": {"b": [1, {"c": "d"}]}}


@pytest.mark.parametrize("raw", [nested(MAX_DEPTH + 1), nested(1000), nested(200_000),
                                 b'{"a":' * 100_000 + b"1" + b"}" * 100_000])
def test_deeper_nesting_is_refused_without_recursion(raw):
    with pytest.raises(BadBody) as refused:
        parse_json(raw)
    assert refused.value.status == 400


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a": "\xff"}', b"\xc3\x28", b"NaN"])
def test_what_is_not_utf8_json_is_refused(raw):
    with pytest.raises(BadBody):
        parse_json(raw)


@pytest.mark.parametrize("raw", [b"[]", b'"event"', b"42", b"null", b"true"])
def test_an_object_is_required_where_an_event_is_expected(raw):
    with pytest.raises(BadBody, match="not a JSON object"):
        parse_json_object(raw)
