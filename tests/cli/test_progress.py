"""Progress bars: drawn on a terminal (a pty here) with total, rate and time left; never when
stderr is piped or `--quiet` is given; `replay --problems-only` prints each problem as found."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
from tests.conftest import REPO

from recovery_screening.cli._progress import Progress, count_lines

COHORT = REPO / "examples" / "cohort-1000.jsonl"
COMMAND = [sys.executable, "-m", "recovery_screening"]
BAR_MARKS = ("\r", "%|", "/s")


def on_a_terminal(*args: str | Path) -> tuple[int, str, str]:
    """Run a command with stderr on a pty (100 columns) and stdout piped: (code, out, err)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [str(arg) for arg in args], stdout=subprocess.PIPE, stderr=slave, cwd=REPO
    )
    os.close(slave)
    chunks: list[bytes] = []

    def pump() -> None:  # the pty must be read as it fills, or the child blocks
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=pump)
    reader.start()
    out, _ = process.communicate(timeout=600)
    reader.join(timeout=30)
    os.close(master)
    return process.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def piped(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, cwd=REPO, timeout=600,
        check=False,
    )  # fmt: skip


VERBS: dict[str, list[str | Path]] = {
    "simulate": ["simulate", "peer-support-intake@1.0.0", "--cohort", COHORT, "--workers", "1"],
    "diff": ["diff", "peer-support-intake@1.0.0", "peer-support-intake@1.1.0", "--cohort", COHORT,
             "--workers", "1"],
    "check": ["check", "peer-support-intake@1.0.0", "--examples", "5"],
    "replay": ["replay", REPO / "examples" / "audit" / "records.jsonl"],
}  # fmt: skip
TOTALS = {"simulate": "/1000 ", "diff": "/1000 ", "check": "/7 ", "replay": "/50 "}


@pytest.mark.parametrize("verb", VERBS)
def test_a_terminal_gets_a_bar_with_total_rate_and_time_left(verb: str) -> None:
    code, out, err = on_a_terminal(*COMMAND, *VERBS[verb])
    assert code in (0, 1), err
    assert TOTALS[verb] in err  # the total (the last update may be cleared before it is drawn)
    assert "/s]" in err or "s/ properties]" in err  # the rate
    assert "<" in err  # elapsed<time left
    assert out and not any(mark in out for mark in ("%|", "\r"))  # results stay clean


@pytest.mark.parametrize("verb", VERBS)
def test_piped_output_and_quiet_get_no_bar(verb: str) -> None:
    result = piped(*COMMAND, *VERBS[verb])
    assert result.returncode in (0, 1), result.stderr
    assert not any(mark in result.stderr for mark in BAR_MARKS)
    code, out, err = on_a_terminal(*COMMAND, *VERBS[verb], "--quiet")
    assert code == result.returncode
    assert err == ""
    assert out == result.stdout


def test_replay_problems_only_prints_each_problem_as_found(tmp_path: Path) -> None:
    records = (REPO / "examples" / "audit" / "records.jsonl").read_text().splitlines()
    altered = json.loads(records[3])
    altered["decision"]["outcome"] = (
        "admit" if altered["decision"]["outcome"] != "admit" else "refer"
    )
    records[3] = json.dumps(altered)
    log = tmp_path / "altered.jsonl"
    log.write_text("\n".join(records) + "\n")
    code, out, err = on_a_terminal(*COMMAND, "replay", log, "--problems-only")
    assert code == 1
    assert out.startswith("line      4")
    assert "VERIFICATION FAILED" in out
    assert "/50 " in err
    result = piped(*COMMAND, "replay", log, "--problems-only", "--format", "json")
    first = json.loads(result.stdout.splitlines()[0])
    assert first["line"] == 4 and first["status"] != "identical"


def test_benchmarks_compare_shows_a_bar_on_a_terminal(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("\n".join(COHORT.read_text().splitlines()[:20]) + "\n")
    script = REPO / "benchmarks" / "compare.py"
    arguments: list[str | Path] = [
        sys.executable, script, "--cohort", cohort, "--rounds", "1", "--skip-memory",
    ]  # fmt: skip
    code, out, err = on_a_terminal(*arguments)
    assert code == 0, err
    assert "benchmarking" in err and "%|" in err
    assert out.startswith("machine: ")
    result = piped(*arguments)
    assert result.returncode == 0 and "%|" not in result.stderr


def test_progress_draws_nothing_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Progress("work", 10, "items") as progress:
        assert not progress.shown
        progress.update(5)
        progress.write("a result")
    captured = capsys.readouterr()
    assert captured.out == "a result\n" and captured.err == ""


def test_count_lines(tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text("a,b\n1,2\n3,4")
    assert count_lines(path) == 3
    assert count_lines(path, header=True) == 2
    assert count_lines(tmp_path / "missing.jsonl") is None
