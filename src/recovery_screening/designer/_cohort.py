"""Cohort files read as a stream of chunks, and a pool of worker processes that handle them.

A cohort is JSON Lines (one applicant object a line) or CSV (a header of applicant paths such
as `phq9.q9`; an empty cell is a missing answer; cells are converted by the input's declared
type: `true`/`false` (or `1`/`0`) for booleans, whole numbers for integers, decimals for
numbers, the text itself for enums, strings and dates; a side-car column `cohort.<name>` is
kept as its text under the row's `cohort` key). The main process only splits the file
into chunks of raw lines; each worker parses, evaluates and returns a small aggregate, and the
aggregates are merged in file order, so the result does not depend on the number of workers.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

from recovery_screening.designer.equity import SIDECAR, SIDECAR_PREFIX, declares_sidecar_key
from recovery_screening.errors import DocumentError, Problem, ScreeningError
from recovery_screening.fields import InputField
from recovery_screening.ruleset import Ruleset, load_ruleset

CHUNK_SIZE = 2000
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}

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
    reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8-sig", newline=""))
    try:
        header = tuple(next(reader))
    except StopIteration:
        return
    except (csv.Error, UnicodeDecodeError):
        raise DocumentError(
            name, [Problem((), "bad-csv", "the header row cannot be read", root="line 1")]
        ) from None
    rows: list[tuple[int, Any]] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except (csv.Error, UnicodeDecodeError):
            raise DocumentError(
                name,
                [Problem((), "bad-csv", "this row cannot be read", root=f"line {reader.line_num}")],
            ) from None
        if any(cell.strip() for cell in cells):
            rows.append((reader.line_num, tuple(cells)))
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
        if column not in known and not (sidecar and _is_sidecar_column(column)):
            problems.append(
                Problem((), "unknown-field",
                        f"not an input of ruleset {ruleset.id} {ruleset.version}",
                        root=f"column {index} ({column})")
            )  # fmt: skip
    return problems


def _is_sidecar_column(column: str) -> bool:
    return column.startswith(SIDECAR_PREFIX) and len(column) > len(SIDECAR_PREFIX)


class CellError(Exception):
    """A CSV cell cannot be converted to its input's type; names the column, not the value."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _convert_cell(field: InputField, cell: str) -> Any:
    text = cell.strip()
    if field.kind == "boolean":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise CellError(field.name, "must be true or false")
    if field.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise CellError(field.name, "must be a whole number") from None
    if field.kind == "number":
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise CellError(field.name, "must be a number") from None
    return text


def csv_applicant(
    fields: Mapping[str, InputField], header: Sequence[str], cells: Sequence[str]
) -> dict[str, Any]:
    """One CSV row as an applicant object; raises CellError for a cell of the wrong type."""
    applicant: dict[str, Any] = {}
    if len(cells) > len(header):
        raise CellError("$", "the row has more cells than the header")
    for column, cell in zip(header, cells, strict=False):
        if not cell.strip():
            continue
        field = fields.get(column)
        if field is None:
            if not _is_sidecar_column(column):
                raise CellError(column, "not an input of the ruleset")
            applicant.setdefault(SIDECAR, {})[column[len(SIDECAR_PREFIX) :]] = cell.strip()
            continue
        value = _convert_cell(field, cell)
        if field.instrument:
            item = field.item
            applicant.setdefault(field.instrument, {})[item] = value
        else:
            applicant[column] = value
    return applicant


class ChunkWorker(Protocol[R_co]):
    def __call__(self, chunk: Chunk) -> R_co: ...


_WORKER: Any = None


class _Failed:
    """A worker whose factory raised: every item it is given raises that error (a pool whose
    initializer raised would start new processes for ever instead)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self, item: Any) -> Any:
        raise self.error


def _initialise(factory: Callable[..., Any], arguments: tuple[Any, ...]) -> None:
    global _WORKER
    try:
        _WORKER = factory(*arguments)
    except Exception as error:  # raised again, in the main process, at the first item
        _WORKER = _Failed(error)


class WorkerFailed(ScreeningError):
    """A worker process failed on an item with an error of no library kind (a bug). It names
    the error's type and where it was raised; its message is not passed on, since it may hold
    an applicant's answers."""


def _run_chunk(item: Any) -> Any:
    try:
        return _WORKER(item)
    except ScreeningError:
        raise  # its message names places, never values
    except Exception as error:
        frames = traceback.extract_tb(error.__traceback__)
        place = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        raise WorkerFailed(
            f"a worker process failed with {type(error).__name__}{place} (its message is not "
            "passed on: it may hold an applicant's answers)"
        ) from None


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))


class Pending(Protocol[R_co]):
    """An item's result once a worker has it."""

    def ready(self) -> bool: ...

    def get(self) -> R_co: ...


class WorkerPool:
    """`workers` processes, each of which builds `factory(*arguments)` once and applies it to the
    items submitted to it. No process starts before the first item: a caller that may have
    nothing to hand over pays nothing.

    Workers start from a fresh process, never a fork of this one: a host (or a test run) may
    have threads (DuckDB's, Spark's gateway) whose locks a forked child would inherit held."""

    def __init__(
        self, factory: Callable[..., Callable[[Any], Any]], arguments: tuple[Any, ...], workers: int
    ) -> None:
        self.factory = factory
        self.arguments = arguments
        self.workers = max(1, workers)
        self.window = 2 * self.workers
        """How many items a caller keeps in flight: enough to keep every worker busy, few
        enough that memory does not grow with the input."""
        self._pool: Any = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    def start(self) -> None:
        """Start the workers now (each builds its worker while the caller goes on), not at the
        first item; nothing when they run already."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn" if os.name == "nt" else "forkserver")
            self._pool = context.Pool(
                self.workers, initializer=_initialise, initargs=(self.factory, self.arguments)
            )

    def submit(self, item: Any) -> Pending[Any]:
        self.start()
        result: Pending[Any] = self._pool.apply_async(_run_chunk, (item,))
        return result

    def map(self, items: Iterable[Any]) -> Iterator[Any]:
        """Each item's result, in the items' order, with at most `window` items in flight."""
        pending: deque[Pending[Any]] = deque()
        for item in items:
            pending.append(self.submit(item))
            if len(pending) >= self.window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self) -> None:
        """Stop the workers (at once: a caller that stops early does not wait for the rest)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
    with WorkerPool(factory, arguments, workers) as pool:
        yield from pool.map(chunks)
