"""Hostile documents get a clear DocumentError in bounded time, never a crash or a value echoed."""

from __future__ import annotations

import pytest

from recovery_screening.document.reader import (
    parse_document_bytes,
    parse_json_text,
    parse_yaml_text,
)
from recovery_screening.errors import DocumentError


def codes(error: DocumentError) -> list[str]:
    return [problem.code for problem in error.problems]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x 1\nb: *x\n", "anchors and aliases"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a: .nan\n", "NaN"),
        ("a: .inf\n", "NaN"),
        ("a: " + "9" * 5000 + "\n", "at most 30 digits"),
        ("a: [1, 2\n", "line"),
        ("- - - - -\n  bad: [\n", "line"),
    ],
)
def test_yaml_refusals(text: str, message: str) -> None:
    with pytest.raises(DocumentError) as raised:
        parse_yaml_text(text, "doc.yaml")
    assert message in str(raised.value)


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
    with pytest.raises(DocumentError, match="aliases"):
        parse_yaml_text(bomb, "bomb.yaml")


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_is_refused_without_recursion(opener: str) -> None:
    text = opener * 50_000
    with pytest.raises(DocumentError) as raised:
        parse_json_text(text, "deep.json")
    assert codes(raised.value) == ["too-deep"]
    with pytest.raises(DocumentError):
        parse_yaml_text(text, "deep.yaml")


def test_deep_block_yaml_is_refused() -> None:
    text = "".join(" " * depth + "k:\n" for depth in range(0, 2000, 1))
    with pytest.raises(DocumentError):
        parse_yaml_text(text, "deep.yaml")


def test_yaml_scalars_are_json_like() -> None:
    document = parse_yaml_text("a: yes\nb: no\nc: 2025-01-01\nd: true\ne: 1.5\n", "doc.yaml")
    assert document == {"a": "yes", "b": "no", "c": "2025-01-01", "d": True, "e": 1.5}


@pytest.mark.parametrize(
    "text",
    ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1, "a": 2}', "1" * 5000, "{"],
)
def test_json_refusals(text: str) -> None:
    with pytest.raises(DocumentError):
        parse_json_text(text, "doc.json")


def test_non_utf8_and_oversized() -> None:
    with pytest.raises(DocumentError) as raised:
        parse_document_bytes(b'{"a": "\xff\xfe"}', "bad.json", yaml_syntax=False)
    assert codes(raised.value) == ["encoding"]
    with pytest.raises(DocumentError) as raised:
        parse_document_bytes(b" " * 3_000_000, "big.json", yaml_syntax=False)
    assert codes(raised.value) == ["too-large"]


def test_error_messages_do_not_echo_content() -> None:
    secret = "JaneDoeSecret"
    for text in (f'{{"a": "{secret}", "a": 1}}', f'{{"a": "{secret}" ]'):
        with pytest.raises(DocumentError) as raised:
            parse_json_text(text, "doc.json")
        assert secret not in str(raised.value)


@pytest.mark.parametrize(
    "text", ["<<: {a: 1}\n", "a: !!timestamp 2026-01-01\n", "a: !!set {b: null}\n", "a: !x b\n"]
)
def test_the_loader_itself_refuses_tags_and_merge_keys(text: str) -> None:
    """Behind the event scan, the loader has no constructor for a tag or a merge key either."""
    import yaml

    from recovery_screening.document.reader import strict_loader

    with pytest.raises(yaml.constructor.ConstructorError) as raised:
        yaml.load(text, Loader=strict_loader())
    assert "not allowed" in str(raised.value)
