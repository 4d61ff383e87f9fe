"""docs/next-steps.md shows real output: each `$ recovery-screening evaluate ... --next-steps`
block is run and compared (the decision's explanation cut to its first line, as shown), as are
the applicant texts and their next-steps sections."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from tests.conftest import REPO

from recovery_screening.cli import main

BLOCK = re.compile(r"```\n\$ (recovery-screening evaluate [^\n]*--next-steps)\n(.*?)```", re.S)
BLOCKS = BLOCK.findall((REPO / "docs" / "next-steps.md").read_text(encoding="utf-8"))


def test_the_page_shows_the_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize(("command", "shown"), BLOCKS, ids=[c.split()[2] for c, _ in BLOCKS])
def test_the_output_shown_is_the_output(
    command: str, shown: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(shlex.split(command)[1:]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    steps = out[out.index("Next steps from") :]
    assert f"{first}\n{steps}" == shown


APPLICANT = re.compile(
    r"```\n\$ (recovery-screening evaluate [^\n]*--audience applicant)\n(.*?)  \.\.\.\n```", re.S
)
APPLICANT_BLOCKS = [
    block
    for page in ("next-steps.md", "api.md")
    for block in APPLICANT.findall((REPO / "docs" / page).read_text(encoding="utf-8"))
]


@pytest.mark.parametrize(("command", "shown"), APPLICANT_BLOCKS)
def test_the_applicant_text_shown_is_the_text(
    command: str, shown: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(shlex.split(command)[1:]) == 0
    assert capsys.readouterr().out.startswith(shown)  # shown up to "How your answers came out:"


SECTIONS = re.compile(
    r"\n([\w-]+) \(([\w-]+) (\d+\.\d+\.\d+)\):\n(What could change.*?)(?=\n\n|\n```)", re.S
)


def test_the_sections_shown_are_the_example_applicants_sections() -> None:
    from recovery_screening import load_ruleset

    page = (REPO / "docs" / "next-steps.md").read_text(encoding="utf-8")
    found = SECTIONS.findall(page)
    assert len(found) >= 5
    for name, ruleset_id, version, shown in found:
        folder = "applicants/intake-1.1" if ruleset_id == "peer-support-intake" else ruleset_id
        applicant = json.loads((REPO / "examples" / folder / f"{name}.json").read_text())
        text = load_ruleset(f"{ruleset_id}@{version}").evaluate(applicant).explain("applicant")
        assert f"\n\n{shown}\n\n" in text
