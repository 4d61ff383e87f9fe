"""Evaluation backends: the compiled native evaluator (default) and durable-rules' Rete engine.

`select_backend(name)` returns what `decide` needs to evaluate with that backend. Only
`backends/durable.py` imports durable-rules, and only when that backend is asked for, so the
library runs without the extra (and on Python 3.13+, where durable-rules does not import).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from recovery_screening.errors import BackendUnavailable, install_hint

if TYPE_CHECKING:  # the names of the backends are read without loading the engine (--help)
    from recovery_screening.compiler import CompiledRuleset
    from recovery_screening.three_valued import Judge

NATIVE = "native"
DURABLE = "durable"
BACKENDS = (NATIVE, DURABLE)
INSTALL_HINT = f"install it (CPython 3.10-3.12) {install_hint('durable')}"

JudgeFactory: TypeAlias = "Callable[[CompiledRuleset], Judge | None]"


def _native(compiled: CompiledRuleset) -> Judge | None:
    return None


def select_backend(name: str) -> JudgeFactory:
    """The factory that prepares `name`'s judge for a compiled ruleset (None: native closures).

    Raises BackendUnavailable for an unknown name, or for `durable` when durable-rules is not
    installed or cannot run on this Python, saying how to install it."""
    if name == NATIVE:
        return _native
    if name != DURABLE:
        raise BackendUnavailable(
            f"unknown backend '{name}': the backends are {', '.join(BACKENDS)}"
        )
    if sys.version_info >= (3, 13):
        raise BackendUnavailable(
            "the durable backend needs durable-rules, whose C extension does not run on "
            f"Python {sys.version_info.major}.{sys.version_info.minor}; use Python 3.10-3.12 and "
            + INSTALL_HINT
        )
    try:
        from recovery_screening.backends.durable import DurableJudge
    except ImportError:
        raise BackendUnavailable(
            "the durable backend needs the optional durable-rules package; " + INSTALL_HINT
        ) from None
    return DurableJudge


__all__ = ["BACKENDS", "DURABLE", "NATIVE", "JudgeFactory", "select_backend"]
