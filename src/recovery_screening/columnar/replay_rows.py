"""Replay on the columnar engine: a log's inputs decided by one streamed query, and each row's
`Decision` built from its result columns and the applicant, without deciding it again.

`LogRows` runs the ruleset's query over the `input` member of every line of a JSON Lines file
(a decision-record log, or a file of `{"record_id", "input"}` entries) in a thread of its own,
so DuckDB decides the next batch while the caller checks the records of this one. Each row
carries a member of its line (the record's `record_hash`, the entry's `record_id`): a row is
handed out only for the line it was read from. `decision_from_row` builds the `Decision` from a
row where the columns hold the whole trace (format v1, every decision rule decided, no
fail-safe); elsewhere it returns None and the caller decides with the scalar engine.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recovery_screening.columnar.batch import columnar_engine, result_columns
from recovery_screening.columnar.sources import jsonl_loader
from recovery_screening.decision import Decision, Trace
from recovery_screening.errors import InvalidApplicant
from recovery_screening.evaluate import check_applicant
from recovery_screening.outcomes import DEFAULT_RULE, OUTCOMES

if TYPE_CHECKING:
    from recovery_screening.ruleset import Ruleset

ROWS_PER_BATCH = 8192
LOOKAHEAD = 16
"""Rows a line with no row of its own may be ahead of (a line DuckDB read that Python did not)."""
_RESULT_FLAGS = ("outcome", "deciding", "needs", "fail_safe")


@dataclass(frozen=True)
class RowPlan:
    """How a ruleset's Decision is put together from its result columns: which columns are
    facts, and the decision rules by id. None when the columns cannot hold a whole trace."""

    facts: tuple[str, ...]
    decisions: tuple[str, ...]
    index: Mapping[str, int]
    decision_columns: tuple[str, ...]
    domain_columns: tuple[tuple[tuple[str, ...], str, str], ...]
    columns: tuple[str, ...]
    """Every result column the Decision is built from."""


def row_plan(ruleset: Ruleset) -> RowPlan | None:
    """The plan for a format v1 ruleset whose explanation reads only answers and result
    columns; None otherwise (v2 decides exactly over missing answers: its trace has more)."""
    compiled = ruleset.compiled
    if compiled.format_version != 1 or compiled.advisories:
        return None
    columns = {column.name for column in result_columns(ruleset)}
    facts = [domain.score_key for domain in compiled.domains]
    facts += [domain.band_key for domain in compiled.domains]
    for instrument in compiled.instruments:
        facts.append(instrument.total_key)
        if instrument.bands is not None:
            facts.append(instrument.band_key)
        facts += [subscore.key for subscore in instrument.subscores]
        facts += [flag.key for flag in instrument.flags]
    inputs = {field.name for field in compiled.inputs.fields}
    read = {name for rule in compiled.decisions for name in rule.references}
    read.update(name for d in compiled.domains for rule in d.rules for name in rule.references)
    if not set(facts) <= columns or not read <= inputs | set(facts):
        return None
    decisions = tuple(rule.id for rule in compiled.decisions)
    domains = tuple(
        (
            tuple(f"rule:{rule.id}" for rule in domain.rules),
            f"{domain.name}.score_low",
            f"{domain.name}.score_high",
        )
        for domain in compiled.domains
    )
    decision_columns = tuple(f"rule:{rule}" for rule in decisions)
    read_columns = {*facts, *decision_columns, *_RESULT_FLAGS}
    for rules, low, high in domains:
        read_columns.update((*rules, low, high))
    return RowPlan(
        tuple(facts),
        decisions,
        {rule: i for i, rule in enumerate(decisions)},
        decision_columns,
        domains,
        tuple(sorted(read_columns)),
    )


def decision_from_row(
    ruleset: Ruleset, plan: RowPlan, applicant: Any, row: Mapping[str, Any]
) -> Decision | None:
    """The Decision `ruleset.evaluate(applicant)` gives, built from the applicant's answers and
    its row of results; None where the row does not hold the whole trace (or the applicant
    breaks the contract: the scalar engine then reports it)."""
    compiled = ruleset.compiled
    if isinstance(row, Row):
        columns, at = row.columns, row.index
        cells = {name: columns[name][at] for name in plan.columns}
    else:
        cells = {name: row[name] for name in plan.columns}
    cell = cells.__getitem__
    truths = tuple(cell(name) for name in plan.decision_columns)
    if cell("fail_safe") is not False or None in truths:
        return None
    try:
        facts = check_applicant(compiled, applicant)
    except InvalidApplicant:
        return None
    for name in plan.facts:
        facts[name] = cell(name)
    domains = tuple(
        (tuple(cell(name) for name in rules), cell(low), cell(high))
        for rules, low, high in plan.domain_columns
    )
    deciding = cell("deciding")
    indexes = () if deciding == [DEFAULT_RULE] else tuple(plan.index[rule] for rule in deciding)
    trace = Trace(
        compiled,
        facts,
        domains,
        truths,
        OUTCOMES.index(cell("outcome")),
        indexes,
        False,
        tuple(cell("needs")),
        ruleset.backend,
        ((),) * len(truths),
    )
    return Decision(trace)


class LogRows:
    """The result rows of one ruleset over the `member` of every line of `path`, in file order,
    each handed out by `take(key)` for the line whose `key` member it was read with."""

    def __init__(
        self,
        ruleset: Ruleset,
        path: str,
        *,
        member: str = "input",
        key: str = "record_hash",
        batch_rows: int = ROWS_PER_BATCH,
    ) -> None:
        self.ruleset = ruleset
        self.plan = row_plan(ruleset)
        self._path = path
        self._member = member
        self._key = key
        self._batch_rows = batch_rows
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=3)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._keys: list[Any] = []
        self._rows: list[Row | None] = []
        self._position = 0
        self._done = self.plan is None or columnar_engine(ruleset).query is None
        self.failed: BaseException | None = None

    def built(self, applicant: Any, row: Mapping[str, Any]) -> Decision | None:
        """The Decision of `applicant` built from its `row` (see `decision_from_row`)."""
        if self.plan is None:
            return None
        return decision_from_row(self.ruleset, self.plan, applicant, row)

    def take(self, key: object) -> Row | None:
        """The row read with `key` if it is among the next rows (consumed with those before
        it), else None (nothing consumed)."""
        if not isinstance(key, str):
            return None
        for _ in range(2):
            window = self._keys[self._position : self._position + LOOKAHEAD]
            if key in window:
                found = self._position + window.index(key)
                self._position = found + 1
                return self._rows[found]
            if self._done or self._position + LOOKAHEAD <= len(self._keys):
                return None
            self._next_batch()
        return None

    def _next_batch(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._produce, daemon=True)
            self._thread.start()
        item = self._queue.get()
        kept = self._keys[self._position :], self._rows[self._position :]
        self._keys, self._rows = list(kept[0]), list(kept[1])
        self._position = 0
        if item is None:
            self._done = True
            return
        if isinstance(item, BaseException):
            self.failed = item
            self._done = True
            return
        keys, rows = item
        self._keys += keys
        self._rows += rows

    def _produce(self) -> None:
        try:
            for batch in self._batches():
                if self._stop.is_set():
                    break
                self._queue.put(batch)
        except BaseException as error:
            # handed to the reader, who then decides by the scalar engine
            self._queue.put(error)
            return
        self._queue.put(None)

    def _batches(self) -> Iterator[tuple[list[Any], list[Row | None]]]:
        import duckdb

        query = columnar_engine(self.ruleset).query
        assert query is not None
        key = self._key
        columns = [column.name for column in result_columns(self.ruleset)]
        loader = jsonl_loader(self.ruleset.compiled, self._path, member=self._member, carry=(key,))
        connection = duckdb.connect()
        try:
            connection.execute("SET enable_progress_bar = false")
            # one thread: the replaying thread checks records on the other core, and DuckDB's
            # parallel JSON scan holds much more of the log in memory (737 against 469 MiB)
            connection.execute("SET threads = 1")
            connection.execute(f"CREATE TEMP VIEW __typed AS {loader.sql}")
            sql = query.sql("__typed", (key, "__valid"))
            relation = connection.sql(sql)
            fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
            for batch in fetch(self._batch_rows):
                yield _rows(batch, key, columns)
        finally:
            connection.close()

    def close(self) -> None:
        """Stop reading (the thread ends after the batch it is on)."""
        self._stop.set()
        while self._thread is not None and self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                continue


class Row(Mapping[str, Any]):
    """One row of a batch's result columns, read in place (no dict per row)."""

    __slots__ = ("columns", "index")

    def __init__(self, columns: Mapping[str, list[Any]], index: int) -> None:
        self.columns = columns
        self.index = index

    def __getitem__(self, name: str) -> Any:
        return self.columns[name][self.index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


def _rows(batch: Any, key: str, columns: Sequence[str]) -> tuple[list[Any], list[Row | None]]:
    """(keys, rows) of a batch: a row is None unless the SQL decided it (valid and certain)."""
    keys = batch.column(key).to_pylist()
    values = {name: batch.column(name).to_pylist() for name in columns}
    return keys, [
        Row(values, index) if valid and certain else None
        for index, (valid, certain) in enumerate(
            zip(
                batch.column("__valid").to_pylist(),
                batch.column("certain").to_pylist(),
                strict=True,
            )
        )
    ]


__all__ = ["LogRows", "RowPlan", "decision_from_row", "row_plan"]
