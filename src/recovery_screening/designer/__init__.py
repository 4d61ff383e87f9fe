"""Tools for program designers: lint, test cases, simulate, diff and property checks.

`check` and the hypothesis strategies need the `designer` extra. The tools are imported when
first used (`assert_case` and `pytest_cases` through this module's `__getattr__`), so that
reading `designer.defaults` loads none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recovery_screening.designer.testing import assert_case, pytest_cases

__all__ = ["assert_case", "pytest_cases"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from recovery_screening.designer import testing

        return getattr(testing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
