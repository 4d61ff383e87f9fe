"""`evaluate_batch`: a whole table of applicants decided by the columnar query on DuckDB.

Every row the SQL cannot prove identical to the scalar engine's decision — a row that may
break the input contract, a format v2 row with an undecided rule or an unanswered instrument
item, a row past a compile-time bound — is decided by the scalar engine (`Ruleset.evaluate`)
on the applicant object it is, and its result columns are filled from that decision. The
result says which engine decided each row (`engine`), so nothing differs silently. Those rows
are decided in the calling process, or, by a stream given a `ScalarPool` (the designer tools'),
in pieces on its worker processes, in row order.
"""

from __future__ import annotations

import abc
import datetime
import functools
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from recovery_screening.columnar.sources import Loader, arrow_loader, jsonl_loader
from recovery_screening.columnar.sql import (
    ColumnarQuery,
    OutputColumn,
    Uncompilable,
    compile_query,
    output_columns,
    quote,
)
from recovery_screening.decision import Decision
from recovery_screening.errors import (
    DocumentError,
    InvalidApplicant,
    MissingExtra,
    Problem,
    ScreeningError,
)
from recovery_screening.outcomes import OUTCOMES

if TYPE_CHECKING:
    import pyarrow as pa

    from recovery_screening.ruleset import Ruleset

COLUMNAR = "columnar"
SCALAR = "scalar"


class ColumnarMismatch(ScreeningError):
    """The columnar result of a row disagrees with the scalar engine's decision (a bug)."""

    def __init__(self, ruleset: str, row: int, fields: Sequence[str]) -> None:
        self.row = row
        self.fields = tuple(fields)
        super().__init__(
            f"ruleset {ruleset}: row {row}: the columnar engine and the scalar engine disagree "
            f"on {', '.join(fields)}"
        )


def _modules() -> tuple[Any, Any]:
    try:
        import duckdb
        import pyarrow
    except ImportError as error:
        raise MissingExtra("columnar", error.name or "duckdb") from None
    return duckdb, pyarrow


@dataclass(frozen=True)
class ColumnarEngine:
    """A ruleset's compiled query, or why there is none (then every row goes to the scalar
    engine)."""

    ruleset: Ruleset
    query: ColumnarQuery | None
    notes: tuple[str, ...]


_ENGINES: weakref.WeakKeyDictionary[Any, ColumnarEngine] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def columnar_engine(ruleset: Ruleset) -> ColumnarEngine:
    """The ruleset's columnar engine, compiled once per ruleset. What the SQL does not decide
    itself is in `notes` (announced at compile time)."""
    with _LOCK:
        engine = _ENGINES.get(ruleset)
        if engine is None:
            try:
                query = compile_query(ruleset.compiled)
                engine = ColumnarEngine(ruleset, query, query.notes)
            except Uncompilable as reason:
                note = f"not compiled to SQL ({reason}): every row is decided by the scalar engine"
                engine = ColumnarEngine(ruleset, None, (note,))
            _ENGINES[ruleset] = engine
    return engine


def columnar_sql(ruleset: Ruleset, table: str = "applicants") -> str:
    """The ruleset's columnar query over `table` (one typed column per declared input, named
    as `Ruleset.inputs` names them). Raises Uncompilable when the ruleset has none."""
    query = compile_query(ruleset.compiled)
    return query.sql(table)


# --- the result --------------------------------------------------------------------------------


class BatchResult:
    """Per-row results of `evaluate_batch` as an Arrow table, and each row's `Decision` on request.

    `table` has, per row: `row` (its position among the applicants; `line(row)` gives a file's
    line number), `engine` (`columnar` or `scalar`), `valid`, `readable` (false for a line that
    is not a JSON object), `problems` (for an invalid row: the
    `InvalidApplicant` problems, as `path`, `code`, `message`), `outcome`, `deciding`, `needs`,
    `referrals` (targets, advisory ones after the deciding ones), `advisories`,
    `rescreen_after_days`, `fail_safe`, `rule:<id>` (every rule's truth, NULL when undecided),
    each domain's `<d>.score`, `<d>.score_low`, `<d>.score_high`, `<d>.band`, and each
    instrument's total, band, subscores and flags (`phq9.total`, ...).
    """

    def __init__(
        self,
        ruleset: Ruleset,
        table: pa.Table,
        notes: tuple[str, ...],
        source: _Source,
        as_of: datetime.date | None,
    ) -> None:
        self.ruleset = ruleset
        self.table = table
        self.notes = notes
        self._source = source
        self._as_of = as_of

    def __len__(self) -> int:
        return int(self.table.num_rows)

    @property
    def scalar_rows(self) -> int:
        """Rows the scalar engine decided (or found invalid)."""
        import pyarrow.compute as pc

        return int(pc.sum(pc.equal(self.table["engine"], SCALAR)).as_py() or 0)

    def line(self, row: int) -> int | None:
        """The line of the file row `row` was read from (None for a table)."""
        return self._source.line(row)

    def applicant(self, row: int) -> Any:
        """The applicant of row `row` as the scalar engine reads it (a JSON object for JSON
        Lines; the row's non-null cells for a table)."""
        return self._source.applicant(row)

    def decision(self, row: int) -> Decision:
        """The `Decision` of row `row`: the scalar engine's decision on that row's applicant
        (re-evaluated now), checked against the row's columns (`ColumnarMismatch` if they
        differ). Raises InvalidApplicant (or DocumentError) for an invalid row."""
        applicant = self.applicant(row)
        if not isinstance(applicant, Mapping):
            raise DocumentError(f"row {row}", [Problem((), "type", "not a JSON object")])
        decision = self.ruleset.evaluate(without(applicant, self._source.ignore), as_of=self._as_of)
        expected = scalar_columns(self.ruleset, decision, self._columns())
        actual = {name: self.table[name][row].as_py() for name in expected}
        differing = [name for name in expected if expected[name] != actual[name]]
        if differing:
            raise ColumnarMismatch(f"{self.ruleset.id} {self.ruleset.version}", row, differing)
        return decision

    def decisions(self) -> Iterator[Decision | None]:
        """Every row's Decision in order (None for an invalid row)."""
        for row in range(len(self)):
            try:
                yield self.decision(row)
            except (InvalidApplicant, DocumentError):
                yield None

    def _columns(self) -> tuple[OutputColumn, ...]:
        return result_columns(self.ruleset)


def result_columns(ruleset: Ruleset) -> tuple[OutputColumn, ...]:
    return output_columns(ruleset.compiled)


def scalar_columns(
    ruleset: Ruleset, decision: Decision, columns: Sequence[OutputColumn]
) -> dict[str, Any]:
    """The result columns of one row, from the scalar engine's decision."""
    trace = decision.trace
    compiled = ruleset.compiled
    values: dict[str, Any] = {
        "outcome": OUTCOMES[trace.rank],
        "deciding": list(decision.deciding),
        "needs": list(decision.needs),
        "referrals": list(decision.referral_targets),
        "advisories": list(decision.advisories),
        "rescreen_after_days": decision.rescreen_after_days,
        "fail_safe": trace.fail_safe,
    }
    for rule, truth in zip(compiled.decisions, trace.truths, strict=True):
        values[f"rule:{rule.id}"] = truth
    for advisory, truth in zip(compiled.advisories, trace.advisory_truths, strict=True):
        values[f"rule:{advisory.id}"] = truth
    for domain, (truths, low, high) in zip(compiled.domains, trace.domains, strict=True):
        for scoring, truth in zip(domain.rules, truths, strict=True):
            values[f"rule:{scoring.id}"] = truth
        values[domain.score_key] = trace.facts[domain.score_key]
        values[f"{domain.name}.score_low"] = low
        values[f"{domain.name}.score_high"] = high
        values[domain.band_key] = trace.facts[domain.band_key]
    for column in columns:
        if column.name not in values:
            values[column.name] = trace.facts.get(column.name)
    return {column.name: values[column.name] for column in columns}


# --- sources -----------------------------------------------------------------------------------


class _Misaligned(Exception):
    """DuckDB read the file's lines differently from the scalar reader (a line that only
    Python's strip() finds blank, say): the whole file is then read by the scalar reader."""


class _Source(abc.ABC):
    """Where the rows come from, and how to get one row's applicant back for the scalar engine."""

    ignore: frozenset[str] = frozenset()
    """Top-level keys (or columns) neither checked nor evaluated: a `diff` shows each version
    only the questions it asks."""

    @abc.abstractmethod
    def loader(self, ruleset: Ruleset) -> Loader:
        """The SQL that reads the source as the typed relation."""

    def register(self, connection: Any) -> None:  # noqa: B027 - most sources need nothing
        """Make the source visible to the connection (for in-memory tables)."""

    def line(self, row: int) -> int | None:
        """The line of a file a row was read from (None for a table)."""
        return None

    def check_rows(self, rows: int) -> None:  # noqa: B027 - a table's rows are its rows
        """Raise _Misaligned when the file's rows are not the `rows` DuckDB read."""

    @abc.abstractmethod
    def applicant(self, row: int) -> Any:
        """One row's applicant as the scalar engine reads it."""

    def applicants(self, rows: Sequence[int], raws: Sequence[str | None]) -> list[Any]:
        return [self.applicant(row) for row in rows]

    @abc.abstractmethod
    def everything(self) -> tuple[list[int], list[Any]]:
        """(rows, applicant or `Unreadable` of each) of the whole source."""


class _JsonLines(_Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._offsets: list[tuple[int, int]] | None = None

    def loader(self, ruleset: Ruleset) -> Loader:
        return jsonl_loader(ruleset.compiled, str(self.path), self.ignore)

    def _line_offsets(self) -> list[tuple[int, int]]:
        """(byte offset, line number) of each non-blank line: the rows, in order."""
        if self._offsets is None:
            offsets = []
            position = 0
            with self.path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        offsets.append((position, number))
                    position += len(line)
            self._offsets = offsets
        return self._offsets

    def line(self, row: int) -> int | None:
        return self._line_offsets()[row][1]

    def check_rows(self, rows: int) -> None:
        if len(self._line_offsets()) != rows:
            raise _Misaligned

    def applicant(self, row: int) -> Any:
        with self.path.open("rb") as handle:
            handle.seek(self._line_offsets()[row][0])
            return self.parse(handle.readline(), row)

    def applicants(self, rows: Sequence[int], raws: Sequence[str | None]) -> list[Any]:
        """The rows' applicants, parsed from the text DuckDB read; a line it could not take
        whole (one holding the delimiter byte, which no valid JSON line does) or that does not
        parse is read again from the file, so its problems are those of the line itself."""
        found = []
        for row, raw in zip(rows, raws, strict=True):
            try:
                if raw is None or "\x01" in raw:
                    raise DocumentError(str(self.path), [])
                found.append(self.parse(raw.encode("utf-8"), row))
            except DocumentError:
                found.append(self.applicant(row))
        return found

    def everything(self) -> tuple[list[int], list[Any]]:
        applicants: list[Any] = []
        with self.path.open("rb") as handle:
            for raw in handle:
                if raw.strip():
                    try:
                        applicants.append(self.parse(raw, len(applicants)))
                    except DocumentError as error:
                        applicants.append(Unreadable(error.problems))
        return list(range(len(applicants))), applicants

    def parse(self, raw: bytes, row: int) -> Any:
        from recovery_screening.document.reader import parse_document_bytes

        return parse_document_bytes(raw, f"row {row}", yaml_syntax=False)


class _Arrow(_Source):
    def __init__(self, table: pa.Table) -> None:
        if table.num_columns == 0:  # DuckDB scans no table without columns
            import pyarrow as pa

            table = pa.table({"__no_answers": pa.nulls(table.num_rows)})
        self.table = table

    def loader(self, ruleset: Ruleset) -> Loader:
        return arrow_loader(ruleset.compiled, self.table.schema, "__applicants", self.ignore)

    def register(self, connection: Any) -> None:
        connection.register("__applicants", self.table)

    def applicant(self, row: int) -> Any:
        return table_applicant(self.table.slice(row, 1).to_pylist()[0])

    def applicants(self, rows: Sequence[int], raws: Sequence[str | None]) -> list[Any]:
        if not rows:
            return []
        return [table_applicant(r) for r in self.table.take(list(rows)).to_pylist()]

    def everything(self) -> tuple[list[int], list[Any]]:
        found = [table_applicant(r) for r in self.table.to_pylist()]
        return list(range(len(found))), found


class _Parquet(_Arrow):
    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        super().__init__(pq.read_table(path))


def without(applicant: Any, keys: frozenset[str]) -> Any:
    """The applicant without the top-level `keys` (unchanged when it has none of them)."""
    if not keys or not isinstance(applicant, Mapping) or keys.isdisjoint(applicant):
        return applicant
    return {key: value for key, value in applicant.items() if key not in keys}


def table_applicant(cells: Mapping[str, Any]) -> dict[str, Any]:
    """A table row as an applicant: its non-null cells; a struct cell (an instrument's items)
    its non-null fields; a flat `alias.item` column nested under its alias."""
    applicant: dict[str, Any] = {}
    for name, value in cells.items():
        if value is None:
            continue
        if isinstance(value, dict):
            items = {item: answer for item, answer in value.items() if answer is not None}
            applicant.setdefault(name, {}).update(items)
        elif "." in name and name.split(".", 1)[0] not in cells:
            alias, item = name.split(".", 1)
            applicant.setdefault(alias, {})[item] = value
        else:
            applicant[name] = value
    return applicant


def _source(data: Any) -> _Source:
    _, pa = _modules()
    if isinstance(data, (str, Path)):
        path = Path(data)
        suffix = path.suffix.lower()
        if not path.is_file():
            raise DocumentError(str(path), [Problem((), "unreadable", "no such file")])
        if suffix in (".jsonl", ".ndjson", ".json"):
            return _JsonLines(path)
        if suffix == ".parquet":
            return _Parquet(path)
        raise DocumentError(
            str(path), [Problem((), "bad-format", "a cohort file must end in .jsonl or .parquet")]
        )
    if isinstance(data, pa.Table):
        return _Arrow(data)
    if isinstance(data, pa.RecordBatch):
        return _Arrow(pa.Table.from_batches([data]))
    to_arrow = getattr(data, "to_arrow", None)
    if callable(to_arrow):  # polars
        return _Arrow(to_arrow())
    if type(data).__module__.startswith("pandas"):
        return _Arrow(pa.Table.from_pandas(data, preserve_index=False))
    raise TypeError(
        "evaluate_batch takes an Arrow, Polars or pandas table, or a .jsonl/.csv/.parquet path"
    )


# --- evaluation --------------------------------------------------------------------------------


BATCH_ROWS = 131_072
"""Rows per record batch of a stream: memory holds a few batches, not the cohort."""
SCALAR_ROWS = 8_192
"""Rows per result table of `Aggregated.others` (each row built as a Python record first)."""
POOL_ROWS = 128
"""Rows per piece of work a worker process is handed (see `ScalarPool`): small, so that the
workers share the scalar engine's rows evenly (a format v2 row's exact search can take
milliseconds)."""
POOL_MIN_ROWS = 1_024
"""Fewer of the scalar engine's rows than this (in a stream, or in a batch of one) are decided
here while no worker runs: starting one (a fresh interpreter that imports the engine and
compiles the ruleset, about a second of CPU) costs about what a few hundred format v2 rows'
exact search does (measured on the intake 1.2.0: 427 rows, 2.1 s of CPU)."""


@dataclass(frozen=True)
class ScalarWork:
    """Rows the SQL leaves to the scalar engine, as a worker process is handed them: the
    ruleset (its content hash), the rows' positions and applicants (`Unreadable` for a line
    that is not JSON), the result columns, `as_of`, and the top-level keys to ignore."""

    ruleset: str
    rows: tuple[int, ...]
    applicants: tuple[Any, ...]
    columns: tuple[OutputColumn, ...]
    as_of: datetime.date | None
    ignore: frozenset[str]


class Pending(Protocol):
    """A piece of work's result table, once it is decided."""

    def ready(self) -> bool: ...

    def get(self) -> Any: ...


class ScalarPool(Protocol):
    """Worker processes, each running `columnar.workers.ScalarRows` over the `ScalarWork`
    submitted to it (the designer's process pool, `designer._cohort.WorkerPool`, is one).
    `window`: how many pieces a stream keeps in flight; `started`: whether a process runs yet
    (none starts before the first piece is submitted, or `start()`, which a stream calls when
    it knows work will come, so that the workers start while it reads)."""

    @property
    def window(self) -> int: ...

    @property
    def started(self) -> bool: ...

    def start(self) -> None: ...

    def submit(self, item: Any) -> Pending: ...


class _Decided:
    """A piece of work decided here, in this process."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def ready(self) -> bool:
        return True

    def get(self) -> pa.Table:
        return self.table


def _in_order(pending: deque[Pending], window: int) -> Iterator[pa.Table]:
    """The results at the head of `pending` that are ready, then (waiting for them) the oldest
    until fewer than `window` are in flight."""
    while pending and (len(pending) >= window or pending[0].ready()):
        yield pending.popleft().get()


class _Part:
    """One record batch of results: its columnar rows, and the pieces of work that decide its
    other rows (here or in a worker), merged in row order when they are decided."""

    def __init__(self, table: pa.Table, certain: Any, pieces: list[Pending], reread: bool) -> None:
        self._table = table
        self._certain = certain
        self.pieces = pieces
        self.reread = reread
        """Whether this batch, or one before it, had a line read again from the file."""

    def ready(self) -> bool:
        return all(piece.ready() for piece in self.pieces)

    def table(self) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.pieces:
            return self._table
        kept = self._table.filter(self._certain)
        merged = pa.concat_tables([kept, *(piece.get() for piece in self.pieces)])
        return merged.take(pc.sort_indices(merged["row"]))


class BatchStream:
    """The per-row results of a table or file as a stream of Arrow tables, in row order, each
    with the columns of `BatchResult.table`; `notes` says what the SQL leaves to the scalar
    engine, `line(row)` gives a file row's line number. Memory holds one batch at a time."""

    def __init__(
        self,
        ruleset: Ruleset,
        data: Any,
        *,
        as_of: datetime.date | None = None,
        batch_rows: int = BATCH_ROWS,
        ignore: frozenset[str] = frozenset(),
        columns: Sequence[str] | None = None,
        pool: ScalarPool | None = None,
    ) -> None:
        _modules()
        self.ruleset = ruleset
        self.source = _source(data)
        self.source.ignore = ignore
        self.as_of = as_of
        self.batch_rows = batch_rows
        engine = columnar_engine(ruleset)
        self.query = engine.query
        self.notes = engine.notes
        if engine.query is not None and as_of is not None and ruleset.compiled.format_version >= 2:
            self.query = None
            self.notes = (*self.notes, "as_of: every row is decided by the scalar engine")
        every = result_columns(ruleset)
        self.columns = every if columns is None else tuple(c for c in every if c.name in columns)
        """The result columns the tables have (`columns`, when given, names a subset: the SQL
        then computes only what those need)."""
        self.pool = pool
        """Where the rows the SQL leaves to the scalar engine are decided: None, here (in this
        process); else by the pool's workers, in pieces of POOL_ROWS, in row order."""

    def line(self, row: int) -> int | None:
        return self.source.line(row)

    def __iter__(self) -> Iterator[pa.Table]:
        if self.query is None:
            yield self._all_scalar()
            return
        try:
            yield from self._columnar()
        except _Misaligned:
            self.notes = (*self.notes, _MISALIGNED)
            yield self._all_scalar()

    def _pool_for(self, rows: int) -> ScalarPool | None:
        """The pool that decides `rows` of the scalar engine's rows, or None to decide them
        here: without a pool, or when they are fewer than POOL_MIN_ROWS and no worker runs
        yet (starting one would cost more than it saves)."""
        if self.pool is None or (rows < POOL_MIN_ROWS and not self.pool.started):
            return None
        return self.pool

    def _decide(
        self, rows: Sequence[int], applicants: Sequence[Any], pool: ScalarPool | None
    ) -> Pending:
        """The result table of some of the scalar engine's rows: decided here (no pool), or
        handed to a worker."""
        if pool is None:
            return _Decided(
                _scalar_rows(
                    self.ruleset, applicants, rows, self.columns, self.as_of, self.source.ignore
                )
            )
        work = ScalarWork(
            self.ruleset.content_hash, tuple(rows), tuple(applicants), tuple(self.columns),
            self.as_of, self.source.ignore,
        )  # fmt: skip
        return pool.submit(work)

    def _all_scalar(self) -> pa.Table:
        """Every row decided by the scalar engine (a ruleset the SQL cannot compile)."""
        import pyarrow as pa

        rows, applicants = self.source.everything()
        pool = self._pool_for(len(rows))
        if pool is None:
            return self._decide(rows, applicants, None).get()
        pending: deque[Pending] = deque()
        tables: list[pa.Table] = []
        for start in range(0, len(rows), POOL_ROWS):
            end = start + POOL_ROWS
            pending.append(self._decide(rows[start:end], applicants[start:end], pool))
            tables.extend(_in_order(pending, pool.window))
        tables.extend(piece.get() for piece in pending)
        return pa.concat_tables(tables)

    def _open(self) -> tuple[Any, str]:
        """A connection with the source registered, and the result query over it (with `__raw`
        and `__valid` first, then `certain` and the result columns)."""
        duckdb, _ = _modules()
        assert self.query is not None
        connection = duckdb.connect()
        try:
            connection.execute("SET enable_progress_bar = false")  # a library prints nothing
            self.source.register(connection)
            loader = self.source.loader(self.ruleset)
            connection.execute(f"CREATE TEMP VIEW __typed AS {loader.sql}")
        except BaseException:
            connection.close()
            raise
        return connection, self.query.sql("__typed", ("__raw", "__valid"))

    def _columnar(self) -> Iterator[pa.Table]:
        import pyarrow as pa

        connection, sql = self._open()
        offset = 0
        reread = False
        try:
            # a line's text is needed only where the scalar engine takes the row: not carried
            # (about a kilobyte a row) where the SQL decided it
            selected = ", ".join(quote(column.name) for column in self.columns)
            sql = (
                "SELECT CASE WHEN COALESCE(__valid AND certain, FALSE) THEN NULL ELSE __raw END "
                f"AS __raw, __valid, certain, {selected} FROM ({sql})"
            )
            held: deque[_Part] = deque()  # split; their scalar rows being decided
            in_flight: deque[Pending] = deque()
            pending: list[pa.Table] = []
            for batches in _grouped(
                _batches(connection.sql(sql), self.batch_rows), self.batch_rows
            ):
                result = pa.Table.from_batches(batches)
                part, needs_file = self._split(result, offset, in_flight)
                reread = part.reread = reread or needs_file
                offset += result.num_rows
                held.append(part)
                # a batch is merged once its rows are decided, or once the next is split
                while held and (len(held) > 1 or held[0].ready()):
                    done = held.popleft()
                    if done.reread:
                        pending.append(done.table())  # held until the file's rows align
                    else:
                        yield done.table()
            for done in held:
                if done.reread:
                    pending.append(done.table())
                else:
                    yield done.table()
            if reread:
                self.source.check_rows(offset)
                yield from pending
        finally:
            connection.close()

    def _split(
        self, result: pa.Table, offset: int, in_flight: deque[Pending]
    ) -> tuple[_Part, bool]:
        """A batch's columnar rows, with every other row handed to the scalar engine (here, or
        to the pool's workers with at most its `window` pieces of the stream in flight); and
        whether a row had to be read again from the file."""
        import pyarrow as pa
        import pyarrow.compute as pc

        n = result.num_rows
        certain = pc.and_kleene(result["__valid"], result["certain"]).fill_null(False)
        local = pc.indices_nonzero(pc.invert(certain))
        raws = result["__raw"].take(local).to_pylist() if len(local) else []
        schema = _result_schema(tuple(self.columns))
        typed = result.select([column.name for column in self.columns])
        base = [
            pa.array(range(offset, offset + n), pa.int64()),
            pa.repeat(pa.scalar(COLUMNAR), n),
            pa.repeat(True, n),
            pa.repeat(True, n),
            pa.nulls(n, _problem_type()),
        ]
        names = ["row", "engine", "valid", "readable", "problems"]
        table = pa.Table.from_arrays([*base, *typed.columns], names=[*names, *typed.column_names])
        if table.schema != schema:  # DuckDB gives its own types (int32 for a small integer, say)
            table = table.cast(schema)
        if not len(local):
            return _Part(table, certain, [], False), False
        fallback = [offset + index for index in local.to_pylist()]
        applicants = _fallback_applicants(self.source, fallback, raws)
        pool = self._pool_for(len(fallback))
        if pool is None:
            pieces = [self._decide(fallback, applicants, None)]
        else:
            pieces = []
            for start in range(0, len(fallback), POOL_ROWS):
                while in_flight and (len(in_flight) >= pool.window or in_flight[0].ready()):
                    in_flight.popleft().get()
                end = start + POOL_ROWS
                pieces.append(self._decide(fallback[start:end], applicants[start:end], pool))
                in_flight.append(pieces[-1])
        return _Part(table, certain, pieces, False), None in raws

    def aggregate(self, aggregates: Sequence[str]) -> Aggregated:
        """`aggregates` (SQL aggregate expressions over the result columns, `histogram(outcome)`
        say) over the rows the SQL decides, computed by DuckDB without bringing those rows into
        Python; `Aggregated.others` yields the result tables of every other row (decided by the
        scalar engine), in row order. A ruleset without a query has every row in `others`."""
        if self.query is None:
            return Aggregated(None, 0, None, iter(self))
        connection, sql = self._open()
        try:
            # the tallies need no row order; the scalar engine's rows are found by a second,
            # ordered pass, taken only when there are any
            connection.execute("SET preserve_insertion_order = false")
            listed = "".join(f", {expression}" for expression in aggregates)
            found = connection.sql(
                f"SELECT __decided, count(*), count_if(__raw IS NULL OR contains(__raw, chr(1)))"
                f"{listed} FROM (SELECT COALESCE(__valid AND certain, FALSE) AS __decided, * "
                f"FROM ({sql})) GROUP BY __decided"
            ).fetchall()
        except BaseException:
            connection.close()
            raise
        groups = {row[0]: row for row in found}
        decided = groups.get(True)
        others = groups.get(False)
        rows = sum(int(row[1]) for row in found)
        if others is not None and others[2]:
            try:  # a line DuckDB could not read whole is read again from the file: aligned?
                self.source.check_rows(rows)
            except _Misaligned:
                connection.close()
                self.notes = (*self.notes, _MISALIGNED)
                scalar = self._all_scalar()
                return Aggregated(None, 0, scalar.num_rows, iter([scalar]))
        values = None if decided is None else tuple(decided[3:])
        count = 0 if decided is None else int(decided[1])
        if others is None:
            connection.close()
            return Aggregated(values, count, rows, iter(()))
        return Aggregated(values, count, rows, self._others(connection, sql, int(others[1])))

    def _others(self, connection: Any, sql: str, count: int) -> Iterator[pa.Table]:
        """The result tables of the rows the SQL does not decide, from an ordered pass that
        carries only whether each row was decided (and the text of those that were not)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pool = self._pool_for(count)
        if pool is not None:
            pool.start()  # the workers start while DuckDB finds the rows
        size = SCALAR_ROWS if pool is None else POOL_ROWS
        window = 0 if pool is None else pool.window
        pending: deque[Pending] = deque()
        try:
            connection.execute("SET preserve_insertion_order = true")
            relation = connection.sql(
                "SELECT CASE WHEN __decided THEN NULL ELSE __raw END AS __raw, __decided FROM "
                f"(SELECT COALESCE(__valid AND certain, FALSE) AS __decided, __raw FROM ({sql}))"
            )
            offset = 0
            for batches in _grouped(_batches(relation, self.batch_rows), self.batch_rows):
                batch = pa.Table.from_batches(batches)
                local = pc.indices_nonzero(pc.invert(batch["__decided"]))
                positions = [offset + index for index in local.to_pylist()]
                texts = batch["__raw"].take(local).to_pylist() if len(local) else []
                # the scalar engine's rows as tables of SCALAR_ROWS (POOL_ROWS for a worker):
                # their Python records, not the batch, are what memory holds
                for start in range(0, len(positions), size):
                    rows = positions[start : start + size]
                    applicants = _fallback_applicants(
                        self.source, rows, texts[start : start + size]
                    )
                    pending.append(self._decide(rows, applicants, pool))
                    yield from _in_order(pending, window)
                offset += batch.num_rows
            while pending:
                yield pending.popleft().get()
        finally:
            connection.close()


_MISALIGNED = "the file's lines were read by the scalar reader (DuckDB split them differently)"


@dataclass(frozen=True)
class Aggregated:
    """`BatchStream.aggregate`'s answer."""

    values: tuple[Any, ...] | None
    """The aggregates over the rows the SQL decided, in order; None when it decided none."""
    decided: int
    """How many rows the SQL decided."""
    rows: int | None
    """How many rows there are (None when the ruleset has no query: then all are in `others`)."""
    others: Iterator[pa.Table]
    """The result tables (`BatchResult.table`'s columns) of every other row, in row order."""


def _batches(relation: Any, rows: int) -> Any:
    """A relation's record batches of about `rows` rows."""
    fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return fetch(rows)


def _grouped(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[list[pa.RecordBatch]]:
    """Record batches in groups of at least `rows` rows (the last group may be smaller): a
    table scan gives the table's own, often small, batches, and each group costs Python work."""
    group: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        group.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield group
            group, count = [], 0
    if group:
        yield group


def evaluate_batch(
    ruleset: Ruleset, data: Any, *, as_of: datetime.date | None = None
) -> BatchResult:
    """Decide every applicant of a table or file; see `BatchResult` for the columns."""
    _, pa = _modules()
    stream = BatchStream(ruleset, data, as_of=as_of)
    chunks = list(stream)
    if not chunks:
        chunks = [_scalar_rows(ruleset, [], [], stream.columns, as_of)]
    table = pa.concat_tables(chunks)  # each has the schema of `_result_schema`
    return BatchResult(ruleset, table, stream.notes, stream.source, as_of)


@functools.lru_cache(maxsize=64)
def _result_schema(columns: tuple[OutputColumn, ...]) -> Any:
    """The Arrow schema of `BatchResult.table` for these result columns."""
    import pyarrow as pa

    return pa.schema(
        [
            ("row", pa.int64()),
            ("engine", pa.string()),
            ("valid", pa.bool_()),
            ("readable", pa.bool_()),
            ("problems", _problem_type()),
            *((c.name, _arrow_type(c.kind)) for c in columns),
        ]
    )


def _problem_type() -> Any:
    import pyarrow as pa

    return pa.list_(
        pa.struct([("path", pa.string()), ("code", pa.string()), ("message", pa.string())])
    )


@dataclass(frozen=True)
class Unreadable:
    """A row that is not a JSON document: the problems reading it found (plain data, so a
    worker process can be handed it)."""

    problems: tuple[Problem, ...]


def _fallback_applicants(source: _Source, rows: list[int], raws: list[Any]) -> list[Any]:
    """Each fallback row's applicant, or `Unreadable` with the problems reading it found."""
    found: list[Any] = []
    for row, raw in zip(rows, raws, strict=True):
        try:
            found.extend(source.applicants([row], [raw]))
        except DocumentError as error:
            found.append(Unreadable(error.problems))
    return found


def _scalar_rows(
    ruleset: Ruleset,
    applicants: Sequence[Any],
    rows: Sequence[int],
    columns: Sequence[OutputColumn],
    as_of: datetime.date | None,
    ignore: frozenset[str] = frozenset(),
) -> pa.Table:
    import pyarrow as pa

    records: list[dict[str, Any]] = []
    for row, applicant in zip(rows, applicants, strict=True):
        record: dict[str, Any] = {
            "row": row,
            "engine": SCALAR,
            "valid": True,
            "readable": True,
            "problems": None,
        }
        problems: list[Problem] | None = None
        if isinstance(applicant, Unreadable):
            problems = list(applicant.problems)
            record["readable"] = False
        elif not isinstance(applicant, Mapping):
            problems = [Problem((), "type", "an applicant must be a JSON object")]
            record["readable"] = False
        if problems is None:
            try:
                decision = ruleset.evaluate(without(applicant, ignore), as_of=as_of)
            except InvalidApplicant as error:
                problems = list(error.problems)
            else:
                record.update(scalar_columns(ruleset, decision, columns))
        if problems is not None:
            record["valid"] = False
            record["problems"] = [
                {"path": p.path, "code": p.code, "message": p.message} for p in problems
            ]
            record.update(dict.fromkeys(c.name for c in columns))
        records.append(record)
    return pa.Table.from_pylist(records, schema=_result_schema(tuple(columns)))


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {
        "boolean": pa.bool_(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "string": pa.string(),
        "date": pa.date32(),
        "list": pa.list_(pa.string()),
    }[kind]


__all__ = [
    "BATCH_ROWS",
    "COLUMNAR",
    "POOL_MIN_ROWS",
    "POOL_ROWS",
    "SCALAR",
    "Aggregated",
    "BatchResult",
    "BatchStream",
    "ColumnarEngine",
    "ColumnarMismatch",
    "Pending",
    "ScalarPool",
    "ScalarWork",
    "Unreadable",
    "columnar_engine",
    "columnar_sql",
    "evaluate_batch",
]
