"""Ruleset files → validated documents: safe reading, schema validation, canonical hashing,
finding documents by id and version (`versions`), and the lock that pins published ones (`lock`).
"""


def plain_text(text: str) -> str:
    """Fold a YAML block's line breaks and runs of spaces into single spaces."""
    return " ".join(text.split())
