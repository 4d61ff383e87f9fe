"""The built wheel installs with an extra into a fresh virtual environment and runs there.

The package is not on an index, so `pip install "recovery-screening[designer]"` installs nothing;
the missing-extra hints point at the checkout and at a built wheel, and this test proves the
wheel route: build it, install it with the `designer` extra into a new venv, and run the
command outside the checkout (the shipped rulesets come from the wheel).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO

from recovery_screening._version import __version__

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={name: value for name, value in os.environ.items() if name != "PYTHONPATH"},
    )


def test_the_wheel_installs_with_an_extra_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-q", "-w", dist,
                 cwd=tmp_path)  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = dist / f"recovery_screening-{__version__}-py3-none-any.whl"
    assert wheel.is_file(), sorted(p.name for p in dist.iterdir())

    venv = tmp_path / "venv"
    made = _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    bin_dir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    installed = _run(bin_dir / "python", "-m", "pip", "install", "-q", f"{wheel}[designer]",
                     cwd=tmp_path)  # fmt: skip
    assert installed.returncode == 0, installed.stderr

    helped = _run(bin_dir / "recovery-screening", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "evaluate" in helped.stdout
    extra = _run(bin_dir / "python", "-c", "import hypothesis, tqdm", cwd=tmp_path)
    assert extra.returncode == 0, extra.stderr
    applicant = REPO / "examples" / "applicants" / "intake-1.1" / "admit.json"
    screened = _run(bin_dir / "recovery-screening", "evaluate", applicant, cwd=tmp_path)
    assert screened.returncode == 0, screened.stderr
    assert screened.stdout.startswith("Outcome: ")
    program = "import recovery_screening; print(recovery_screening.__file__)"
    where = _run(bin_dir / "python", "-c", program, cwd=tmp_path)
    assert str(venv) in where.stdout, where.stdout
