"""Outbox notices: one typed record per kind, stored as its kind and JSON data as before."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from factories import START

from core import notices


def test_kinds_are_unique_and_listed():
    records = notices.Notice.__subclasses__()
    assert sorted(notices.KINDS) == sorted(r.KIND for r in records)
    assert all(notices.KINDS[r.KIND] is r for r in records)


def test_the_stored_data_is_what_the_call_sites_stored_before():
    paid = notices.OrderPaid(order=3, purchase=4, extended=True, lessons=(("python", "intro"),))
    assert paid.data() == {"order": 3, "purchase": 4, "extended": True,
                           "lessons": [["python", "intro"]]}
    failed = notices.RenewalFailed(purchase=1, order=2, reason="card_declined",
                                   retry_at=START + timedelta(days=1))
    assert failed.data()["retry_at"] == (START + timedelta(days=1)).isoformat()
    reminder = notices.Reminder(purchase=1, days=-3, ends_at=START)
    assert reminder.data() == {"purchase": 1, "days": -3, "ends_at": START.isoformat()}


@pytest.mark.parametrize("record", sorted(notices.KINDS.values(), key=lambda r: r.KIND),
                         ids=lambda r: r.KIND)
def test_every_kind_comes_back_from_its_json(record):
    values = {
        field.name: {"int": 7, "str": "x", "bool": True, "datetime": START,
                     "str | None": "why", "datetime | None": START,
                     "tuple[tuple[str, str], ...]": (("python", "intro"),),
                     "dict[str, str]": {"en": "x", "ru": "y"},
                     "dict[str, str] | None": {"en": "x"},
                     "tuple[dict[str, Any], ...]": ({"answer": "yes", "label": {"en": "Yes"},
                                                     "ask": 1},)}[field.type]
        for field in dataclasses.fields(record)
    }
    notice = record(**values)
    stored = json.loads(json.dumps(notice.data()))
    assert notices.parse(record.KIND, stored) == notice


def test_a_message_recorded_without_its_optional_fields_still_reads():
    assert notices.parse("order_paid", {"order": 1, "purchase": 2}) == notices.OrderPaid(1, 2)
    assert notices.parse("renewal_failed", {"purchase": 1, "order": 2, "reason": None,
                                            "retry_at": None}).retry_at is None


def test_an_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown outbox message kind 'fax'"):
        notices.parse("fax", {})
