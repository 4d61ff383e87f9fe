"""What a worker process of the designer's pool runs for the columnar engine: the rows the SQL
leaves to the scalar engine (`batch.ScalarWork`), decided there (see `batch.ScalarPool`).

Apart from `batch` because it compiles rulesets from data (`ruleset.ruleset_from_data`), and the
core's facade (`ruleset`) imports `batch`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from recovery_screening.columnar.batch import ScalarWork, _scalar_rows
from recovery_screening.ruleset import ruleset_from_data

if TYPE_CHECKING:
    import pyarrow as pa


class ScalarRows:
    """What a worker process runs: `ScalarWork` decided by the scalar engine, into a result
    table with `BatchResult.table`'s columns. The rulesets come as plain data (`ruleset_data`),
    compiled once when the process starts; each piece of work names its ruleset."""

    def __init__(self, rulesets: Sequence[Mapping[str, Any]]) -> None:
        compiled = [ruleset_from_data(data) for data in rulesets]
        self.rulesets = {ruleset.content_hash: ruleset for ruleset in compiled}

    def __call__(self, work: ScalarWork) -> pa.Table:
        ruleset = self.rulesets[work.ruleset]
        return _scalar_rows(
            ruleset, work.applicants, work.rows, work.columns, work.as_of, work.ignore
        )


__all__ = ["ScalarRows"]
