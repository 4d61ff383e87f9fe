"""docs/next-steps.md shows real output: each `$ recovery-screening evaluate ... --next-steps`
block is run and compared (the decision's explanation cut to its first line, as shown)."""

from __future__ import annotations

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
