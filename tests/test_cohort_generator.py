"""examples/generate_cohort.py: the 1.0.0 cohort stays reproducible, the 1.1.0 mode adds answers."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from types import ModuleType

from tests.conftest import REPO

NEW_KEYS = {"age_years", "diagnosis_status", "suicide_attempt_or_self_harm_12_months",
            "thoughts_of_harming_others", "takes_moud", "pregnant"}  # fmt: skip


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_cohort", REPO / "examples" / "generate_cohort.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _generate(*args: str) -> str:
    out = io.StringIO()
    generator = _generator()
    parsed = ["--out", "-", *args]
    real = sys.stdout
    sys.stdout = out
    try:
        assert generator.main(parsed) == 0
    finally:
        sys.stdout = real
    return out.getvalue()


def test_the_default_mode_reproduces_the_shipped_1_0_0_cohort_byte_for_byte() -> None:
    shipped = (REPO / "examples" / "cohort-1000.jsonl").read_text(encoding="utf-8")
    assert _generate("--count", "1000", "--seed", "2026") == shipped
    assert _generate("--count", "1000", "--seed", "2026", "--ruleset-version", "1.0.0") == shipped


def test_the_1_1_0_cohort_is_the_same_people_with_the_new_answers_added() -> None:
    shipped = (REPO / "examples" / "cohort-1000-v1.1.jsonl").read_text(encoding="utf-8")
    assert _generate("--count", "1000", "--seed", "2026", "--ruleset-version", "1.1.0") == shipped
    old = [json.loads(line) for line in (REPO / "examples/cohort-1000.jsonl").open()]
    new = [json.loads(line) for line in shipped.splitlines()]
    assert len(old) == len(new) == 1000
    seen: set[str] = set()
    for before, after in zip(old, new, strict=True):
        assert {k: v for k, v in after.items() if k not in NEW_KEYS} == before
        seen.update(set(after) - set(before))
    assert seen == NEW_KEYS
    minors = sum(1 for person in new if person.get("age_years", 18) < 18)
    assert 5 <= minors <= 50


def test_an_unknown_version_is_refused() -> None:
    generator = _generator()
    try:
        generator.main(["--ruleset-version", "2.0.0", "--count", "1"])
    except SystemExit as stop:
        assert stop.code == 2
    else:  # pragma: no cover - argparse always exits
        raise AssertionError("argparse accepted an unknown version")


def test_group_columns_add_side_car_columns_to_the_same_rows() -> None:
    for version, shipped_name in (
        ("1.0.0", "cohort-1000.jsonl"),
        ("1.1.0", "cohort-1000-v1.1.jsonl"),
    ):
        shipped = (REPO / "examples" / shipped_name).read_text(encoding="utf-8").splitlines()
        grouped = _generate(
            "--count", "1000", "--seed", "2026", "--ruleset-version", version, "--group-columns"
        ).splitlines()
        rows = [json.loads(line) for line in grouped]
        generator = _generator()
        for line, row in zip(shipped, rows, strict=True):
            sidecar = row["cohort"]
            plain = {key: value for key, value in row.items() if key != "cohort"}
            assert json.dumps(plain, separators=(",", ":")) == line
            assert set(sidecar) == {"age_band", "referral_source", "site"}
            if version == "1.1.0" and "age_years" in row:
                assert sidecar["age_band"] == generator.age_band(row["age_years"])
    justice = [r for r in rows if r.get("justice_involvement") == "current"]
    others = [r for r in rows if r.get("justice_involvement") == "none"]

    def share(group: list[dict[str, object]]) -> float:
        sources = [r["cohort"]["referral_source"] for r in group]  # type: ignore[index]
        return sources.count("justice_system") / len(group)

    assert share(justice) > 0.4 > 0.1 > share(others)
    sites = {r["cohort"]["site"] for r in rows}
    assert sites == {"north", "south", "east", "west"}
