"""document.names: which host-supplied names an error may show."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recovery_screening.document.names import WITHHELD, host_key, quoted_name, shown_name
from recovery_screening.errors import json_path


def key_path(steps: list[tuple[object, int]]) -> str:
    return json_path(host_key(name, position) for name, position in steps)


def key_step(name: object, position: int) -> str:
    return json_path([host_key(name, position)]).removeprefix("$")


@pytest.mark.parametrize(
    "name", ["phq9", "q9", "withdrawal_severity", "phq9.q9", "a-b", "A" * 64, "x1_._-"]
)
def test_identifier_like_names_are_shown(name: str) -> None:
    assert shown_name(name) == name
    assert quoted_name(name) == f"'{name}'"


@pytest.mark.parametrize(
    "name",
    ["Jane Doe, HIV+", "A" * 65, "9lives", "_private", "", "é", "a b", "a\n", 12,
     ("a",), None, b"bytes", pytest.param(10**5000, id="huge-integer")],
)  # fmt: skip
def test_other_names_are_withheld(name: object) -> None:
    assert shown_name(name) is None
    assert quoted_name(name) == WITHHELD
    assert key_step(name, 3) == "[#3]"
    assert host_key(name, 3).name is None  # the location never holds it


def test_paths_show_names_or_positions() -> None:
    assert key_path([("phq9", 1), ("q9", 4)]) == "$.phq9.q9"
    assert key_path([("phq9.q9", 1)]) == "$['phq9.q9']"
    assert key_path([("Jane Doe", 2), ("q1", 1)]) == "$[#2].q1"


@given(st.text(max_size=80))
def test_a_step_shows_the_name_only_when_it_is_safe(name: str) -> None:
    step = key_step(name, 1)
    if shown_name(name) is None:
        assert step == "[#1]"
    else:
        assert name in step
        assert len(name) <= 64 and name[0].isascii() and name[0].isalpha()
