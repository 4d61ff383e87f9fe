"""The durable-rules backend: every rule condition is decided by durable-rules' Rete engine.

Each condition's typed syntax tree becomes TWO durable-rules conditions by Kleene's rules,
IS-TRUE and IS-FALSE (TRUE(a and b) = TRUE(a) ∧ TRUE(b); FALSE(a and b) = FALSE(a) ∨ FALSE(b);
TRUE(x > 3) = x present ∧ x > 3; FALSE(x > 3) = x present ∧ x <= 3; ...). A condition that
matches neither is unknown. A missing answer is simply absent from the asserted fact.

The Rete network sees comparisons of fact fields with literals or other fields, `and`, `or`,
`not` and presence tests. What durable-rules cannot express is computed in Python before the
fact is asserted, as a derived fact field (documented in docs/backends.md): arithmetic,
function values (count_true, sum, min, max, abs, days_between) and the positions of
ordered-choice values compared with each other. Instrument scoring and domain aggregation run in
Python between the Rete stages (domain rules → scores and bands → decision rules → v2
advisories), through the same `evaluate.decide` as the native backend, so the decisions are
byte-identical.

durable-rules' nature, handled here:
- rule and ruleset names are global inside a `Host`, and registering a name twice fails: each
  compiled ruleset gets its own private Host;
- the Host starts background timer threads that dispatch actions and timers forever; this
  backend uses neither and disables them, so every action runs inside `assert_fact`;
- each evaluation stage uses a fresh session id and deletes its state afterwards, so memory
  stays flat however many applicants are evaluated;
- `assert_fact` raises MessageNotHandledException when no rule matches, and in durable-rules
  2.0.28 deleting the state of such a session then corrupts the heap (and not deleting it fills
  the state table): every stage has a sentinel rule that matches every applicant fact, so an
  assertion is always handled; should the exception occur anyway, it is reported as an error;
- a condition that only tests that a field is absent (`$nex`) would also match the engine's own
  session-state fact (and `assert_fact` then loops forever): every condition is AND-ed with a
  marker field only the applicant's fact carries;
- the C engine keeps every ruleset ever created until it is deleted explicitly: a judge deletes
  its rulesets when it is garbage-collected, so loading many rulesets does not leak;
- a Host is not safe to drive from several threads: one lock per compiled ruleset serialises
  the assert / collect / delete sequence;
- the C engine parses the JSON text of facts and ruleset definitions itself, and its number
  grammar accepts an exponent only after a fraction (`1.0e-05`, never `1e-05`, the form Python
  writes for small and large floats): every fact and definition reaches it through
  `engine_json`, which writes each float as its shortest round-trip digits with a fraction
  before any exponent (the C engine reads them with `atof`, so the double is the same), and
  infinities as an exponent beyond the double range (read back as the same infinity);
- the C engine reads integers with `atol` and compares an integer with a double as doubles:
  integers are exact there only within ±2**53, so a value beyond that range (which Python
  compares exactly) is refused with BackendUnavailable rather than decided differently, and a
  NaN, which no comparison can express the way Python orders it, likewise.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import durable_rules_engine  # type: ignore[import-not-found,unused-ignore]
from durable import engine  # type: ignore[import-untyped,import-not-found,unused-ignore]

from recovery_screening.compiler import CompiledRuleset
from recovery_screening.errors import BackendUnavailable
from recovery_screening.expressions import (
    Call,
    Comparison,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    Not,
)
from recovery_screening.expressions.closures import build_evaluator

MARKER = "screening_applicant"
"""A field only the asserted applicant fact carries (never durable-rules' own state fact)."""

Condition: TypeAlias = "dict[str, Any] | bool"
"""A durable-rules condition, or True (always matches) / False (never matches)."""

_RULESET_NUMBERS = itertools.count(1)
"""Ruleset names unique in the process: durable-rules' C engine is not told which Host a
ruleset belongs to, so names are never reused, even across private Hosts."""

_ORDERING = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


_EXACT_INTEGER = 2**53
"""Integers the C engine compares exactly with each other and with doubles: within ±2**53."""


class _Inexact(ValueError):
    """A value the C engine cannot hold so that it compares as Python compares it."""


def _float_text(value: float) -> str:
    if math.isnan(value):
        raise _Inexact("not a number")
    if math.isinf(value):
        return "1.0e999" if value > 0 else "-1.0e999"
    text = repr(value)
    mantissa, exponent, power = text.partition("e")
    if exponent and "." not in mantissa:
        return f"{mantissa}.0e{power}"
    return text


def engine_json(value: object) -> str:
    """`value` as JSON text durable-rules' C parser reads back as the same values.

    Like `json.dumps(value, ensure_ascii=False)`, except that every float is written with a
    fraction before any exponent (`1.0e-05`, `5.0e-324`, `1.0e+16`): the C parser refuses an
    exponent directly after the integer digits (error 204). Raises `_Inexact` for a NaN and for
    an integer beyond ±2**53."""
    if value is None or value is True or value is False or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        if -_EXACT_INTEGER <= value <= _EXACT_INTEGER:
            return str(value)
        raise _Inexact("an integer beyond 2**53")
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(
                f"{json.dumps(str(key), ensure_ascii=False)}:{engine_json(item)}"
                for key, item in value.items()
            )
            + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(engine_json(item) for item in value) + "]"
    raise TypeError(f"cannot write a {type(value).__name__} for durable-rules")


def _exact(value: float) -> bool:
    """Whether the C engine holds `value` so that it compares as Python compares it."""
    if isinstance(value, float):
        return not math.isnan(value)
    return -_EXACT_INTEGER <= value <= _EXACT_INTEGER


def fact_value(value: object) -> object:
    """A fact value as durable-rules compares it: dates become day numbers."""
    if isinstance(value, datetime.date):
        return value.toordinal()
    return value


class _ExactRuleset(engine.Ruleset):  # type: ignore[misc]
    """durable-rules' Ruleset, with the definition and every fact written by `engine_json`
    (durable-rules writes them with `json.dumps`, whose floats its C parser may refuse)."""

    def __init__(self, name: str, host: engine.Host, definition: dict[str, Any]) -> None:
        self._actions: dict[str, Any] = {}
        self._name = name
        self._host = host
        for rule_name, rule in definition.items():
            self._actions[rule_name] = engine.Promise(rule.pop("run"))
        self._handle = durable_rules_engine.create_ruleset(name, engine_json(definition))
        self._definition = definition

    def assert_fact(self, fact: dict[str, Any]) -> Any:
        return self._handle_result(
            durable_rules_engine.assert_fact(self._handle, engine_json(fact)), fact
        )


class _PrivateHost(engine.Host):  # type: ignore[misc]
    """A Host without the background dispatch and timer threads: this backend posts no events
    and starts no timers, and every action it needs runs synchronously inside `assert_fact`.
    Its rulesets are `_ExactRuleset`s."""

    def _run(self) -> None:
        return None

    def register_rulesets(self, definitions: dict[str, dict[str, Any]]) -> None:
        for name, definition in definitions.items():
            if name in self._ruleset_directory:
                raise ValueError(f"durable-rules ruleset {name} is already registered")
            ruleset = _ExactRuleset(name, self, definition)
            self._ruleset_directory[name] = ruleset
            self._ruleset_list.append(ruleset)


@dataclass(frozen=True)
class _Stage:
    """One Rete stage: the domain's (or the decision rules') conditions as one durable ruleset."""

    ruleset: str | None
    inputs: tuple[tuple[str, str], ...]
    derived: tuple[tuple[str, Callable[[Mapping[str, Any]], object]], ...]
    static: tuple[object, ...]
    definition: dict[str, Any]


class _Translator:
    """Typed syntax trees → IS-TRUE / IS-FALSE durable-rules conditions, and the fact fields they
    read (inputs under short keys, derived values computed in Python)."""

    def __init__(self) -> None:
        self.inputs: dict[str, str] = {}
        self.derived: dict[Node, str] = {}
        self.derived_evaluators: dict[str, Callable[[Mapping[str, Any]], object]] = {}

    # -- fields ----------------------------------------------------------------------------

    def field(self, node: Node) -> str:
        """The fact key holding `node`'s value: the input itself, or a derived value."""
        if isinstance(node, Name):
            return self.inputs.setdefault(node.name, f"v{len(self.inputs)}")
        return self._derive(node, build_evaluator(node))

    def _derive(self, node: Node, evaluate: Callable[[Mapping[str, Any]], object]) -> str:
        key = self.derived.get(node)
        if key is None:
            key = f"d{len(self.derived)}"
            self.derived[node] = key
            self.derived_evaluators[key] = evaluate
        return key

    def _enum_position(self, node: Node) -> str:
        """A derived field: the position of an ordered choice's value in its declared order."""
        assert node.type is not None
        positions = {value: index for index, value in enumerate(node.type.values)}
        evaluate = build_evaluator(node)

        def position(facts: Mapping[str, Any]) -> object:
            return positions.get(evaluate(facts))

        return self._derive(Call("position", (node,), column=node.column), position)

    # -- truth -----------------------------------------------------------------------------

    def truth(self, node: Node) -> tuple[Condition, Condition]:
        """(IS-TRUE, IS-FALSE) of a boolean node."""
        if isinstance(node, Literal):
            return bool(node.value), not node.value
        if isinstance(node, Name):
            key = self.field(node)
            return {key: True}, {key: False}
        if isinstance(node, Not):
            is_true, is_false = self.truth(node.operand)
            return is_false, is_true
        if isinstance(node, Logical):
            return self._logical(node.operator, node.operands)
        if isinstance(node, Call) and node.function in ("all_of", "any_of"):
            return self._logical("and" if node.function == "all_of" else "or", node.arguments)
        if isinstance(node, Call) and node.function in ("is_missing", "is_known"):
            key = self.field(node.arguments[0])
            missing, known = {"$nex": {key: 1}}, {"$ex": {key: 1}}
            return (missing, known) if node.function == "is_missing" else (known, missing)
        if isinstance(node, Comparison):
            return self._comparison(node)
        key = self.field(node)
        return {key: True}, {key: False}

    def _logical(self, operator: str, operands: Sequence[Node]) -> tuple[Condition, Condition]:
        truths = [self.truth(operand) for operand in operands]
        if operator == "and":
            return _all([t for t, _ in truths]), _any([f for _, f in truths])
        return _any([t for t, _ in truths]), _all([f for _, f in truths])

    def _comparison(self, node: Comparison) -> tuple[Condition, Condition]:
        left, right, op = node.left, node.right, str(node.operator)
        if op in ("in", "not in"):
            assert isinstance(right, ListLiteral)
            values = [fact_value(item.value) for item in right.items]
            inside = self._membership(self.field(left), values)
            return inside if op == "in" else (inside[1], inside[0])
        if isinstance(left, Literal) and not isinstance(right, Literal):
            left, right, op = right, left, _MIRRORED[op]
        left_type = left.type
        if left_type is not None and left_type.kind == "enum" and op in _ORDERING:
            if isinstance(left, Name) and isinstance(right, Literal):
                position = left_type.values.index(str(right.value))
                allowed = [
                    value
                    for index, value in enumerate(left_type.values)
                    if _holds(op, index, position)
                ]
                return self._membership(self.field(left), allowed)
            left_key = self._enum_position(left)
            right_key = self._enum_position(right)
            return _compare(left_key, op, {"$m": right_key}, right_key), _compare(
                left_key, _NEGATED[op], {"$m": right_key}, right_key
            )
        left_key = self.field(left)
        if isinstance(right, Literal):
            value = fact_value(right.value)
            return _compare(left_key, op, value, None), _compare(
                left_key, _NEGATED[op], value, None
            )
        right_key = self.field(right)
        reference = {"$m": right_key}
        return _compare(left_key, op, reference, right_key), _compare(
            left_key, _NEGATED[op], reference, right_key
        )

    @staticmethod
    def _membership(key: str, values: Sequence[object]) -> tuple[Condition, Condition]:
        present: dict[str, Any] = {"$ex": {key: 1}}
        is_true = _any([{key: value} for value in values])
        is_false = _all([present, *({"$neq": {key: value}} for value in values)])
        return is_true, is_false


def _delete_rulesets(handles: list[Any]) -> None:
    for handle in handles:
        durable_rules_engine.delete_ruleset(handle)


def _ignore(closure: Any) -> None:
    return None


def _holds(op: str, a: int, b: int) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _compare(key: str, op: str, right: object, right_key: str | None) -> Condition:
    """`key op right` where both sides are present (right: a literal or a field reference)."""
    present: list[Condition] = [{"$ex": {key: 1}}]
    if right_key is not None:
        present.append({"$ex": {right_key: 1}})
    if op == "==":
        test: dict[str, Any] = {key: right}
    elif op == "!=":
        test = {"$neq": {key: right}}
    else:
        test = {_ORDERING[op]: {key: right}}
    return _all([*present, test])


def _all(conditions: Sequence[Condition]) -> Condition:
    if any(condition is False for condition in conditions):
        return False
    kept = [c for c in conditions if c is not True]
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else {"$and": kept}


def _any(conditions: Sequence[Condition]) -> Condition:
    if any(condition is True for condition in conditions):
        return True
    kept = [c for c in conditions if c is not False]
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else {"$or": kept}


class DurableJudge:
    """Decides a compiled ruleset's rule conditions on durable-rules (see the module docstring).

    Instances are safe to share between threads; evaluations are serialised by a lock."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self._prefix = f"screening{next(_RULESET_NUMBERS)}_"
        expression_lists = [
            [rule.expression for rule in domain.rules] for domain in compiled.domains
        ]
        expression_lists.append([rule.expression for rule in compiled.decisions])
        # v2 advisories: one more stage, decided after the outcome (empty for v1 rulesets)
        expression_lists.append([rule.expression for rule in compiled.advisories])
        self._fired: list[tuple[int, bool]] = []
        self._stages = tuple(
            self._stage(index, expressions) for index, expressions in enumerate(expression_lists)
        )
        definitions = {
            stage.ruleset: stage.definition for stage in self._stages if stage.ruleset is not None
        }
        self._host = _PrivateHost()
        if definitions:
            try:
                self._host.set_rulesets(definitions)
            except _Inexact:
                raise BackendUnavailable(
                    f"ruleset {compiled.id}: a literal in its conditions is a number the "
                    "durable-rules backend cannot compare exactly (an integer beyond ±2**53); "
                    "use the native backend"
                ) from None
            handles = [self._host.get_ruleset(name)._handle for name in definitions]
            # the C engine keeps a ruleset until it is deleted: free it with this judge
            weakref.finalize(self, _delete_rulesets, handles)
        self._lock = threading.Lock()
        self._sessions = itertools.count(1)

    def _stage(self, index: int, expressions: Sequence[Node]) -> _Stage:
        translator = _Translator()
        static: list[object] = []
        definition: dict[str, Any] = {}
        for position, expression in enumerate(expressions):
            is_true, is_false = translator.truth(expression)
            if is_true is True or is_false is True:
                static.append(is_true is True)
                continue
            static.append(None)
            for truth, condition in ((True, is_true), (False, is_false)):
                if condition is False:
                    continue
                assert isinstance(condition, dict)
                definition[f"{'t' if truth else 'f'}{position}"] = {
                    "all": [{"m": {"$and": [{MARKER: 1}, condition]}}],
                    "run": self._action(position, truth),
                }
        if definition:
            definition["sentinel"] = {"all": [{"m": {MARKER: 1}}], "run": _ignore}
        return _Stage(
            ruleset=f"{self._prefix}stage{index}" if definition else None,
            inputs=tuple((key, name) for name, key in translator.inputs.items()),
            derived=tuple(translator.derived_evaluators.items()),
            static=tuple(static),
            definition=definition,
        )

    def _action(self, position: int, truth: bool) -> Callable[[Any], None]:
        fired = self._fired

        def record(closure: Any) -> None:
            fired.append((position, truth))

        return record

    @staticmethod
    def _describe(stage: _Stage, key: str) -> str:
        for input_key, name in stage.inputs:
            if input_key == key:
                return f"input {name}"
        return "a value computed from the inputs"

    def __call__(self, stage_index: int, facts: Mapping[str, object]) -> tuple[object, ...]:
        stage = self._stages[stage_index]
        if stage.ruleset is None:
            return stage.static
        fact: dict[str, object] = {MARKER: 1}
        for key, name in stage.inputs:
            value = facts[name]
            if value is not None:
                fact[key] = fact_value(value)
        for key, evaluate in stage.derived:
            value = evaluate(facts)
            if value is not None:
                fact[key] = fact_value(value)
        for key, value in fact.items():
            if isinstance(value, (int, float)) and not _exact(value):
                raise BackendUnavailable(
                    f"{self._describe(stage, key)} (stage {stage_index}) holds a number the "
                    "durable-rules backend cannot compare as Python does (an integer beyond "
                    "±2**53, or not a number); use the native backend"
                )
        truths = list(stage.static)
        with self._lock:
            session = str(next(self._sessions))
            fact["sid"] = session
            fired = self._fired
            fired.clear()
            try:
                self._host.assert_fact(stage.ruleset, fact)
            except engine.MessageNotHandledException:
                fired.clear()
                raise RuntimeError(
                    f"durable-rules did not handle an applicant fact (stage {stage_index}): "
                    "the sentinel rule should always match"
                ) from None
            self._host.delete_state(stage.ruleset, session)
            for position, truth in fired:
                # a rule whose condition holds through two branches of an `or` fires twice
                if truths[position] is not None and truths[position] is not truth:
                    raise AssertionError(
                        f"durable-rules found a condition both true and false (stage {stage_index})"
                    )
                truths[position] = truth
            fired.clear()
        return tuple(truths)


__all__ = ["MARKER", "DurableJudge", "engine_json", "fact_value"]
