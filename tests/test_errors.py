"""Errors: one root, problems listed with their paths (bounded, with a count of the rest),
messages that never carry a value."""

from __future__ import annotations

import pickle

import pytest

from recovery_screening import load_ruleset
from recovery_screening._version import __version__
from recovery_screening.errors import (
    MAX_PROBLEMS,
    BackendUnavailable,
    DocumentError,
    HostKey,
    InvalidApplicant,
    Location,
    MissingExtra,
    Problem,
    RulesetAltered,
    RulesetError,
    RulesetNotFound,
    ScreeningError,
    bounded_problems,
    json_path,
)


def test_every_error_derives_from_the_root() -> None:
    for error in (
        BackendUnavailable,
        DocumentError,
        InvalidApplicant,
        MissingExtra,
        RulesetAltered,
        RulesetError,
        RulesetNotFound,
    ):
        assert issubclass(error, ScreeningError)
    assert issubclass(RulesetNotFound, LookupError)


def test_errors_are_pickled_whole() -> None:
    # a worker process's error reaches the main process with its message and attributes
    problems = [Problem(("inputs", HostKey("housing")), "allowed-values", "not one of them")]
    for error in (
        DocumentError("cohort.jsonl", problems),
        InvalidApplicant("intake 1.0.0", problems),
        RulesetNotFound("no ruleset mini@9.9.9"),
        MissingExtra("columnar", "duckdb"),
        RulesetAltered("mini", "1.0.0", "abc", "def"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (str(copy), copy.args, vars(copy)) == (str(error), error.args, vars(error))


def test_a_problem_reads_path_message_code() -> None:
    assert str(Problem(("inputs", "x"), "bad-range", "'minimum' is too big")) == (
        "$.inputs.x: 'minimum' is too big [bad-range]"
    )


@pytest.mark.parametrize(
    ("location", "root", "path"),
    [
        ((), "$", "$"),
        (("domains", "motivation", "rules", 2, "when"), "$", "$.domains.motivation.rules[2].when"),
        (("referral_targets", "peer-group"), "$", '$.referral_targets["peer-group"]'),
        ((HostKey("phq9"), HostKey("q9", 4)), "$", "$.phq9.q9"),
        ((HostKey("phq9.q9", 1),), "$", "$['phq9.q9']"),
        ((HostKey(None, 2), HostKey("q1", 1)), "$", "$[#2].q1"),
        ((HostKey(None),), "$", "$[#?]"),
        (("item", 0, "answer"), "QuestionnaireResponse", "QuestionnaireResponse.item[0].answer"),
        (("prefetch", "entry", 0), "", "prefetch.entry[0]"),
        ((), "line 3", "line 3"),
    ],
)  # fmt: skip
def test_one_function_renders_every_location(location: Location, root: str, path: str) -> None:
    assert json_path(location, root) == path
    assert Problem(location, "code", "message", root).path == path


def test_problems_errors_list_every_problem_under_a_headline() -> None:
    problems = [Problem(("a",), "type", "must be text"), Problem(("b",), "range", "too high")]
    error = RulesetError("mini 1.0.0", problems)
    assert error.problems == tuple(problems)
    assert str(error).splitlines() == [
        "ruleset mini 1.0.0 is invalid (2 problems):",
        "  $.a: must be text [type]",
        "  $.b: too high [range]",
    ]
    single = DocumentError("cohort.csv", problems[:1])
    assert str(single).splitlines()[0] == "cannot read cohort.csv:"


def test_invalid_applicant_names_fields_not_values() -> None:
    with pytest.raises(InvalidApplicant) as raised:
        load_ruleset("peer-support-intake").evaluate({"withdrawal_severity": "SECRET-42"})
    assert raised.value.fields == ("$.withdrawal_severity",)
    assert "SECRET-42" not in str(raised.value)
    assert str(raised.value).startswith(
        "applicant does not meet the input contract of ruleset peer-support-intake"
    )


def test_missing_extra_says_what_to_install() -> None:
    error = MissingExtra("fhir", "fhir.resources")
    assert (error.extra, error.module) == ("fhir", "fhir.resources")
    assert 'from a checkout: pip install ".[fhir]"' in str(error)
    assert str(error).endswith(
        f'from a built wheel: pip install "recovery_screening-{__version__}-py3-none-any.whl[fhir]"'
    )


def test_ruleset_altered_names_both_hashes_and_the_fix() -> None:
    error = RulesetAltered("phq-9", "1.0.0", "sha256:aa", "sha256:bb")
    assert "sha256:aa" in str(error) and "sha256:bb" in str(error)
    assert "publish the change as a new version" in str(error)


def _many(count: int) -> list[Problem]:
    return [Problem((f"x{index}",), "bad", "a problem") for index in range(count)]


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
