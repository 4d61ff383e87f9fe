"""Backend selection: clear errors for an unknown or unavailable backend (runs on every Python).

The tests of a missing durable-rules hide the package from the import system, so they run (and
can fail) whether or not the extra is installed here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recovery_screening import load_ruleset
from recovery_screening.backends import select_backend
from recovery_screening.errors import BackendUnavailable

DURABLE_MODULES = ("durable", "durable_rules_engine")


@pytest.fixture
def without_durable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make durable-rules (and our module that imports it) unimportable for one test."""
    for name in list(sys.modules):
        if name.split(".")[0] in DURABLE_MODULES:
            monkeypatch.setitem(sys.modules, name, None)
    for name in DURABLE_MODULES:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "recovery_screening.backends.durable", raising=False)


def test_native_is_the_default() -> None:
    ruleset = load_ruleset("peer-support-intake")
    assert ruleset.backend == "native"
    assert ruleset.evaluate({}).backend == "native"


def test_unknown_backend_names_the_available_ones() -> None:
    with pytest.raises(BackendUnavailable, match="native, durable"):
        load_ruleset("peer-support-intake", backend="drools")


@pytest.mark.usefixtures("without_durable")
def test_missing_durable_says_how_to_install_it() -> None:
    with pytest.raises(BackendUnavailable, match=r"pip install \"\.\[durable\]\""):
        select_backend("durable")


def test_only_the_durable_module_imports_durable_rules() -> None:
    program = textwrap.dedent(
        """
        import sys
        from recovery_screening import load_ruleset
        load_ruleset("peer-support-intake").evaluate({})
        loaded = sorted(
            name for name in sys.modules
            if name.split(".")[0] in ("durable", "durable_rules_engine")
            or name == "recovery_screening.backends.durable"
        )
        print(loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_backend_choice_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    from recovery_screening.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "-", "--backend", "drools"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.usefixtures("without_durable")
def test_cli_durable_without_the_extra_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from recovery_screening.cli import main

    applicant = Path(__file__).parent.parent.parent / "examples" / "applicants" / "admit.json"
    assert main(["evaluate", str(applicant), "--backend", "durable"]) == 2
    error = capsys.readouterr().err
    assert 'pip install ".[durable]"' in error and "-py3-none-any.whl[durable]" in error
    assert "Traceback" not in error
