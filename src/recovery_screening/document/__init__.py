"""Ruleset files → validated documents: safe reading, schema validation, finding documents by id."""


def plain_text(text: str) -> str:
    """Fold a YAML block's line breaks and runs of spaces into single spaces."""
    return " ".join(text.split())
