"""Every shell and Python block of README.md and docs/*.md runs, and shows what it prints.

Each document runs in its own scratch directory holding a copy of the checkout's `examples/`,
`rulesets/` and `schemas/`, so a document that edits files changes neither the checkout nor
another document's run. Its blocks run in order, as a reader would type them:

- ```` ```console ```` blocks (and bare ```` ``` ```` blocks that start with `$ `): each `$ `
  command (with its `\\` continuation lines) runs in bash, and what it prints (stdout and stderr,
  as on a terminal) must be the lines shown after it, up to the next `$ `;
- ```` ```sh ````, ```` ```bash ```` and ```` ```shell ```` blocks run as one `bash -e` script;
- ```` ```python ```` blocks run in one namespace per document (a later block can use what an
  earlier one defined).

A ```` ```text ```` or ```` ```json ```` block right after a shell or Python block is what that
block prints. Shown output is compared after masking what differs between runs or machines: hex
digests (32 or more hex digits) and UUIDs (derived from them), the scratch directory and the
engine version. A line `...` stands for any lines. The port of the local service the documents
start (`--port 8080`, `127.0.0.1:8080`) is moved to a free one in every command and shown
output, so that a run never meets another's service.

Markers, on the line before a fence:

- `<!-- doc-test: skip REASON -->`: the block cannot run here (it installs from the network, or
  benchmarks for minutes); the reason is printed with the count of skipped blocks;
- `<!-- doc-test: needs MODULE -->`: the block runs where MODULE can be imported (an optional
  extra that some Pythons cannot install), and is skipped, so counted, elsewhere;
- `<!-- doc-test: background -->`: a shell block that starts a service: it runs in the background
  until the document ends, and the test goes on once it has printed the last line shown for it;
- `<!-- doc-test: file PATH -->`: the block is a file the guide ships (a ruleset, a script that
  takes arguments); it must be exactly that file, and is not run itself.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest
from tests.conftest import REPO

from recovery_screening._version import __version__

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COPIED = ("examples", "rulesets", "schemas")
SHELLS = {"sh", "bash", "shell"}
RUN = {"console", "python", *SHELLS}
FENCE = re.compile(r"^```([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*doc-test:\s*(?:(skip|file|needs)\s+(.+?)|(background))\s*-->\s*$")
TIMEOUT = 300
SERVICE_PORT = re.compile(r"(?<=127\.0\.0\.1:)8080\b|(?<=--port )8080\b")
MAX_SKIPS = 11
"""Installs, long-running services and the four benchmarks that run for minutes."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its language, its text and its doc-test marker."""

    line: int
    language: str
    text: str
    marker: tuple[str, str] | None
    shown: str | None = None


def parse(document: Path) -> list[Block]:
    """The fenced blocks of a Markdown document, each with the output block that follows it."""
    lines = document.read_text(encoding="utf-8").splitlines()
    found: list[tuple[int, str, str, tuple[str, str] | None, int]] = []
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index])
            index += 1
        language = opened.group(1)
        text = "\n".join(body) + "\n"
        if not language and text.startswith("$ "):
            language = "console"
        above = lines[start - 1] if start else ""
        marked = MARKER.match(above)
        marker = None
        if marked:
            marker = ("background", "") if marked.group(3) else (marked.group(1), marked.group(2))
        found.append((start + 1, language, text, marker, index))
        index += 1
    blocks: list[Block] = []
    for position, (line, language, text, marker, end) in enumerate(found):
        shown = None
        if language in RUN - {"console"} and position + 1 < len(found):
            following = found[position + 1]
            between = lines[end + 1 : following[0] - 1]
            if following[1] in ("text", "json") and not any(part.strip() for part in between):
                shown = following[2]
        blocks.append(Block(line, language, text, marker, shown))
    return blocks


def commands(text: str) -> list[tuple[int, str, str]]:
    """A console block's `$ ` commands: (line offset, command, the output shown after it)."""
    result: list[tuple[int, str, list[str]]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            offset = index
            command = [line[2:]]
            while command[-1].endswith("\\") and index + 1 < len(lines):
                index += 1
                command.append(lines[index])
            result.append((offset, "\n".join(command), []))
        elif result:
            result[-1][2].append(line)
        else:
            raise AssertionError(f"console block: output before the first `$ ` command: {line!r}")
        index += 1
    return [(offset, command, "\n".join(shown)) for offset, command, shown in result]


def mask(text: str, scratch: Path) -> str:
    """The output with what varies between runs and machines replaced, trailing space removed."""
    text = text.replace(str(scratch) + os.sep, "").replace(str(scratch), ".")
    text = re.sub(r"[0-9a-f]{32,}", "<hex>", text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    text = text.replace(__version__, "<version>")
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether the actual lines are the shown ones, a shown `...` line standing for any lines."""
    if not shown:
        return not actual
    if shown[0] == "...":
        return any(matches(shown[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and shown[0] == actual[0] and matches(shown[1:], actual[1:])


def compare(document: str, line: int, command: str, shown: str, actual: str, scratch: Path) -> None:
    expected = mask(shown, scratch)
    got = mask(actual, scratch)
    if matches(expected.splitlines(), got.splitlines()):
        return
    diff = "\n".join(
        difflib.unified_diff(
            expected.splitlines(), got.splitlines(), "shown", "printed", lineterm=""
        )
    )
    pytest.fail(
        f"{document}:{line}: `{command}` does not print what the document shows:\n{diff}",
        pytrace=False,
    )


def environment() -> dict[str, str]:
    """The reader's shell: this venv's `python` and `recovery-screening` first on PATH."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RECOVERY_SCREENING_", "PYTHON", "COLUMNS"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def shell(script: str, scratch: Path, *, stop_on_error: bool) -> subprocess.CompletedProcess[str]:
    options = ["-e"] if stop_on_error else []
    return subprocess.run(
        ["bash", *options, "-c", script],
        cwd=scratch,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


class Reader:
    """Runs one document's blocks in order in its scratch directory."""

    def __init__(self, document: Path, scratch: Path, logs: Path) -> None:
        self.name = (
            document.relative_to(REPO).as_posix()
            if document.is_relative_to(REPO)
            else document.name
        )
        self.scratch = scratch
        self.logs = logs
        self.namespace: dict[str, object] = {"__name__": "__doc_test__"}
        self.status = 0
        self.services: list[subprocess.Popen[bytes]] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = str(probe.getsockname()[1])

    def local(self, text: str) -> str:
        """The text with the documents' service port moved to this run's free port."""
        return SERVICE_PORT.sub(self.port, text)

    def run(self, block: Block) -> None:
        if block.marker and block.marker[0] == "background":
            self.background(block)
        elif block.language == "console":
            self.console(block)
        elif block.language in SHELLS:
            done = shell(self.local(block.text), self.scratch, stop_on_error=True)
            if done.returncode:
                pytest.fail(
                    f"{self.name}:{block.line}: the block exits {done.returncode}:\n{done.stdout}",
                    pytrace=False,
                )
            self.shown(block, done.stdout)
        else:
            self.python(block)

    def console(self, block: Block) -> None:
        for offset, command, shown in commands(block.text):
            script = f"(exit {self.status})\n{self.local(command)}"
            done = shell(script, self.scratch, stop_on_error=False)
            self.status = done.returncode
            line = block.line + 1 + offset
            compare(self.name, line, command, self.local(shown), done.stdout, self.scratch)

    def background(self, block: Block) -> None:
        """Start a service; go on once it has printed the last line the document shows."""
        if block.language not in SHELLS or block.shown is None:
            pytest.fail(f"{self.name}:{block.line}: a background block is a shell block followed "
                        "by the output it prints once it is ready", pytrace=False)  # fmt: skip
        shown = self.local(block.shown)
        ready = shown.strip().splitlines()[-1].strip()
        log = self.logs / f"service-{block.line}.log"
        with log.open("wb") as output:
            self.services.append(
                subprocess.Popen(
                    ["bash", "-c", self.local(block.text)],
                    cwd=self.scratch,
                    env=environment(),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        while ready not in (printed := log.read_text(encoding="utf-8", errors="replace")):
            status = self.services[-1].poll()
            if status is not None or time.monotonic() > deadline:
                why = f"exits {status}" if status is not None else "is not ready within 60 s"
                pytest.fail(f"{self.name}:{block.line}: the service {why}:\n{printed}",
                            pytrace=False)  # fmt: skip
            time.sleep(0.1)
        compare(self.name, block.line, "the service", shown, printed, self.scratch)

    def python(self, block: Block) -> None:
        printed = io.StringIO()
        here = Path.cwd()
        os.chdir(self.scratch)
        try:
            code = compile(self.local(block.text), f"{self.name}:{block.line}", "exec")
            with contextlib.redirect_stdout(printed):
                exec(code, self.namespace)
        except Exception as error:
            pytest.fail(
                f"{self.name}:{block.line}: the Python block raises {type(error).__name__}: "
                f"{error}\n{printed.getvalue()}",
                pytrace=False,
            )
        finally:
            os.chdir(here)
        self.shown(block, printed.getvalue())

    def shown(self, block: Block, printed: str) -> None:
        if block.shown is not None:
            shown = self.local(block.shown)
            compare(self.name, block.line, "the block", shown, printed, self.scratch)

    def close(self) -> None:
        """Stop the services this document started (each in its own process group)."""
        for service in self.services:
            if service.poll() is None:
                os.killpg(service.pid, signal.SIGTERM)
            try:
                service.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(service.pid, signal.SIGKILL)
                service.wait()


def check_file(name: str, block: Block, path: str) -> None:
    shipped = REPO / path
    if not shipped.is_file():
        pytest.fail(f"{name}:{block.line}: the block is marked as {path}, which is missing")
    if shipped.read_text(encoding="utf-8") != block.text:
        diff = "\n".join(
            difflib.unified_diff(
                shipped.read_text(encoding="utf-8").splitlines(),
                block.text.splitlines(),
                path,
                "the document",
                lineterm="",
            )
        )
        pytest.fail(f"{name}:{block.line}: the block is not {path}:\n{diff}", pytrace=False)


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.name for d in DOCUMENTS])
def test_every_block_runs_and_prints_what_it_shows(document: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    for directory in COPIED:
        shutil.copytree(REPO / directory, scratch / directory)
    if sys.prefix != sys.base_prefix:  # the documents' `.venv/bin/...` is this venv
        (scratch / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    reader = Reader(document, scratch, tmp_path)
    try:
        read(document, reader)
    finally:
        reader.close()


def read(document: Path, reader: Reader) -> None:
    ran: list[tuple[float, int]] = []
    skipped: list[str] = []
    for block in parse(document):
        if block.marker and block.marker[0] == "file":
            check_file(reader.name, block, block.marker[1])
            continue
        if block.language not in RUN:
            continue
        if block.marker and block.marker[0] == "skip":
            skipped.append(f"skipped line {block.line}: {block.marker[1]}")
            continue
        if block.marker and block.marker[0] == "needs" and not find_spec(block.marker[1]):
            skipped.append(f"skipped line {block.line}: needs {block.marker[1]}, not installed")
            continue
        started = time.perf_counter()
        reader.run(block)
        ran.append((time.perf_counter() - started, block.line))
    slowest = ", ".join(f"line {line} {seconds:.1f} s" for seconds, line in sorted(ran)[::-1][:3])
    print(
        f"{reader.name}: {len(ran)} block(s) run in {sum(s for s, _ in ran):.1f} s"
        + (f" (slowest: {slowest})" if ran else "")
        + f", {len(skipped)} skipped",
        *skipped,
        sep="\n  ",
    )


def test_skips_are_few_and_each_gives_its_reason() -> None:
    skips = [
        f"{document.name}:{block.line}: {block.marker[1]}"
        for document in DOCUMENTS
        for block in parse(document)
        if block.marker and block.marker[0] == "skip"
    ]
    print(f"{len(skips)} block(s) skipped:", *skips, sep="\n  ")
    assert len(skips) <= MAX_SKIPS, skips
    markers = [
        f"{document.name}:{number}"
        for document in DOCUMENTS
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1)
        if line.lstrip().startswith("<!--") and "doc-test" in line and not MARKER.match(line)
    ]
    assert not markers, f"malformed doc-test markers (see the module docstring): {markers}"


def test_no_command_transcript_hides_in_a_block_that_does_not_run() -> None:
    """A `$ command` transcript in a ```text (or other) block would never be run: use console."""
    hidden = [
        f"{document.name}:{block.line}"
        for document in DOCUMENTS
        for block in parse(document)
        if block.language not in RUN and block.text.startswith("$ ")
    ]
    assert not hidden, f"label these blocks ```console: {hidden}"


PAGE = """# A page

```console
$ echo hello; echo f61c4df27d0c5dac941c997c558e9a71f61c4df27d0c5dac
hello
<hex>
$ printf 'one\\ntwo\\nthree\\n'
one
...
three
```

<!-- doc-test: skip needs the network -->
```sh
curl https://example.org
```

```python
print("printed")
```

```text
printed
```
"""


def test_a_page_is_read_into_blocks_with_markers_and_shown_output(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    console, skipped, python, text = parse(page)
    assert (console.line, console.language, console.marker) == (3, "console", None)
    assert [command for _, command, _ in commands(console.text)][
        1
    ] == "printf 'one\\ntwo\\nthree\\n'"
    assert skipped.marker == ("skip", "needs the network")
    assert (python.shown, text.language) == ("printed\n", "text")


def test_a_page_that_runs_as_shown_passes(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    reader = Reader(page, tmp_path, tmp_path)
    read(page, reader)


@pytest.mark.parametrize(
    ("shown", "message"),
    [
        (
            "$ echo hello\ngoodbye\n",
            "page.md:2: `echo hello` does not print what the document shows",
        ),
        ("$ echo 1.0\n1.0\n...\n2.0\n", "-2.0"),
    ],
    ids=["another-line", "a-line-after-the-elision-missing"],
)
def test_a_page_that_drifted_fails_naming_its_line_and_the_difference(
    tmp_path: Path, shown: str, message: str
) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"```console\n{shown}```\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception) as failed:
        read(page, Reader(page, tmp_path, tmp_path))
    assert message in str(failed.value)


def test_a_shell_block_that_fails_fails_the_page(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```sh\ntrue\nfalse\necho never\n```\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match=r"page.md:1: the block exits 1"):
        read(page, Reader(page, tmp_path, tmp_path))
