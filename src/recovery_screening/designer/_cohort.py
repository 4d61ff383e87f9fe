"""Cohort files read as a stream of chunks, and a pool of worker processes that handle them.

A cohort is JSON Lines (one applicant object a line) or CSV (recovery_screening.cohort_csv says
how its cells are read). The main process only splits the file into chunks of raw lines; each
worker parses, evaluates and returns a small aggregate, and the aggregates are merged in file
order, so the result does not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

from recovery_screening.cohort_csv import CsvRows, is_sidecar_column
from recovery_screening.designer.equity import declares_sidecar_key
from recovery_screening.errors import DocumentError, Problem
from recovery_screening.ruleset import Ruleset, load_ruleset

CHUNK_SIZE = 2000

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True)
class Chunk:
    """Raw rows of a cohort: (line number, JSON line bytes) or (line number, CSV cells)."""

    kind: str  # "jsonl" or "csv"
    header: tuple[str, ...]
    rows: tuple[tuple[int, Any], ...]


@dataclass(frozen=True)
class RulesetSpec:
    """How a worker process loads the ruleset again: a path or id, and the rulesets directory."""

    reference: str
    rulesets_dir: str | None

    def load(self) -> Ruleset:
        return load_ruleset(self.reference, rulesets_dir=self.rulesets_dir)


def ruleset_spec(ruleset: Ruleset, rulesets_dir: str | Path | None = None) -> RulesetSpec:
    reference = ruleset.source or f"{ruleset.id}@{ruleset.version}"
    return RulesetSpec(reference, str(rulesets_dir) if rulesets_dir is not None else None)


def cohort_kind(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise DocumentError(
        str(path),
        [
            Problem(
                (),
                "bad-format",
                "a cohort file must end in .jsonl or .csv (.ndjson is read as .jsonl)",
            )
        ],
    )


def read_chunks(path: str | Path, chunk_size: int = CHUNK_SIZE) -> Iterator[Chunk]:
    """Split a cohort file into chunks of raw rows, reading it once, in constant memory."""
    kind = cohort_kind(path)
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - closed by the `with` below
    except OSError as error:
        raise DocumentError(
            str(path), [Problem((), "unreadable", error.strerror or "cannot open file")]
        ) from None
    with handle:
        if kind == "jsonl":
            yield from _jsonl_chunks(handle, chunk_size)
        else:
            yield from _csv_chunks(handle, str(path), chunk_size)


def _jsonl_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[Chunk]:
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(handle, start=1):
        if line.strip():
            rows.append((number, line))
            if len(rows) >= chunk_size:
                yield Chunk("jsonl", (), tuple(rows))
                rows = []
    if rows:
        yield Chunk("jsonl", (), tuple(rows))


def _csv_chunks(handle: BinaryIO, name: str, chunk_size: int) -> Iterator[Chunk]:
    reader = CsvRows(handle, name)
    if reader.header is None:
        return
    header = reader.header
    rows: list[tuple[int, Any]] = []
    for line, _, cells in reader:
        rows.append((line, tuple(cells)))
        if len(rows) >= chunk_size:
            yield Chunk("csv", header, tuple(rows))
            rows = []
    if rows:
        yield Chunk("csv", header, tuple(rows))


def csv_header_problems(ruleset: Ruleset, header: Sequence[str]) -> list[Problem]:
    """Columns that are neither applicant paths of the ruleset nor side-car columns
    (`cohort.<name>`, see designer.equity), checked once, before any row."""
    known = {field.name for field in ruleset.inputs}
    sidecar = not declares_sidecar_key(ruleset)
    problems = []
    for index, column in enumerate(header, start=1):
        if column not in known and not (sidecar and is_sidecar_column(column)):
            problems.append(
                Problem((), "unknown-field",
                        f"not an input of ruleset {ruleset.id} {ruleset.version}",
                        root=f"column {index} ({column})")
            )  # fmt: skip
    return problems


class ChunkWorker(Protocol[R_co]):
    def __call__(self, chunk: Chunk) -> R_co: ...


_WORKER: Any = None


def _initialise(factory: Callable[..., Any], arguments: tuple[Any, ...]) -> None:
    global _WORKER
    _WORKER = factory(*arguments)


def _run_chunk(chunk: Chunk) -> Any:
    return _WORKER(chunk)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))


def map_chunks(
    chunks: Iterator[Chunk],
    factory: Callable[..., ChunkWorker[R]],
    arguments: tuple[Any, ...],
    workers: int,
) -> Iterator[R]:
    """Each chunk's result, in file order. `factory(*arguments)` builds the per-process worker;
    at most two chunks per worker are in flight, so memory does not grow with the cohort."""
    if workers <= 1:
        worker = factory(*arguments)
        for chunk in chunks:
            yield worker(chunk)
        return
    # Workers start from a fresh process, never a fork of this one: a host (or a test run) may
    # have threads (DuckDB's, Spark's gateway) whose locks a forked child would inherit held.
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "forkserver")
    with context.Pool(workers, initializer=_initialise, initargs=(factory, arguments)) as pool:
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_run_chunk, (chunk,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
