"""Imports run one way (docs/architecture.md): the core knows nothing of its outer packages,
the import graph of src/ has no cycle, and importing the package loads no heavy dependency."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).parent.parent / "src"
PACKAGE = "recovery_screening"
OUTER = ("records", "publication", "interchange", "designer", "next_steps", "cli")
"""The outer packages: each takes the core's objects (a decision, a ruleset) as arguments."""
HEAVY = ("pydantic", "jsonschema", "yaml", "rfc8785")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}
CORE = sorted(
    name
    for name in MODULES
    if name != PACKAGE and name.split(".")[1] not in OUTER and not name.endswith("__main__")
)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every module `module` imports, at import time or later (inside a function), leaving out
    `if TYPE_CHECKING:` blocks, which never run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), module, is_package)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names)
        else:
            yield from _imports(node, module, is_package)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = _imports(tree, name, path.name == "__init__.py")
        graph[name] = {target for target in found if target in MODULES and target != name}
    return graph


def test_the_graph_finds_the_modules_and_their_imports() -> None:
    graph = _graph()
    assert f"{PACKAGE}.compiler" in graph[f"{PACKAGE}.ruleset"]
    assert f"{PACKAGE}.models" in graph[f"{PACKAGE}.decision"]  # a lazy import counts
    assert f"{PACKAGE}.models" not in graph[f"{PACKAGE}.explain"]  # TYPE_CHECKING does not
    assert f"{PACKAGE}.decision" in CORE and f"{PACKAGE}.records.record" not in CORE


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The edges that close a cycle, found by depth-first search."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    closing: set[tuple[str, str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                closing.add((node, target) if node < target else (target, node))
            elif target not in state:
                visit(target)
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return closing


def test_the_cycle_search_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {("a", "c")}
    assert _cycles({"a": {"b"}, "b": set()}) == set()


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles(_graph()) == set()


def test_the_core_imports_no_outer_package() -> None:
    graph = _graph()
    outer = tuple(f"{PACKAGE}.{name}" for name in OUTER)
    upward = {
        module: sorted(t for t in graph[module] if t.startswith(outer) or t == PACKAGE)
        for module in CORE
    }
    assert {module: targets for module, targets in upward.items() if targets} == {}


BY_NAME = {(f"{PACKAGE}.decision", f"{PACKAGE}.next_steps")}
"""Core modules that reach an outer module by name at call time (`importlib.import_module`),
as the package facade reaches its public names: `Decision.next_steps()` delegates to the outer
`next_steps` function. Nothing else in the core may do this."""


def _by_name(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
        ):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                yield argument.value
            elif isinstance(argument, ast.Name):
                yield argument.id


def _constants(tree: ast.AST) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_the_core_reaches_outer_modules_by_name_only_where_listed() -> None:
    found = set()
    for module in CORE:
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        constants = _constants(tree)
        for target in _by_name(tree):
            found.add((module, constants.get(target, target)))
    outer = tuple(f"{PACKAGE}.{name}" for name in OUTER)
    assert {(module, target) for module, target in found if target.startswith(outer)} == BY_NAME


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(result.stdout.split())


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    loaded = _loaded_after("import recovery_screening")
    assert sorted(name for name in HEAVY if name in loaded) == []
    assert sorted(name for name in loaded if name.startswith(f"{PACKAGE}.")) == [
        f"{PACKAGE}._version"
    ]


def test_help_loads_no_heavy_dependency() -> None:
    """`recovery-screening --help` and every verb's `--help` load neither pydantic, jsonschema,
    PyYAML nor rfc8785: each verb imports what it needs when it runs."""
    loaded = _loaded_after(
        "import contextlib, io\n"
        "from recovery_screening.cli import build_parser, main\n"
        "verbs = [choice for action in build_parser()._actions\n"
        "         for choice in getattr(action, 'choices', None) or () if choice]\n"
        "assert 'evaluate' in verbs and 'replay' in verbs, verbs\n"
        "for argv in [['--help'], *([verb, '--help'] for verb in verbs)]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)"
    )
    assert sorted(name for name in HEAVY if name in loaded) == []
    assert f"{PACKAGE}.ruleset" not in loaded and f"{PACKAGE}.compiler" not in loaded


def test_public_names_still_resolve_lazily() -> None:
    loaded = _loaded_after(
        "import recovery_screening as rs\nassert rs.load_ruleset is rs.ruleset.load_ruleset"
        "\nassert 'DecisionRecord' in dir(rs)"
    )
    assert f"{PACKAGE}.ruleset" in loaded and f"{PACKAGE}.records.record" not in loaded


def _durable_rules_imports() -> bool:
    try:
        importlib.import_module("durable_rules_engine")
    except ImportError:
        return False
    return True


def test_importing_the_core_loads_no_outer_package() -> None:
    # The durable backend imports durable-rules, an optional extra that Python 3.13 lacks.
    durable = f"{PACKAGE}.backends.durable"
    core = [module for module in CORE if module != durable or _durable_rules_imports()]
    statement = "\n".join(f"import {module}" for module in core)
    loaded = _loaded_after(statement)
    outer = tuple(f"{PACKAGE}.{name}" for name in OUTER)
    assert sorted(name for name in loaded if name.startswith(outer)) == []
    assert "pydantic" not in _loaded_after(
        f"from {PACKAGE} import load_ruleset\nimport {PACKAGE}.decision, {PACKAGE}.evaluate"
    )


def test_designer_tools_evaluate_through_the_facade() -> None:
    graph = _graph()
    designer = [name for name in graph if name.startswith(f"{PACKAGE}.designer")]
    assert designer
    assert {name: f"{PACKAGE}.evaluate" in graph[name] for name in designer} == dict.fromkeys(
        designer, False
    )
