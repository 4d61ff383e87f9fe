"""A resource's narrative (`text`): generated XHTML from what the resource itself says.

FHIR R4 asks every DomainResource for a human-readable narrative (dom-6 warns without one).
Ours is `generated`: built only from elements the resource already holds, escaped, in the
limited XHTML FHIR allows (no scripts, styles, or attributes beyond the namespace).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

XHTML = "http://www.w3.org/1999/xhtml"


class Narrative:
    """The blocks of one narrative, in order: headings, paragraphs, and lists of lines."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def heading(self, text: str) -> Narrative:
        self._parts.append(f"<h3>{html.escape(text, quote=False)}</h3>")
        return self

    def paragraph(self, text: str, *, label: str | None = None) -> Narrative:
        shown = html.escape(text, quote=False)
        if label is not None:
            shown = f"<b>{html.escape(label, quote=False)}</b>: {shown}"
        self._parts.append(f"<p>{shown}</p>")
        return self

    def items(self, lines: Iterable[str | tuple[str, Sequence[str]]]) -> Narrative:
        """A list; a line given as (text, sublines) carries its own list under it."""
        rendered = []
        for line in lines:
            if isinstance(line, tuple):
                text, sublines = line
                inner = "".join(f"<li>{html.escape(sub, quote=False)}</li>" for sub in sublines)
                nested = f"<ul>{inner}</ul>" if sublines else ""
                rendered.append(f"<li>{html.escape(text, quote=False)}{nested}</li>")
            else:
                rendered.append(f"<li>{html.escape(line, quote=False)}</li>")
        if rendered:
            self._parts.append(f"<ul>{''.join(rendered)}</ul>")
        return self

    def resource_text(self) -> dict[str, str]:
        """The R4 `text` element: status `generated` and the div."""
        return {"status": "generated", "div": f'<div xmlns="{XHTML}">{"".join(self._parts)}</div>'}
