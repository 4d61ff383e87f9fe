"""errors: problems are bounded, with a count of the rest."""

from __future__ import annotations

from recovery_screening.errors import (
    MAX_PROBLEMS,
    InvalidApplicant,
    Problem,
    RulesetError,
    bounded_problems,
)


def _many(count: int) -> list[Problem]:
    return [Problem(f"$.x{index}", "bad", "a problem") for index in range(count)]


def test_an_error_lists_at_most_max_problems_and_counts_the_rest() -> None:
    error = RulesetError("r", iter(_many(5000)))
    assert len(error.problems) == MAX_PROBLEMS + 1
    assert error.problems[-1].code == "more-problems"
    assert error.problems[-1].message.startswith("4900 more problems not listed")
    assert error.total == 5000
    assert "(5000 problems)" in str(error).splitlines()[0]
    assert len(str(error).splitlines()) == MAX_PROBLEMS + 2


def test_few_problems_are_all_listed() -> None:
    error = InvalidApplicant("r", _many(3))
    assert [p.path for p in error.problems] == ["$.x0", "$.x1", "$.x2"]
    assert error.total == 3


def test_a_count_carried_over_is_kept() -> None:
    inner = RulesetError("inner", _many(250))
    outer = RulesetError("outer", inner.problems)
    assert outer.total == 250
    assert outer.problems[-1].message.startswith("150 more problems")
    kept, total = bounded_problems(_many(10), limit=4)
    assert (len(kept), total) == (5, 10)
