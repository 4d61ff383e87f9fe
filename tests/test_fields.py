"""Declared inputs: one input table per compiled ruleset, each field's short name computed once."""

from __future__ import annotations

import pytest

from recovery_screening import load_ruleset
from recovery_screening.fields import Band, BandTable, FieldViolation, make_field


def test_the_input_table_indexes_one_list_of_fields() -> None:
    table = load_ruleset("peer-support-intake").compiled.inputs
    assert set(table.fields) == {
        *table.top.values(),
        *(f for g in table.groups.values() for f in g.values()),
    }
    assert all(field.instrument is None and field.item == name for name, field in table.top.items())
    for alias, group in table.groups.items():
        for item, field in group.items():
            assert (field.instrument, field.item, field.name) == (alias, item, f"{alias}.{item}")
            assert table.item_converters[alias][item] == (field.name, field.convert)
    assert {name: f.convert for name, f in table.top.items()} == table.converters
    assert "phq9" in table.groups and table.groups["phq9"]["q9"].name == "phq9.q9"


def test_an_instrument_on_its_own_has_only_top_level_items() -> None:
    table = load_ruleset("phq-9").compiled.inputs
    assert not table.groups
    assert list(table.top) == [field.name for field in table.fields]
    assert table.top["q9"].item == "q9"


def test_a_converter_refuses_without_quoting_the_answer() -> None:
    field = make_field("mood", {"type": "enum", "label": "Mood", "values": ["low", "ok"]})
    assert field.convert("ok") == "ok"
    with pytest.raises(FieldViolation) as raised:
        field.convert("SECRET")
    assert raised.value.code == "allowed-values" and "SECRET" not in raised.value.message


def test_band_lookup() -> None:
    bands = BandTable((Band("low", 0, 4), Band("high", 5, 9)))
    assert bands.names == ("low", "high")
    assert [bands.band_of(score) for score in (0, 4, 4.0, 5, 9, 10)] == [
        "low", "low", "low", "high", "high", None,
    ]  # fmt: skip
