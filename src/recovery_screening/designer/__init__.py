"""Tools for program designers: lint, test cases, simulate, diff and property checks.

`check` and the hypothesis strategies need the `designer` extra; nothing here imports them
until they are used.
"""

from recovery_screening.designer.testing import assert_case, pytest_cases

__all__ = ["assert_case", "pytest_cases"]
