"""CSV cohort files: the header, the rows, and how a cell becomes an answer.

A CSV cohort has a header of applicant paths (`phq9.q9`); an empty cell (or one of white space
only) is a missing answer; a cell is converted by its input's declared type: `true`/`false` (or
`1`/`0`, `yes`/`no`, any case) for booleans, whole numbers for integers, decimals for numbers,
the text itself (without the white space around it) for enums, strings and dates. A side-car
column `cohort.<name>` (see designer.equity) is kept as its text under the row's `cohort` key.
A row of blank cells only is no applicant; a row with more cells than the header is refused.

`CsvRows` is the one reader of such a file: the scalar engine's chunks and the columnar engine's
batches both read it, so both see the same rows, line numbers and errors.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from recovery_screening.errors import DocumentError, Problem
from recovery_screening.fields import InputField

SIDECAR = "cohort"
"""The top-level key of a cohort row that holds its side-car columns."""
SIDECAR_PREFIX = SIDECAR + "."
TRUE_CELLS = frozenset({"true", "1", "yes"})
FALSE_CELLS = frozenset({"false", "0", "no"})
_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


def is_sidecar_column(column: str) -> bool:
    return column.startswith(SIDECAR_PREFIX) and len(column) > len(SIDECAR_PREFIX)


class CellError(Exception):
    """A CSV cell cannot be converted to its input's type; names the column, not the value."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message

    @property
    def path(self) -> str:
        """The JSON path a problem of this cell is reported at (`$` for the whole row)."""
        return "$" if self.column == "$" else "$." + self.column

    def problem(self) -> Problem:
        return Problem((), "csv-cell", self.message, root=self.path)


def convert_cell(field: InputField, cell: str) -> Any:
    """A non-blank cell as its input's answer; raises CellError when it is not of the type."""
    text = cell.strip()
    if field.kind == "boolean":
        lowered = text.lower()
        if lowered in TRUE_CELLS:
            return True
        if lowered in FALSE_CELLS:
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
    """One CSV row as an applicant object; raises CellError for a cell of the wrong type (the
    first such cell, in the header's order)."""
    applicant: dict[str, Any] = {}
    if len(cells) > len(header):
        raise CellError("$", "the row has more cells than the header")
    for column, cell in zip(header, cells, strict=False):
        if not cell.strip():
            continue
        field = fields.get(column)
        if field is None:
            if not is_sidecar_column(column):
                raise CellError(column, "not an input of the ruleset")
            applicant.setdefault(SIDECAR, {})[column[len(SIDECAR_PREFIX) :]] = cell.strip()
            continue
        value = convert_cell(field, cell)
        if field.instrument:
            applicant.setdefault(field.instrument, {})[field.item] = value
        else:
            applicant[column] = value
    return applicant


class _Lines:
    """A binary file's lines as `io.TextIOWrapper(newline="")` gives them to the csv module
    (each ended by a line feed, a carriage return and line feed, or a lone carriage return),
    decoded as UTF-8 (a byte order mark at the start dropped), with the byte offset of the next."""

    def __init__(self, handle: BinaryIO, offset: int) -> None:
        self.handle = handle
        self.offset = offset
        self._first = offset == 0
        self._pending: list[bytes] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if not self._pending:
            raw = self.handle.readline()
            if not raw:
                raise StopIteration
            if b"\r" in raw:
                self._pending = [piece for piece in _LONE_CR.split(raw) if piece]
            else:
                self._pending = [raw]
        piece = self._pending.pop(0)
        text = piece.decode("utf-8-sig" if self._first else "utf-8")
        self._first = False
        self.offset += len(piece)
        return text


class CsvRows:
    """A CSV cohort read once from a binary file: `header` (None for an empty file), then, by
    iterating, each row with a non-blank cell as (line, byte offset, cells). The line is the
    last line of the row (a quoted cell can span lines), as the csv module counts them.

    A row that cannot be read (malformed CSV, not UTF-8) raises DocumentError naming its line."""

    def __init__(self, handle: BinaryIO, name: str, *, offset: int = 0) -> None:
        self.name = name
        self._lines = _Lines(handle, offset)
        self._reader = csv.reader(self._lines)
        self.header: tuple[str, ...] | None = None
        if offset:
            return
        try:
            self.header = tuple(next(self._reader))
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError):
            raise DocumentError(
                name, [Problem((), "bad-csv", "the header row cannot be read", root="line 1")]
            ) from None

    def __iter__(self) -> Iterator[tuple[int, int, list[str]]]:
        reader = self._reader
        while True:
            start = self._lines.offset
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as error:
                # a line that does not decode has not been counted yet
                line = reader.line_num + (1 if isinstance(error, UnicodeDecodeError) else 0)
                raise DocumentError(
                    self.name,
                    [Problem((), "bad-csv", "this row cannot be read", root=f"line {line}")],
                ) from None
            if any(cell.strip() for cell in cells):
                yield reader.line_num, start, cells
