"""Canonical JSON is RFC 8785 exactly, and hashes ignore key order and YAML/JSON form."""

from __future__ import annotations

import json
import random

import pytest
import rfc8785
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_screening.document.canonical import NotCanonical, canonical_hash, canonical_json
from recovery_screening.document.reader import parse_document_bytes

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150)
@given(json_values)
def test_canonical_json_is_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, UnicodeError):
        with pytest.raises(NotCanonical):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [1.0, -0.0, 1e-5, 1e-4, 0.1, 1e16, 1e21, 123456.789, 2**53 - 1, '\u2028\x01\x7f"\\', "é😀",
     2.0**53, 2.0**53 + 2, -(2.0**53), 9.999999999999998e15],
)  # fmt: skip
def test_numbers_and_unicode_match_the_reference(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_values_outside_json_are_refused_without_the_value() -> None:
    with pytest.raises(NotCanonical) as error:
        canonical_json({"x": 2**60})
    assert str(2**60) not in str(error.value)
    with pytest.raises(NotCanonical):
        canonical_json(float("nan"))


@settings(max_examples=50)
@given(st.dictionaries(st.text(min_size=1), scalars.filter(lambda v: v != -0.0), max_size=8))
def test_hash_ignores_key_order(document: dict[str, object]) -> None:
    items = list(document.items())
    random.Random(len(items)).shuffle(items)
    assert canonical_hash(dict(items)) == canonical_hash(document)


plain = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
)
documents = st.dictionaries(
    st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
    plain
    | st.lists(plain, max_size=3)
    | st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), plain, max_size=3),
    max_size=6,
)


@settings(max_examples=50)
@given(documents, st.booleans())
def test_yaml_and_json_forms_have_one_hash(document: dict[str, object], sort: bool) -> None:
    as_json = json.dumps(document, ensure_ascii=False).encode()
    as_yaml = (
        "# a comment\n" + yaml.safe_dump(document, sort_keys=sort, allow_unicode=True)
    ).encode()
    from_json = parse_document_bytes(as_json, "doc.json", yaml_syntax=False)
    from_yaml = parse_document_bytes(as_yaml, "doc.yaml", yaml_syntax=True)
    assert canonical_hash(from_yaml) == canonical_hash(from_json)
