"""The one progress bar of the long verbs: total, rate and time left on a terminal, else nothing.

A bar is drawn on stderr by tqdm (the designer extra) only when stderr is a terminal and
`--quiet` is not given; piped or redirected output, and an install without tqdm, get no bar and
no control characters. Results still go to stdout: `Progress.write` prints a line there
without breaking the bar, and flushes it, so a problem shows as soon as it is found.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

_COUNT_BLOCK = 1 << 20


class Progress:
    """A progress bar for `total` units of work (None when unknown: count and rate only; a
    function is called for it only when a bar is drawn, so piped runs never count)."""

    def __init__(
        self,
        description: str,
        total: int | Callable[[], int | None] | None = None,
        unit: str = "",
        quiet: bool = False,
        scale: bool | None = None,
    ) -> None:
        self._bar: Any = None
        if quiet or not sys.stderr.isatty():
            return
        try:
            tqdm = importlib.import_module("tqdm").tqdm
        except ImportError:
            return
        if callable(total):
            total = total()
        self._bar = tqdm(
            desc=description,
            total=total,
            unit=f" {unit}" if unit else "it",
            unit_scale=scale if scale is not None else (total is None or total >= 10_000),
            file=sys.stderr,
            leave=False,
        )

    @property
    def shown(self) -> bool:
        """Whether a bar is drawn."""
        return self._bar is not None

    def total(self, total: int | None) -> None:
        """Set the total once it is known (a cohort's rows are counted only for a drawn bar)."""
        if self._bar is not None and total is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def update(self, done: int = 1) -> None:
        """`done` more units finished."""
        if self._bar is not None:
            self._bar.update(done)

    def write(self, text: str) -> None:
        """Print `text` on stdout now, above the bar when one is drawn."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stdout)
        else:
            print(text)
        sys.stdout.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def count_lines(path: str | Path, header: bool = False) -> int | None:
    """The number of non-empty lines of a file (less a CSV header row), for a bar's total;
    None when the file cannot be read (the verb reports that itself)."""
    try:
        with open(path, "rb") as handle:
            count = 0
            last = b"\n"
            while block := handle.read(_COUNT_BLOCK):
                count += block.count(b"\n")
                last = block[-1:]
    except OSError:
        return None
    if last != b"\n":
        count += 1
    return max(count - 1, 0) if header else count


def quiet_option(parser: Any) -> None:
    """`--quiet`: no progress bar, even on a terminal."""
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar (one is shown on a terminal)"
    )
