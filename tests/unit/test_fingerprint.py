"""Fingerprints of Ometria records and the delta against the ledger."""

from __future__ import annotations

import copy
import json
import re
from collections import OrderedDict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workers.domain.fingerprint import canonical_json, changed, fingerprint
from workers.domain.mapping import MappingContext, map_product


def record(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "@type": "product",
        "id": "7",
        "title": "Jar",
        "price": 10.0,
        "special_price": None,
        "attributes": [{"type": "category", "id": "21", "label": "Kitchen"}],
        "properties": {"Material": "glass"},
        "listings": [{"store": "shop.example.com", "price": 10.0, "is_active": True}],
    }
    fields.update(overrides)
    return fields


def test_fingerprint_is_hex_and_stable_across_calls() -> None:
    fp = fingerprint(record())
    assert fp == fingerprint(record())
    assert re.fullmatch(r"[0-9a-f]{32}", fp)


def test_key_order_does_not_matter_at_any_depth() -> None:
    rec = record()
    reordered = OrderedDict(reversed(list(rec.items())))
    reordered["listings"] = [dict(reversed(list(rec["listings"][0].items())))]
    assert fingerprint(reordered) == fingerprint(rec)


def test_whole_floats_and_ints_fingerprint_the_same() -> None:
    assert fingerprint(record(price=10)) == fingerprint(record(price=10.0))
    nested_int = record(listings=[{"store": "shop.example.com", "price": 10, "is_active": True}])
    assert fingerprint(nested_int) == fingerprint(record())
    assert fingerprint(record(price=0)) == fingerprint(record(price=-0.0))
    assert fingerprint(record(price=10.5)) != fingerprint(record(price=10))


def test_any_visible_change_changes_the_fingerprint() -> None:
    base = fingerprint(record())
    assert fingerprint(record(title="Jar ")) != base
    assert fingerprint(record(special_price=8.0)) != base
    assert fingerprint(record(attributes=[])) != base
    assert fingerprint(record(properties={"Material": "steel"})) != base
    assert fingerprint(record(price=None)) != base
    assert fingerprint(record(price="10")) != base  # a string is not a number
    assert fingerprint(record(special_price=True)) != fingerprint(record(special_price=1))


def test_numbers_inside_strings_are_left_alone() -> None:
    assert fingerprint(record(title="size 10.0")) != fingerprint(record(title="size 10"))


def test_canonical_json_is_compact_sorted_utf8() -> None:
    text = canonical_json({"b": 1.0, "a": ["é", {"d": 2.5, "c": None}]})
    assert text == '{"a":["é",{"c":null,"d":2.5}],"b":1}'


def test_unusual_input_takes_the_general_path() -> None:
    # tuples, non-string keys and float subclasses still fingerprint like their plain equivalents
    class Price(float):
        pass

    assert fingerprint({"id": "1", "p": (Price(3.0), 1)}) == fingerprint({"id": "1", "p": [3, 1]})
    assert fingerprint({"id": "1", 5: "x", "a": 1}) == fingerprint({"id": "1", "5": "x", "a": 1})


def test_fingerprint_does_not_change_the_record() -> None:
    rec = record(price=10.0)
    before = copy.deepcopy(rec)
    fingerprint(rec)
    assert rec == before and isinstance(rec["price"], float)


def test_changed_keeps_only_records_that_differ_from_the_ledger() -> None:
    same, moved, new = record(id="1"), record(id="2", price=12.0), record(id="3")
    ledger = {"1": fingerprint(same), "2": fingerprint(record(id="2")), "9": "stale"}
    result = changed([same, moved, new], ledger)
    assert [(r["id"], fp) for r, fp in result] == [("2", fingerprint(moved)), ("3", fingerprint(new))]
    assert result[0][0] is moved  # the records themselves, ready to push


def test_changed_on_an_unchanged_catalogue_is_empty() -> None:
    ctx = MappingContext(
        currency="GBP", site_url="https://s.example.com", store_id="", category_names={}, brand_names={}
    )
    size = {"id": 1, "label": "S", "option_display_name": "Size"}
    product = {"id": 3, "name": "Jar", "price": 10, "variants": [{"id": 4, "option_values": [size]}]}
    records = map_product(product, ctx)
    ledger = {r["id"]: fp for r, fp in changed(records, {})}
    assert len(ledger) == 2
    # fetched again (as JSON over the wire, so 10.0 may come back as 10): nothing to push
    again = map_product(json.loads(json.dumps(product)), ctx)
    assert changed(again, ledger) == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=10,
)
records = st.dictionaries(st.text(max_size=5), json_values, max_size=6).map(lambda d: {**d, "id": "r"})


def _shuffle_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shuffle_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_shuffle_keys(v) for v in value]
    return value


def _floats_to_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _floats_to_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_to_ints(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@settings(max_examples=60, deadline=None)
@given(records)
def test_property_fingerprint_ignores_key_order_and_whole_float_spelling(rec: dict[str, Any]) -> None:
    fp = fingerprint(rec)
    assert fingerprint(_shuffle_keys(rec)) == fp
    assert fingerprint(_floats_to_ints(rec)) == fp
    assert fingerprint(json.loads(json.dumps(rec))) == fp  # survives a JSON round trip


flat_records = st.dictionaries(
    st.sampled_from(["title", "price", "sku", "is_active"]),
    st.none() | st.booleans() | st.integers(0, 20) | st.floats(0, 20, allow_nan=False) | st.text(max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(flat_records, max_size=6), st.data())
def test_property_changed_is_exactly_the_records_whose_fingerprint_differs(
    recs: list[dict[str, Any]], data: st.DataObject
) -> None:
    for index, rec in enumerate(recs):
        rec["id"] = str(index)
    known = data.draw(st.sets(st.sampled_from([r["id"] for r in recs]) if recs else st.nothing()))
    ledger = {r["id"]: fingerprint(r) for r in recs if r["id"] in known}
    result = changed(recs, ledger)
    assert {r["id"] for r, _ in result} == {r["id"] for r in recs} - known
    assert all(fp == fingerprint(r) for r, fp in result)
