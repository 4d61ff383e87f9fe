"""Backend selection: clear errors for an unknown or unavailable backend (runs on every Python)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from recovery_screening import load_ruleset
from recovery_screening.backends import select_backend
from recovery_screening.errors import BackendUnavailable

DURABLE_IMPORTS = sys.version_info < (3, 13) and importlib.util.find_spec("durable") is not None


def test_native_is_the_default() -> None:
    ruleset = load_ruleset("peer-support-intake")
    assert ruleset.backend == "native"
    assert ruleset.evaluate({}).backend == "native"


def test_unknown_backend_names_the_available_ones() -> None:
    with pytest.raises(BackendUnavailable, match="native, durable"):
        load_ruleset("peer-support-intake", backend="drools")


@pytest.mark.skipif(DURABLE_IMPORTS, reason="durable-rules is installed here")
def test_missing_durable_says_how_to_install_it() -> None:
    with pytest.raises(BackendUnavailable, match=r"recovery-screening\[durable\]"):
        select_backend("durable")


def test_only_the_durable_module_imports_durable_rules() -> None:
    load_ruleset("peer-support-intake")
    assert "recovery_screening.backends.durable" not in sys.modules or DURABLE_IMPORTS
    if not DURABLE_IMPORTS:
        assert "durable" not in sys.modules


def test_cli_backend_choice_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    from recovery_screening.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "-", "--backend", "drools"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.skipif(DURABLE_IMPORTS, reason="durable-rules is installed here")
def test_cli_durable_without_the_extra_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from recovery_screening.cli import main

    applicant = Path(__file__).parent.parent.parent / "examples" / "applicants" / "admit.json"
    assert main(["evaluate", str(applicant), "--backend", "durable"]) == 2
    error = capsys.readouterr().err
    assert "recovery-screening[durable]" in error
    assert "Traceback" not in error
